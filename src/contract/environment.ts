import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  Candidate,
  EnvironmentState,
  Freeze,
  Outcome,
  ProductionTarget,
  RollbackRequest,
} from '../plan/environment';
import type { ReportSettings } from '../plan/report';
import type { Target } from './target';

export type { Candidate, Outcome, ProductionTarget, RollbackRequest } from '../plan/environment';

export interface EnvironmentInput {
  /** owner/name */
  repository: string;
  target: Target;
  /** Carried through continue-as-new. */
  state?: EnvironmentState;
}

/** The worker's policy for one target, read at each run of its environment so a config change applies. */
export interface TargetSettings {
  /** The Argo CD application that runs the target. */
  application: string;
  /** The branch the application tracks, when not the main branch (a preview: its PR branch, or preview.branch). */
  trackedBranch: string | null;
  /** A preview: the deployer's own branch (preview.branch filled in), or null: the PR's own branch. */
  previewBranch: string | null;
  syncTimeoutMs: number;
  autoRollback: boolean;
  continueAsNewAfter: number;
  searchAttributes: boolean;
  taskQueue: string;
  /** What to report for the target's rollbacks and close (absent: nothing). */
  report?: ReportSettings;
}

/** Ask for a deploy of a commit (production), or of a pull request's head (a preview; no commit: the head GitHub reports now). */
export interface DeployRequest {
  commit?: string;
  /** The push's `before`: production diffs against it; a preview tells its own overlay push apart by it. */
  before?: string;
  requestedBy?: string;
}

/** What the environment did with a request. */
export interface RequestResult {
  /** The deploy that runs for it, when one does. */
  workflowId?: string;
  /** false: that deploy was already running or done (a redelivery), or nothing was started (`note` says why). */
  started: boolean;
  note: string;
}

/** What the environment is doing now, for `deployctl status` and the Web UI. */
export interface EnvironmentView {
  repository: string;
  target: Target;
  /** What the target runs, as far as this workflow knows. */
  current?: EnvironmentState['current'];
  applying?: EnvironmentState['applying'];
  queue: Array<Candidate & { state: 'queued' | 'held'; why?: string }>;
  paused?: Freeze;
  held?: Freeze & { tag: string };
  pendingRollbacks: RollbackRequest[];
  requests: EnvironmentState['requests'];
  outcomes: Outcome[];
  /** A preview: the newest pushed head and its deploy. */
  latest?: EnvironmentState['latest'];
  /** A preview: when and how its pull request closed. */
  closed?: EnvironmentState['closed'];
}

export interface PauseRequest {
  reason: string;
  by: string;
}

/** Relay → environment: asynchronous, durable even while no worker runs. */
export const deployRequestedSignal = defineSignal<[DeployRequest]>('deployRequested');
/** deployctl → environment: the same request, answered with what was started. */
export const requestDeployUpdate = defineUpdate<RequestResult, [DeployRequest]>('requestDeploy');
/** A deploy whose checks passed hands itself over for its turn at the overlay (again, if no verdict came in time). */
export const candidateReadySignal = defineSignal<[Candidate]>('candidateReady');
/** Kept as a signal: the Temporal Web UI sends signals. The update waits for the rollback's outcome. */
export const rollbackSignal = defineSignal<[RollbackRequest]>('rollback');
export const rollbackUpdate = defineUpdate<Outcome, [RollbackRequest]>('rollback');
export const pauseSignal = defineSignal<[PauseRequest]>('pause');
export const pauseUpdate = defineUpdate<EnvironmentView, [PauseRequest]>('pause');
/** Lifts a pause and a rollback's hold. */
export const resumeSignal = defineSignal<[{ by: string }]>('resume');
export const resumeUpdate = defineUpdate<EnvironmentView, [{ by: string }]>('resume');
/** Rollback targets from the overlay's history, each checked against the registry. */
export const targetsUpdate = defineUpdate<ProductionTarget[], [{ limit?: number }]>('targets');
/** The pull request closed: the preview's deploys are cancelled and its environment ends. */
export const pullRequestClosedSignal = defineSignal<[{ by: string; merged?: boolean }]>('pullRequestClosed');
export const environmentStatusQuery = defineQuery<EnvironmentView>('environmentStatus');
