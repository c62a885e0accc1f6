import { chooseTag, tagStart, type TagChoice, type TagFacts, type TagStart } from '../../src/plan/tag-rule';
import { B, C, D } from './builders';

type Found = { commit: string; tag: string } | null;

/** Pull request #7's push of head D. */
const preview = (path: TagFacts['path'], sameCode?: string[]): TagFacts => ({ pr: 7, commit: D, path, sameCode });
/** A merge of D to main. */
const production = (path: TagFacts['path'], over: Partial<TagFacts> = {}): TagFacts => ({ commit: D, path, ...over });

describe('tagStart: decided before the registry is asked, or which tags to look up', () => {
  test.each<[string, TagFacts, TagStart]>([
    [
      'production, a code merge: its own CI build sha-<7>',
      production('code'),
      {
        kind: 'decided',
        choice: { rule: 'ci', tag: 'sha-ddddddd', reason: 'code changed: CI builds sha-ddddddd', waitForCi: true },
      },
    ],
    [
      'production, a k8s-only merge: the tag the overlay names at that commit',
      production('k8s'),
      {
        kind: 'decided',
        choice: { rule: 'running', at: D, reason: 'k8s-only change: redeploys the tag production runs' },
      },
    ],
    [
      'production ignores same-code commits (they are a preview fact)',
      production('code', { sameCode: [D, C] }),
      {
        kind: 'decided',
        choice: { rule: 'ci', tag: 'sha-ddddddd', reason: 'code changed: CI builds sha-ddddddd', waitForCi: true },
      },
    ],
    [
      'a preview push that changed code: its own CI build pr-<n>-<7>',
      preview('code', [D]),
      {
        kind: 'decided',
        choice: {
          rule: 'ci',
          tag: 'pr-7-ddddddd',
          reason: 'this push changed code: CI builds pr-7-ddddddd',
          waitForCi: true,
        },
      },
    ],
    [
      'a preview push without same-code facts counts as the head alone',
      preview('code'),
      {
        kind: 'decided',
        choice: {
          rule: 'ci',
          tag: 'pr-7-ddddddd',
          reason: 'this push changed code: CI builds pr-7-ddddddd',
          waitForCi: true,
        },
      },
    ],
    [
      'a preview push that changed no code: every same-code commit, newest first, as pr-<n>-<sha>',
      preview('code', [D, C]),
      {
        kind: 'search',
        tags: [
          { commit: D, tag: 'pr-7-ddddddd' },
          { commit: C, tag: 'pr-7-ccccccc' },
        ],
      },
    ],
    [
      'a PR that changes no code: its commits are searched for PR builds',
      preview('k8s', [D, C]),
      {
        kind: 'search',
        tags: [
          { commit: D, tag: 'pr-7-ddddddd' },
          { commit: C, tag: 'pr-7-ccccccc' },
        ],
      },
    ],
    [
      "a PR that changes no code, head alone: the head's build is still looked up",
      preview('k8s', [D]),
      { kind: 'search', tags: [{ commit: D, tag: 'pr-7-ddddddd' }] },
    ],
    [
      'an empty same-code list counts as the head alone',
      preview('k8s', []),
      { kind: 'search', tags: [{ commit: D, tag: 'pr-7-ddddddd' }] },
    ],
  ])('%s', (_, facts, expected) => {
    expect(tagStart(facts)).toEqual(expected);
  });
});

describe('chooseTag: the rule and the tag, after the search', () => {
  test.each<[string, TagFacts, Found, TagChoice]>([
    [
      'a preview push that changed code waits for its own CI build',
      preview('code', [D]),
      null,
      {
        rule: 'ci',
        tag: 'pr-7-ddddddd',
        reason: 'this push changed code: CI builds pr-7-ddddddd',
        waitForCi: true,
      },
    ],
    [
      'a push that changed no code reuses the newest build of the same code',
      preview('code', [D, C, B]),
      { commit: B, tag: 'pr-7-bbbbbbb' },
      {
        rule: 'pr-history',
        tag: 'pr-7-bbbbbbb',
        commit: B,
        reason: 'no code changed since bbbbbbb, 2 commits back: reusing pr-7-bbbbbbb',
      },
    ],
    [
      "the head's own build found: the CI rule, no wait",
      preview('code', [D, C]),
      { commit: D, tag: 'pr-7-ddddddd' },
      { rule: 'ci', tag: 'pr-7-ddddddd', reason: 'CI already pushed pr-7-ddddddd for this commit', waitForCi: false },
    ],
    [
      'same code but no build yet: wait for CI rather than run other code',
      preview('code', [D, C]),
      null,
      {
        rule: 'ci',
        tag: 'pr-7-ddddddd',
        reason: 'no build of this code exists yet (searched 2 commits): waiting for CI to build pr-7-ddddddd',
        waitForCi: true,
      },
    ],
    [
      "a PR without code changes and no PR builds: production's tag, read on main's tip",
      preview('k8s', [D, C]),
      null,
      {
        rule: 'production',
        reason:
          "the pull request changes no code and none of its last 2 commits has pr-7-* images: using production's tag",
      },
    ],
    [
      'a PR without code changes that has a PR build uses it (one commit back)',
      preview('k8s', [D, C]),
      { commit: C, tag: 'pr-7-ccccccc' },
      {
        rule: 'pr-history',
        tag: 'pr-7-ccccccc',
        commit: C,
        reason: 'no code changed since ccccccc, 1 commit back: reusing pr-7-ccccccc',
      },
    ],
    [
      "a PR without code changes whose head has a PR build: the head's build, no wait",
      preview('k8s', [D]),
      { commit: D, tag: 'pr-7-ddddddd' },
      { rule: 'ci', tag: 'pr-7-ddddddd', reason: 'CI already pushed pr-7-ddddddd for this commit', waitForCi: false },
    ],
    [
      'production, a code merge: rule ci, tag sha-<7>, waits for CI',
      production('code'),
      null,
      { rule: 'ci', tag: 'sha-ddddddd', reason: 'code changed: CI builds sha-ddddddd', waitForCi: true },
    ],
    [
      'production, a k8s-only merge: rule running, at the merge commit',
      production('k8s'),
      null,
      { rule: 'running', at: D, reason: 'k8s-only change: redeploys the tag production runs' },
    ],
    [
      'a decided start ignores found: production code still waits for its CI build',
      production('code'),
      { commit: C, tag: 'sha-ccccccc' },
      { rule: 'ci', tag: 'sha-ddddddd', reason: 'code changed: CI builds sha-ddddddd', waitForCi: true },
    ],
    [
      "a decided start ignores found: production k8s still reads the overlay's tag",
      production('k8s'),
      { commit: D, tag: 'sha-ddddddd' },
      { rule: 'running', at: D, reason: 'k8s-only change: redeploys the tag production runs' },
    ],
    [
      'a decided start ignores found: a preview code push still waits for its CI build',
      preview('code', [D]),
      { commit: C, tag: 'pr-7-ccccccc' },
      {
        rule: 'ci',
        tag: 'pr-7-ddddddd',
        reason: 'this push changed code: CI builds pr-7-ddddddd',
        waitForCi: true,
      },
    ],
  ])('%s', (_, facts, found, expected) => {
    expect(chooseTag(facts, found)).toEqual(expected);
  });

  test("the production rule carries no commit: the tag is read on main's tip", () => {
    expect(chooseTag(preview('k8s', [D, C]), null)).not.toHaveProperty('at');
  });
});
