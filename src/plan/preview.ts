import { prTag } from './tags';

/**
 * The rules of a preview, pure so each is a table test. A preview runs the images of the pull
 * request's code: a push that changed code waits for its own CI build; a push that changed none
 * reuses the newest PR build of the same code; a PR that changes no code at all may fall back to
 * the tag production runs.
 */

/** Which rule chose the preview's tag; recorded on the deploy and in its overlay commit. */
export type PreviewRule = 'ci' | 'pr-history' | 'production';

export interface PullCommit {
  sha: string;
  /** The deployer's own overlay commit (trailer): CI skipped it, it has no images. */
  overlay: boolean;
}

/** What detection found: the PR against its base, and which commits have the head's code. */
export interface PreviewDetection {
  /** `code`: the PR changes code against its base; `k8s`: only manifests; `none`: nothing deployable. */
  path: 'code' | 'k8s' | 'none';
  /**
   * The PR's commits, newest first, whose code is the head's (no code file differs), head first,
   * the deployer's own overlay commits left out. Stops at the first commit with other code.
   */
  sameCode: string[];
}

export type PreviewStart =
  | { kind: 'wait-for-ci'; tag: string; reason: string }
  | { kind: 'search'; tags: Array<{ commit: string; tag: string }> };

export type PreviewChoice =
  | { rule: 'ci'; tag: string; commit: string; reason: string; waitForCi: boolean }
  | { rule: 'pr-history'; tag: string; commit: string; reason: string }
  | { rule: 'production'; reason: string };

/** A git branch name the deployer accepts: no leading dash, no `..`, a conservative character set. */
export const BRANCH_NAME = /^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,255}$/;

/** A per-PR name from its configured template: the Argo CD application, the deployer's preview branch. */
export function previewName(template: string, pr: number): string {
  return template.replace(/\{number\}/g, String(pr));
}

/**
 * Newest-first PR commits, filtered to the head's code, capped at `depth`. A commit is left out
 * when it is the deployer's own; the walk stops at the first commit whose code differs from the
 * head's (`differs` answers for one commit).
 */
export function sameCodeCommits(
  newestFirst: PullCommit[],
  head: string,
  differs: (sha: string) => boolean,
  depth: number,
): string[] {
  const same: string[] = [];
  for (const commit of newestFirst) {
    if (same.length >= depth) break;
    if (commit.overlay && commit.sha !== head) continue;
    if (commit.sha !== head && differs(commit.sha)) break;
    same.push(commit.sha);
  }
  if (!same.includes(head)) same.unshift(head);
  return same.slice(0, depth);
}

/** Before the registry is asked: a push that changed code can only use its own build. */
export function previewStart(pr: number, head: string, detection: PreviewDetection): PreviewStart {
  const tag = prTag(pr, head);
  if (detection.path === 'code' && detection.sameCode.length <= 1) {
    return { kind: 'wait-for-ci', tag, reason: `this push changed code: CI builds ${tag}` };
  }
  return { kind: 'search', tags: detection.sameCode.map((commit) => ({ commit, tag: prTag(pr, commit) })) };
}

/** After the search: the newest build of the same code, else CI (code PR) or production's tag (no code). */
export function previewChoice(
  pr: number,
  head: string,
  detection: PreviewDetection,
  found: { commit: string; tag: string } | null,
): PreviewChoice {
  const start = previewStart(pr, head, detection);
  if (start.kind === 'wait-for-ci')
    return { rule: 'ci', tag: start.tag, commit: head, reason: start.reason, waitForCi: true };
  if (found?.commit === head)
    return {
      rule: 'ci',
      tag: found.tag,
      commit: head,
      reason: `CI already pushed ${found.tag} for this commit`,
      waitForCi: false,
    };
  if (found) {
    const back = detection.sameCode.indexOf(found.commit);
    return {
      rule: 'pr-history',
      tag: found.tag,
      commit: found.commit,
      reason: `no code changed since ${found.commit.slice(0, 7)}, ${back} commit${back === 1 ? '' : 's'} back: reusing ${found.tag}`,
    };
  }
  if (detection.path === 'code') {
    const tag = prTag(pr, head);
    return {
      rule: 'ci',
      tag,
      commit: head,
      reason: `no build of this code exists yet (searched ${start.tags.length} commits): waiting for CI to build ${tag}`,
      waitForCi: true,
    };
  }
  return {
    rule: 'production',
    reason: `the pull request changes no code and none of its last ${start.tags.length} commits has pr-${pr}-* images: using production's tag`,
  };
}
