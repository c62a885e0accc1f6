import { previewName, sameCodeCommits, type PullCommit } from '../../src/plan/preview';

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

describe('preview names', () => {
  test('the Argo CD application name comes from the template', () => {
    expect(previewName('yt-summarizer-pr-{number}', 42)).toBe('yt-summarizer-pr-42');
  });

  test('every {number} in the template is replaced', () => {
    expect(previewName('preview/{number}/pr-{number}', 7)).toBe('preview/7/pr-7');
  });
});
