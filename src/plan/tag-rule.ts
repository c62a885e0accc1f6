import { prTag, shaTag } from './tags';

/**
 * The spec's rules for which image tag a deploy runs, in one pure function, recording which rule
 * chose it:
 * - `ci`: the commit's own CI build, `sha-<7>` on main, `pr-<n>-<7>` on a pull request;
 * - `running`: a k8s-only merge redeploys the tag production's overlay names at that commit;
 * - `pr-history`: a pull request push that changed no code reuses the newest PR build of the same code;
 * - `production`: a pull request that changes no code at all runs production's tag.
 */
export type TagRule = 'ci' | 'running' | 'pr-history' | 'production';

/** The facts the rules read: which target, and what detect found. */
export interface TagFacts {
  /** The pull request, for a preview; absent for production. */
  pr?: number;
  commit: string;
  path: 'code' | 'k8s';
  /** A preview: the PR's commits with the head's code, newest first, head first (see sameCodeCommits). */
  sameCode?: string[];
}

export type TagChoice =
  | { rule: 'ci'; tag: string; reason: string; waitForCi: boolean }
  | { rule: 'pr-history'; tag: string; commit: string; reason: string }
  /** Read the tag from the production overlay: at `at` (the merge commit), or on main's tip when absent. */
  | { rule: 'running' | 'production'; at?: string; reason: string };

/** Before the registry is asked: either the rule is decided, or these tags (newest first) are to be looked up. */
export type TagStart =
  { kind: 'decided'; choice: TagChoice } | { kind: 'search'; tags: Array<{ commit: string; tag: string }> };

export function tagStart(facts: TagFacts): TagStart {
  const { pr, commit, path } = facts;
  if (pr === undefined) {
    if (path === 'code') {
      const tag = shaTag(commit);
      return {
        kind: 'decided',
        choice: { rule: 'ci', tag, reason: `code changed: CI builds ${tag}`, waitForCi: true },
      };
    }
    return {
      kind: 'decided',
      choice: { rule: 'running', at: commit, reason: 'k8s-only change: redeploys the tag production runs' },
    };
  }
  const sameCode = facts.sameCode?.length ? facts.sameCode : [commit];
  if (path === 'code' && sameCode.length <= 1) {
    const tag = prTag(pr, commit);
    return {
      kind: 'decided',
      choice: { rule: 'ci', tag, reason: `this push changed code: CI builds ${tag}`, waitForCi: true },
    };
  }
  return { kind: 'search', tags: sameCode.map((c) => ({ commit: c, tag: prTag(pr, c) })) };
}

/** After the search (`found`: the first tag whose images all exist, or null). */
export function chooseTag(facts: TagFacts, found: { commit: string; tag: string } | null): TagChoice {
  const start = tagStart(facts);
  if (start.kind === 'decided') return start.choice;
  const { pr, commit } = facts as TagFacts & { pr: number };
  if (found?.commit === commit)
    return { rule: 'ci', tag: found.tag, reason: `CI already pushed ${found.tag} for this commit`, waitForCi: false };
  if (found) {
    const back = start.tags.findIndex((t) => t.commit === found.commit);
    return {
      rule: 'pr-history',
      tag: found.tag,
      commit: found.commit,
      reason: `no code changed since ${found.commit.slice(0, 7)}, ${back} commit${back === 1 ? '' : 's'} back: reusing ${found.tag}`,
    };
  }
  if (facts.path === 'code') {
    const tag = prTag(pr, commit);
    return {
      rule: 'ci',
      tag,
      reason: `no build of this code exists yet (searched ${start.tags.length} commits): waiting for CI to build ${tag}`,
      waitForCi: true,
    };
  }
  return {
    rule: 'production',
    reason: `the pull request changes no code and none of its last ${start.tags.length} commits has pr-${pr}-* images: using production's tag`,
  };
}
