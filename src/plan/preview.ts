/**
 * What a preview's detect step finds about a pull request, pure so each rule is a table test.
 * Which tag the preview runs is decided with production's rules in one place: tag-rule.ts.
 */

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
