import type { DeployPath } from '../plan/classify';
import type { CiRun } from '../plan/ci';
import type { PreviewRule } from '../plan/preview';

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
  /** The commit's message tells GitHub to skip CI (`[skip ci]`…): no build will come for it. */
  ciSkipped?: string;
  ciTimeoutMs: number;
  ciPollInitialMs: number;
  ciPollMaxMs: number;
  /** How long a failed CI run may still be re-run into a success (ci.rerunWindow; absent or 0: fail at once). */
  ciRerunWindowMs?: number;
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

/** The preview deploy of one pull request commit; identifiers only, like DeployInput. */
export interface PreviewDeployInput {
  repository: string;
  pr: number;
  /** The PR's head commit to preview. */
  commit: string;
  requestedBy?: string;
  /** The PR's preview workflow, which owns its branch's overlay. */
  environmentWorkflowId: string;
  /** Whether the namespace has the Deploy* search attributes (set from the start, as some deploys end before detect). */
  searchAttributes?: boolean;
}

/** The `status` query's answer and the workflow's result. JSON-plain so it survives history. */
export interface DeployStatus {
  phase: DeployPhase;
  repository: string;
  commit: string;
  /** Previews: the pull request, its head branch, and which rule chose the tag and why. */
  pr?: number;
  branch?: string;
  rule?: PreviewRule;
  ruleReason?: string;
  path?: DeployPath;
  reason?: string;
  tag?: string;
  ciRun?: Pick<CiRun, 'id' | 'url' | 'conclusion'>;
  overlayCommit?: string | null;
  digests: Record<string, string>;
  argo?: string;
  /** The latest word on the deploy: its place in the queue, how it ended, why it was skipped. */
  note?: string;
  error?: string;
  startedAt: string;
  updatedAt: string;
  /** When each phase was entered. */
  phases: Partial<Record<DeployPhase, string>>;
}
