/**
 * How a preview environment answers a push to its pull request, as pure decisions over plain
 * data: the workflow gathers the facts (its state, GitHub's reads of the PR) and acts on the
 * answer. Each case is a table test (test/unit/preview-request.test.ts).
 */

/** What GitHub says about the pull request now (activities/pulls.ts reads it). */
export interface PullFacts {
  state: 'open' | 'closed';
  merged: boolean;
  headSha: string;
  headRef: string;
  fork: boolean;
  headRepository?: string | null;
  headIsMain: boolean;
}

/** A push (the relay) or a person (`deployctl preview`) asks for the head to be previewed. */
export interface PreviewRequestFacts {
  /** The pushed head; absent: whatever GitHub reports as the head. */
  commit?: string;
  /** The head before the push (`synchronize`), which tells the deployer's own overlay push apart. */
  before?: string;
}

/** What the preview environment knows when it decides. */
export interface PreviewStateFacts {
  /** The newest requested head and its deploy. */
  latest?: { commit: string; workflowId: string; at: string };
  /** The deployer's own overlay commits on the branch and the commits they sit on. */
  ownCommits: Array<{ overlayCommit: string; commit: string }>;
  /** Commits whose preview was deployed, with when (to tell a redelivery apart). */
  deployed: Array<{ commit: string; at: string }>;
  /** The change being committed now, if any. */
  committing?: { commit: string };
}

export type PreviewDecision =
  /** Our own overlay push may still be on its way back: wait until the commit step is done, then decide. */
  | { kind: 'wait-for-commit' }
  /** Ask GitHub for the pull request (again after `delayMs`: GitHub may report a new head a moment after the event). */
  | { kind: 'read'; delayMs: number }
  | { kind: 'ignore'; commit: string; message: string }
  /** The pull request is closed: close the preview instead of deploying (a late event). */
  | { kind: 'close'; merged: boolean }
  /** A redelivered event of the head the preview already runs. */
  | { kind: 'noop'; commit: string; message: string }
  /** Start the head's preview deploy; `supersedes` is the older deploy it replaces. */
  | { kind: 'deploy'; commit: string; supersedes?: { commit: string; workflowId: string } };

/** GitHub may lag behind its own webhook: one re-read after this long before a push counts as stale. */
export const HEAD_REREAD_MS = 5_000;

/**
 * Decides one request. `reads` are the pull request reads made for it so far, oldest first; a
 * `read` answer asks for one more and the function is called again with it.
 */
export function decidePreviewRequest(
  state: PreviewStateFacts,
  request: PreviewRequestFacts,
  reads: PullFacts[],
  pr: number,
): PreviewDecision {
  if (state.committing && (!request.before || request.before === state.committing.commit) && reads.length === 0) {
    return { kind: 'wait-for-commit' };
  }
  if (!request.commit && reads.length === 0) return { kind: 'read', delayMs: 0 };
  let commit = request.commit?.toLowerCase() ?? reads[0].headSha;
  const own = state.ownCommits.find((c) => c.overlayCommit === commit);
  if (own && request.commit) {
    return {
      kind: 'ignore',
      commit,
      message: `${short(commit)} is the deployer's own overlay commit for ${short(own.commit)}: nothing to deploy`,
    };
  }
  // Asked for "the head" while the head is our overlay commit: that preview is of the commit beneath it.
  if (own) commit = own.commit;

  // A push on top of the head this workflow knows is newer by construction; anything else (events
  // out of order, a redelivery, a person naming a commit) is checked against GitHub's head.
  const latest = state.latest?.commit;
  const before = request.before?.toLowerCase();
  const ourOverlayOfLatest = state.ownCommits.some((c) => c.overlayCommit === before && c.commit === latest);
  const successor = before !== undefined && (before === latest || ourOverlayOfLatest);
  if (commit !== latest && !successor) {
    const pull = reads.at(-1);
    if (!pull) return { kind: 'read', delayMs: 0 };
    const head = isHead(state, pull.headSha, commit);
    if (!head && reads.length < 2) return { kind: 'read', delayMs: HEAD_REREAD_MS };
    if (pull.state === 'closed') return { kind: 'close', merged: pull.merged };
    if (!head) {
      return {
        kind: 'ignore',
        commit,
        message: `${short(commit)} is not the head of #${pr} (${short(pull.headSha)} is): the newer push has its own preview deploy`,
      };
    }
  }
  // What GitHub said last wins over a push that looked current: a closed pull request gets no deploy.
  const last = reads.at(-1);
  if (last?.state === 'closed') return { kind: 'close', merged: last.merged };
  // A redelivered event of the head the preview runs changes nothing. Otherwise the head's deploy is
  // started: one that runs already is found by its id (a no-op), one that failed runs again. A force-push
  // that dropped our overlay commit (`before` is it) is a real change: the head is previewed again.
  const overlayDropped = ourOverlayOfLatest && commit === latest;
  if (
    commit === latest &&
    !overlayDropped &&
    state.deployed.some((d) => d.commit === commit && d.at >= state.latest!.at)
  ) {
    return { kind: 'noop', commit, message: `the preview already runs ${short(commit)}` };
  }
  const previous = state.latest;
  return { kind: 'deploy', commit, ...(previous && previous.commit !== commit ? { supersedes: previous } : {}) };
}

/** A `closed` event: checked against GitHub, since a late or redelivered one may belong to a reopened PR. */
export function decideClose(
  pull: Pick<PullFacts, 'state' | 'merged'> | undefined,
  merged: boolean,
): { close: false } | { close: true; merged: boolean } {
  if (pull?.state === 'open') return { close: false };
  return { close: true, merged: pull?.merged ?? merged };
}

/** Why a pull request gets no preview at all, or undefined when it gets one. */
export function previewSkip(pull: PullFacts, pr: number): { reason: string; note: string } | undefined {
  if (pull.fork) {
    return {
      reason: 'fork',
      note: `#${pr} comes from ${pull.headRepository ?? 'a deleted fork'}: previews run branches of this repository only (a fork's branch cannot be written, and its code is untrusted), so nothing is deployed`,
    };
  }
  if (pull.state === 'closed') return { reason: 'closed', note: `#${pr} is closed: no preview` };
  if (pull.headIsMain) {
    return {
      reason: 'main-branch',
      note: `#${pr} proposes ${pull.headRef} itself: the deployer never commits a preview onto the main branch`,
    };
  }
  return undefined;
}

/** The PR's head is the commit, or our overlay commit on top of it. */
function isHead(state: PreviewStateFacts, head: string, commit: string): boolean {
  return head === commit || state.ownCommits.some((c) => c.overlayCommit === head && c.commit === commit);
}

const short = (sha: string) => sha.slice(0, 7);
