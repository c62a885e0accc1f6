import {
  previewChoice,
  previewName,
  previewStart,
  sameCodeCommits,
  type PreviewDetection,
  type PullCommit,
} from '../../src/plan/preview';

const sha = (c: string) => c.repeat(40);
const [A, B, C, D, O] = ['a', 'b', 'c', 'd', 'e'].map(sha) as [string, string, string, string, string];
const commit = (s: string, overlay = false): PullCommit => ({ sha: s, overlay });

describe("sameCodeCommits: which PR builds have the head's code", () => {
  test.each<[string, PullCommit[], string[], string[]]>([
    ['the head alone when the commit before it changed code', [commit(D), commit(C)], [C], [D]],
    [
      'walks back over commits with the same code, stops at the first that differs',
      [commit(D), commit(C), commit(B), commit(A)],
      [A],
      [D, C, B],
    ],
    [
      "skips the deployer's own overlay commits (no images, no CI)",
      [commit(D), commit(O, true), commit(C)],
      [],
      [D, C],
    ],
    ['the head is first even when GitHub does not list it yet', [commit(C)], [], [D, C]],
    ['an empty list still yields the head', [], [], [D]],
  ])('%s', (_, commits, differing, expected) => {
    expect(sameCodeCommits(commits, D, (s) => differing.includes(s), 30)).toEqual(expected);
  });

  test('stops at the search depth', () => {
    expect(sameCodeCommits([commit(D), commit(C), commit(B), commit(A)], D, () => false, 2)).toEqual([D, C]);
  });
});

describe('preview tag rules', () => {
  const detection = (path: PreviewDetection['path'], sameCode: string[]): PreviewDetection => ({ path, sameCode });

  test.each<[string, PreviewDetection, { commit: string; tag: string } | null, object]>([
    [
      'a push that changed code waits for its own CI build',
      detection('code', [D]),
      null,
      { rule: 'ci', tag: `pr-7-${'d'.repeat(7)}`, waitForCi: true },
    ],
    [
      'a k8s-only push reuses the newest build of the same code',
      detection('code', [D, C, B]),
      { commit: B, tag: 'pr-7-bbbbbbb' },
      { rule: 'pr-history', tag: 'pr-7-bbbbbbb', commit: B, reason: expect.stringMatching(/2 commits back/) },
    ],
    [
      "the head's own build found: the CI rule, no wait",
      detection('code', [D, C]),
      { commit: D, tag: 'pr-7-ddddddd' },
      { rule: 'ci', tag: 'pr-7-ddddddd', waitForCi: false },
    ],
    [
      'same code but no build yet: wait for CI rather than run other code',
      detection('code', [D, C]),
      null,
      { rule: 'ci', tag: 'pr-7-ddddddd', waitForCi: true },
    ],
    ['a PR without code changes and no PR builds: production', detection('k8s', [D, C]), null, { rule: 'production' }],
    [
      'a PR without code changes that has a PR build uses it',
      detection('k8s', [D, C]),
      { commit: C, tag: 'pr-7-ccccccc' },
      { rule: 'pr-history', commit: C },
    ],
  ])('%s', (_, found, hit, expected) => {
    expect(previewChoice(7, D, found, hit)).toMatchObject(expected);
  });

  test('what is searched: every same-code commit, newest first, as pr-<n>-<sha>', () => {
    expect(previewStart(7, D, detection('k8s', [D, C]))).toEqual({
      kind: 'search',
      tags: [
        { commit: D, tag: 'pr-7-ddddddd' },
        { commit: C, tag: 'pr-7-ccccccc' },
      ],
    });
    expect(previewStart(7, D, detection('code', [D]))).toMatchObject({ kind: 'wait-for-ci', tag: 'pr-7-ddddddd' });
  });

  test('the Argo CD application name comes from the template', () => {
    expect(previewName('yt-summarizer-pr-{number}', 42)).toBe('yt-summarizer-pr-42');
  });
});
