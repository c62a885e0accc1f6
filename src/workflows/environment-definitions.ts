import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Candidate, EnvironmentState, Freeze, ProductionTarget, RollbackRequest } from '../plan/environment';

/** One long-running workflow per environment owns its overlay: `env-production`. */
export function environmentWorkflowId(environment: string): string {
  return `env-${environment}`;
}

export interface EnvironmentInput {
  environment: string;
  /** owner/name */
  repository: string;
  /** Carried through continue-as-new. */
  state?: EnvironmentState;
}

export interface DeployRequest {
  commit: string;
  before?: string;
  requestedBy?: string;
}

/** What the environment is doing now, for `deployctl status --env` and the Web UI. */
export interface EnvironmentView {
  environment: string;
  production?: { tag: string; since: string; by?: string };
  applying?: {
    kind: 'deploy' | 'rollback';
    tag: string;
    commit?: string;
    workflowId?: string;
    phase: string;
    since: string;
  };
  queue: Array<Candidate & { state: 'queued' | 'held'; why?: string }>;
  paused?: Freeze;
  held?: Freeze & { tag: string };
  pendingRollbacks: RollbackRequest[];
  requests: NonNullable<EnvironmentState['requests']>;
  outcomes: EnvironmentState['outcomes'];
}

/** Starters (relay, deployctl) signal-with-start this, then start the commit's deploy. */
export const deployRequestedSignal = defineSignal<[DeployRequest]>('deployRequested');
/** A deploy whose checks passed hands itself over for its turn at the overlay. */
export const candidateReadySignal = defineSignal<[Candidate]>('candidateReady');
export const rollbackSignal = defineSignal<[RollbackRequest]>('rollback');
export const pauseSignal = defineSignal<[{ reason: string; by: string }]>('pause');
/** Lifts a pause and a rollback's hold. */
export const resumeSignal = defineSignal<[{ by: string }]>('resume');
export const environmentStatusQuery = defineQuery<EnvironmentView>('environmentStatus');
/** Rollback targets from the overlay's history, each checked against the registry (I/O, hence an update). */
export const targetsUpdate = defineUpdate<ProductionTarget[], [{ limit?: number }]>('targets');

/** Environment → deploy: where the deploy stands in the queue, and how it ended. */
export interface QueueNotice {
  phase: 'queued' | 'held' | 'committing' | 'syncing';
  note: string;
  /** With `syncing`: the overlay commit Argo CD must reach (null when nothing was committed). */
  overlayCommit?: string | null;
}
export interface Verdict {
  outcome: 'deployed' | 'superseded' | 'failed';
  message: string;
  overlayCommit?: string | null;
  argo?: string;
}
export const queueNoticeSignal = defineSignal<[QueueNotice]>('queueNotice');
export const verdictSignal = defineSignal<[Verdict]>('verdict');
