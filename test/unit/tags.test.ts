import { ciOutcome, pollDelay } from '../../src/plan/ci';
import { productionTagProblem, prTag, shaTag, shortSha } from '../../src/plan/tags';
import { ciSkipMarker, hasDeployerTrailer, isProductionOverlayCommit } from '../../src/plan/trailers';

describe('tags', () => {
  test('sha tag is sha- and the first 7 characters of the commit, lower-cased', () => {
    expect(shaTag('e43f28a9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6')).toBe('sha-e43f28a');
    expect(shaTag('E43F28A')).toBe('sha-e43f28a');
    expect(prTag(42, 'abcdef0123456789')).toBe('pr-42-abcdef0');
  });

  test('rejects what is not a commit or a PR number', () => {
    expect(() => shortSha('main')).toThrow(/not a commit/);
    expect(() => shaTag('abc12')).toThrow(/not a commit/);
    expect(() => prTag(0, 'abcdef0')).toThrow(/pull request/);
  });

  test.each([
    ['sha-e43f28a', undefined],
    ['latest', /'latest'.*Fix: update newTag to a specific SHA tag/],
    ['v1.2.3', /not a SHA tag/],
    ['sha-E43F28A', /not a SHA tag/],
    ['sha-e43f28', /not a SHA tag/],
    [undefined, /no newTag/],
  ])('production tag %p', (tag, problem) => {
    const result = productionTagProblem('yt-summarizer-api', tag as string | undefined);
    if (problem === undefined) expect(result).toBeUndefined();
    else expect(result).toMatch(problem);
  });
});

describe('CI outcome and polling', () => {
  const run = (status: string, conclusion: string | null) => ({ id: 1, status, conclusion, url: 'u', headSha: 'a' });
  test.each([
    [null, 'pending'],
    [run('queued', null), 'pending'],
    [run('in_progress', null), 'pending'],
    [run('completed', 'success'), 'success'],
    [run('completed', 'failure'), 'failure'],
    [run('completed', 'cancelled'), 'failure'],
    [run('completed', 'timed_out'), 'failure'],
    [run('completed', 'skipped'), 'failure'],
  ])('%p → %s', (r, outcome) => expect(ciOutcome(r)).toBe(outcome));

  test('poll delay grows from 15 s to 2 min and stays there', () => {
    expect([0, 1, 2, 3, 4, 50].map((a) => pollDelay(a, 15_000, 120_000))).toEqual([
      15_000, 30_000, 60_000, 120_000, 120_000, 120_000,
    ]);
  });
});

describe('commit messages', () => {
  test.each([
    ['fix: typo [skip ci]', '[skip ci]'],
    ['docs [CI SKIP]', undefined], // GitHub documents the lower-case markers only: no guess that would fail a deploy
    ['chore: bump\n\nbody\n\nskip-checks: true', 'skip-checks: true'],
    ['feat: skip ci handling in the api', undefined],
    ['feat: x\n\nskip-checks: true\n\nmore words', undefined],
  ])('%p skips CI: %p', (message, marker) => {
    expect(ciSkipMarker(message)).toBe(marker);
  });

  test("a preview commit is the deployer's, but not a production overlay commit", () => {
    const preview =
      'preview: #7 to pr-7-abcdef0 [skip ci]\n\nSet it.\n\nDeployed-Commit: a\nDeploy-Workflow-Id: preview-o-r-pr-7-a\n';
    expect(hasDeployerTrailer(preview)).toBe(true);
    expect(isProductionOverlayCommit(preview)).toBe(false);
    expect(
      isProductionOverlayCommit('deploy: production to sha-1234567 [skip ci]\n\nDeploy-Workflow-Id: deploy-o-r-a\n'),
    ).toBe(true);
  });
});
