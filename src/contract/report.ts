import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ReportEvent, ReportSettings } from '../plan/report';
import type { Target } from './target';

export type { ReportEvent, ReportSettings, ReportStage } from '../plan/report';

/** What one reporter reports on: a deploy, a rollback, or a preview's close. */
export interface ReportSubject {
  /** owner/name */
  repository: string;
  target: Target;
  kind: 'deploy' | 'rollback' | 'close';
  /** The deploy's workflow id, or the rollback's id: written into the Deployment's payload, to find it again. */
  workflowId: string;
  /** The workflow run the Temporal Web UI links go to (a rollback's and a close's: the environment's). */
  link: { workflowId: string; runId: string };
  /** The Deployment's ref: the merge commit, the PR head, or the commit a rollback goes back to. */
  commit: string;
  requestedBy?: string;
  /**
   * Orders writes to the one preview comment: a write with an older key than the comment's is
   * dropped (a superseded push's late word). The deploy's start time, or the close's.
   */
  order: string;
}

/** The reporter workflow's input: the subject, what to report, and the events so far (the first one at least). */
export interface ReportInput {
  subject: ReportSubject;
  settings: ReportSettings;
  events: ReportEvent[];
}

/** What the reporter did, for the record; it never fails (a sink or GitHub that is down is a note). */
export interface ReportResult {
  deploymentId?: number;
  statuses: string[];
  commentId?: number;
  /** Sinks that took the notification, as `sink:outcome`. */
  delivered: string[];
  /** What could not be reported, and why. */
  notes: string[];
}

/** Deploy or environment → its reporter: the next thing that happened, in order. */
export const reportEventSignal = defineSignal<[ReportEvent]>('reportEvent');
export const reportQuery = defineQuery<ReportResult>('report');
