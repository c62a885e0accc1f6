import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { CiRun } from '../plan/ci';
import type { DeployPath } from '../plan/classify';
import type { TagRule } from '../plan/tag-rule';
import type { ReportSettings } from '../plan/report';
import type { Verdict } from '../plan/verdict';
import type { Target } from './target';

export type { Verdict, VerdictReason } from '../plan/verdict';

export type DeployPhase =
  | 'detecting'
  | 'waiting-for-ci'
  | 'validating'
  | 'queued'
  | 'held'
  | 'committing'
  | 'syncing'
  | 'succeeded'
  | 'superseded'
  | 'failed'
  | 'skipped'
  | 'cancelled';

/** The deploy workflow's input: identifiers only, never secrets (they come from the worker's environment). */
export interface DeployInput {
  /** owner/name */
  repository: string;
  target: Target;
  /** The merge commit on main, or the pull request's head commit. */
  commit: string;
  /** Production: the push's `before` commit; absent or all zeros compares with the commit's parent. */
  before?: string;
  /** Who or what asked (a webhook delivery, a person with deployctl), for the record. */
  requestedBy?: string;
  /** The environment workflow that owns the target's overlay; the deploy takes its turn there. */
  environmentWorkflowId: string;
  /** Whether the namespace has the Deploy* search attributes (known from the start: some deploys end before detect). */
  searchAttributes?: boolean;
}

/** What the detect step decided, plus the worker's timing policy for this deploy. */
export interface DeployPlan {
  path: DeployPath;
  reason: string;
  images: string[];
  changedFiles: number;
  /** The repository's web page, for links in the Web UI. */
  repositoryUrl: string;
  /** Whether the namespace has the Deploy* search attributes to upsert (temporal.searchAttributes). */
  searchAttributes: boolean;
  /** The commit's message tells GitHub to skip CI (`[skip ci]`…): no build will come for it. */
  ciSkipped?: string;
  ciTimeoutMs: number;
  ciPollInitialMs: number;
  ciPollMaxMs: number;
  /** How long a failed CI run may still be re-run into a success (ci.rerunWindow; absent or 0: fail at once). */
  ciRerunWindowMs?: number;
  syncTimeoutMs: number;
  /** How long the deploy waits for its environment's verdict before handing itself over again (environment.reannounceAfter). */
  reannounceMs: number;
  /** A preview: the PR's commits, newest first, whose code is the head's (see plan/preview.ts). */
  sameCode?: string[];
  /** A preview: the PR's head branch. */
  headRef?: string;
  /** What to report where developers look; absent (a plan from before reporting existed) or empty: nothing. */
  report?: ReportSettings;
}

export interface ValidatedImage {
  name: string;
  /** registry-host/repository:tag */
  reference: string;
  digest: string;
}

export interface OverlayUpdate {
  /** committed (now or by an earlier attempt of the same change), unchanged (already at the tag), or superseded (older code than production's, or a branch that moved on). */
  outcome: 'committed' | 'unchanged' | 'superseded';
  /** The deployer's overlay commit, or null when nothing was committed. */
  overlayCommit: string | null;
  /** The commit Argo CD must have synced (the overlay commit, else the merge commit). */
  revision: string;
  /** What production runs, when the change was superseded by it. */
  current?: { tag: string; commit: string };
}

/** The `status` query's answer and the workflow's result. JSON-plain so it survives history. */
export interface DeployStatus {
  phase: DeployPhase;
  repository: string;
  target?: Target;
  commit: string;
  /** Previews: the pull request and its head branch. */
  pr?: number;
  branch?: string;
  /** Which tag rule chose the tag, and why. */
  rule?: TagRule;
  ruleReason?: string;
  path?: DeployPath;
  reason?: string;
  tag?: string;
  ciRun?: Pick<CiRun, 'id' | 'url' | 'conclusion'>;
  overlayCommit?: string | null;
  digests: Record<string, string>;
  /** What Argo CD reports now, while the deploy waits for it, and how it ended. */
  argo?: string;
  /** The latest word on the deploy: its place in the queue, how it ended, why it was skipped. */
  note?: string;
  /** How the deploy's turn at the overlay ended, when it had one. */
  verdict?: Pick<Verdict, 'outcome' | 'reason'>;
  error?: string;
  startedAt: string;
  updatedAt: string;
  /** When each phase was entered. */
  phases: Partial<Record<DeployPhase, string>>;
}

/** Environment → deploy: where the deploy stands in the queue, and what Argo CD says meanwhile. */
export interface QueueNotice {
  phase: 'queued' | 'held' | 'committing' | 'syncing';
  note: string;
  /** With `syncing`: the overlay commit Argo CD must reach (null when nothing was committed). */
  overlayCommit?: string | null;
  /** With `syncing`: what Argo CD reports now. */
  argo?: string;
}

/** Sent by the webhook relay when the commit's CI workflow run completes. */
export const ciCompletedSignal = defineSignal<[CiRun]>('ciCompleted');
export const statusQuery = defineQuery<DeployStatus>('status');
/** Environment → deploy. */
export const queueNoticeSignal = defineSignal<[QueueNotice]>('queueNotice');
export const verdictSignal = defineSignal<[Verdict]>('verdict');
/** Environment → a preview deploy still running its checks: a newer push took over. */
export const supersededSignal = defineSignal<[{ by: string }]>('superseded');
