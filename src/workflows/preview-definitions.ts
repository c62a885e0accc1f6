import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { PreviewRule } from '../plan/preview';

const slug = (repository: string) => repository.replace('/', '-');

/** One preview deploy per repository, pull request and commit: a redelivered event is a no-op. */
export function previewDeployWorkflowId(repository: string, pr: number, commit: string): string {
  return `preview-${slug(repository)}-pr-${pr}-${commit.toLowerCase()}`;
}

/** One workflow per open pull request owns its preview: `preview-<owner>-<repo>-pr-<n>`. */
export function previewEnvironmentWorkflowId(repository: string, pr: number): string {
  return `preview-${slug(repository)}-pr-${pr}`;
}

export interface PreviewEnvironmentInput {
  repository: string;
  pr: number;
  /** Carried through continue-as-new. */
  state?: PreviewState;
}

/** A push to the pull request (or `deployctl preview`): preview its head. */
export interface PreviewRequest {
  /** The head commit; absent: whatever GitHub says the head is now. */
  commit?: string;
  /** The head before this push (`synchronize`), which tells the deployer's own overlay push apart. */
  before?: string;
  requestedBy?: string;
}

/** A preview deploy whose checks passed hands itself over for its turn at the branch's overlay. */
export interface PreviewCandidate {
  workflowId: string;
  commit: string;
  tag: string;
  rule: PreviewRule;
  branch: string;
  readyAt: string;
}

export interface PreviewOutcome {
  kind: 'deployed' | 'superseded' | 'failed' | 'ignored' | 'gone';
  commit?: string;
  tag?: string;
  rule?: PreviewRule;
  workflowId?: string;
  message: string;
  at: string;
}

/** Everything the PR's preview workflow carries through continue-as-new. JSON-plain. */
export interface PreviewState {
  /** Requests not handled yet, oldest first. */
  inbox: PreviewRequest[];
  /** Deploys ready for the overlay, oldest first. */
  candidates: PreviewCandidate[];
  /** The newest requested head and its deploy; older deploys are superseded. */
  latest?: { commit: string; workflowId: string; at: string };
  /** What the preview runs, as far as this workflow knows. */
  preview?: { tag: string; rule: PreviewRule; commit: string; overlayCommit: string | null; since: string };
  /** The deployer's own overlay commits on the branch, so their `synchronize` starts nothing. */
  ownCommits: Array<{ overlayCommit: string; commit: string }>;
  outcomes: PreviewOutcome[];
  handled: number;
  /** A `closed` event not yet checked against GitHub. */
  closeRequest?: { by: string; merged: boolean; at: string };
  closed?: { by: string; merged: boolean; at: string };
}

/** What `deployctl status --pr` and the Web UI show. */
export interface PreviewView {
  repository: string;
  pr: number;
  latest?: PreviewState['latest'];
  applying?: { commit: string; tag: string; workflowId: string; phase: 'committing' | 'syncing'; since: string };
  preview?: PreviewState['preview'];
  waiting: number;
  outcomes: PreviewOutcome[];
  closed?: PreviewState['closed'];
}

export const previewRequestedSignal = defineSignal<[PreviewRequest]>('previewRequested');
export const pullRequestClosedSignal = defineSignal<[{ by: string; merged?: boolean }]>('pullRequestClosed');
export const previewReadySignal = defineSignal<[PreviewCandidate]>('previewReady');
/** PR workflow → an older preview deploy: a newer push took over. */
export const supersededSignal = defineSignal<[{ by: string }]>('superseded');
export const previewStatusQuery = defineQuery<PreviewView>('previewStatus');
