import type { DeployPath } from '../plan/classify';
import type { CiRun } from '../plan/ci';

export type DeployPhase = 'detecting' | 'waiting-for-ci' | 'validating' | 'queued' | 'held' | 'committing' | 'syncing' | 'succeeded' | 'superseded' | 'failed' | 'skipped';

/** Workflow input: identifiers only, never secrets (they come from the worker's environment). */
export interface DeployInput {
  /** owner/name */
  repository: string;
  /** The merge commit on main to deploy. */
  commit: string;
  /** The push's `before` commit; absent or all zeros compares with the commit's parent. */
  before?: string;
  /** Who or what started it (webhook delivery, a person with deployctl), for the record. */
  requestedBy?: string;
  /** The environment workflow that owns the overlay; the deploy takes its turn there. */
  environmentWorkflowId: string;
}

/** What the detect step decided, plus the worker's timing policy for this deploy. */
export interface DeployPlan {
  path: DeployPath;
  reason: string;
  images: string[];
  /** `sha-<commit>` for code changes; Path 2 reads the tag later. */
  tag?: string;
  changedFiles: number;
  /** The repository's web page, for links in the Web UI. */
  repositoryUrl: string;
  /** Whether the namespace has the Deploy* search attributes to upsert (temporal.searchAttributes). */
  searchAttributes: boolean;
  ciTimeoutMs: number;
  ciPollInitialMs: number;
  ciPollMaxMs: number;
  syncTimeoutMs: number;
}

export interface ValidatedImage {
  name: string;
  /** registry-host/repository:tag */
  reference: string;
  digest: string;
}

export interface OverlayUpdate {
  /** committed (now or by an earlier attempt of the same change), unchanged (already at the tag), or superseded (older code than production's). */
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
  commit: string;
  path?: DeployPath;
  reason?: string;
  tag?: string;
  ciRun?: Pick<CiRun, 'id' | 'url' | 'conclusion'>;
  overlayCommit?: string | null;
  digests: Record<string, string>;
  argo?: string;
  error?: string;
  startedAt: string;
  updatedAt: string;
  /** When each phase was entered. */
  phases: Partial<Record<DeployPhase, string>>;
}
