import {
  batches,
  bounded,
  nextCandidate,
  planTurn,
  resolveRollbackTag,
  rollbackRequestProblem,
  type Candidate,
  type ProductionTarget,
} from '../../src/plan/environment';
import { candidate as queued } from './builders';

const target = (tag: string, over: Partial<ProductionTarget> = {}): ProductionTarget => ({
  tag,
  overlayCommit: 'o'.repeat(40),
  date: '2026-01-01T00:00:00Z',
  by: 'ci',
  subject: `deploy: production to ${tag} [skip ci]`,
  kind: 'deploy',
  imagesExist: true,
  ...over,
});
const candidate = (commit: string, path: Candidate['path'] = 'code'): Candidate =>
  queued({ commit, path, ...(path === 'k8s' ? { rule: 'running' } : {}) });

describe('environment planning', () => {
  test('rollback requests: previous or a sha tag, with a reason and a requester', () => {
    expect(rollbackRequestProblem({ to: 'previous', reason: 'bad deploy', requestedBy: 'ana' })).toBeUndefined();
    expect(rollbackRequestProblem({ to: 'sha-abc1234', reason: 'bad deploy', requestedBy: 'ana' })).toBeUndefined();
    expect(rollbackRequestProblem({ to: 'latest', reason: 'x', requestedBy: 'ana' })).toMatch(
      /"previous" or a tag like sha-abc1234/,
    );
    expect(rollbackRequestProblem({ to: 'previous', reason: ' ', requestedBy: 'ana' })).toMatch(/reason/);
    expect(rollbackRequestProblem({ to: 'previous', reason: 'x' })).toMatch(/requestedBy/);
  });

  test('previous is the newest tag before the current one, skipping config-only commits of the same tag', () => {
    const history = [target('sha-3333333'), target('sha-3333333'), target('sha-2222222'), target('sha-1111111')];
    expect(resolveRollbackTag('previous', history)).toEqual({ tag: 'sha-2222222' });
    expect(resolveRollbackTag('sha-1111111', history)).toEqual({ tag: 'sha-1111111' });
    expect(resolveRollbackTag('previous', [target('sha-3333333')])).toEqual({
      problem: expect.stringMatching(/no tag before sha-3333333/),
    });
  });

  test('previous twice keeps going back: a rollback entry does not count as deploying its tag', () => {
    const afterRollback = [
      target('sha-2222222', { kind: 'rollback' }),
      target('sha-3333333'),
      target('sha-2222222'),
      target('sha-1111111'),
    ];
    expect(resolveRollbackTag('previous', afterRollback)).toEqual({ tag: 'sha-1111111' });
  });

  test('reasons and requesters are single lines of bounded length', () => {
    expect(rollbackRequestProblem({ to: 'previous', reason: 'a\nb', requestedBy: 'ana' })).toMatch(/one line/);
    expect(rollbackRequestProblem({ to: 'previous', reason: 'x'.repeat(501), requestedBy: 'ana' })).toMatch(/500/);
    expect(rollbackRequestProblem({ to: 'previous', reason: 'ok', requestedBy: 'a\rb' })).toMatch(/requestedBy/);
    expect(
      rollbackRequestProblem({ to: 'previous', reason: 'x'.repeat(500), requestedBy: 'a'.repeat(200) }),
    ).toBeUndefined();
    expect(rollbackRequestProblem({ to: 'previous', reason: 'ok', requestedBy: 'a'.repeat(201) })).toMatch(/200/);
  });

  test('the newest commit in git history goes first; unknown order falls back to arrival', () => {
    const queue = [candidate('a'.repeat(40)), candidate('b'.repeat(40)), candidate('c'.repeat(40), 'k8s')];
    expect(nextCandidate(queue, ['c'.repeat(40), 'b'.repeat(40), 'a'.repeat(40)])?.commit).toBe('c'.repeat(40));
    expect(nextCandidate(queue, ['b'.repeat(40), 'a'.repeat(40)])?.commit).toBe('b'.repeat(40));
    expect(nextCandidate(queue, [])?.commit).toBe('a'.repeat(40));
    expect(nextCandidate([], [])).toBeUndefined();
  });

  test('bounded keeps the newest entries', () => {
    expect(bounded([1, 2, 3], 4, 3)).toEqual([2, 3, 4]);
  });

  test('batches split a list into consecutive bounded parts', () => {
    expect(batches([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(batches([], 2)).toEqual([]);
    expect(
      batches(
        Array.from({ length: 2000 }, (_, i) => i),
        200,
      ).map((b) => b.length),
    ).toEqual(Array(10).fill(200));
  });

  describe('a turn at the overlay', () => {
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((x) => x.repeat(40));
    const cases: Array<{ name: string; queue: Candidate[]; heads: string[]; next?: string; superseded: string[] }> = [
      { name: 'one queued: it goes, nothing else', queue: [candidate(a)], heads: [], next: a, superseded: [] },
      {
        name: 'a linear burst: the head goes, every older code deploy is superseded with it',
        queue: [candidate(a), candidate(b), candidate(c)],
        heads: [c],
        next: c,
        superseded: [a, b],
      },
      {
        name: 'k8s-only changes keep their own confirmation',
        queue: [candidate(a), candidate(b, 'k8s'), candidate(c)],
        heads: [c],
        next: c,
        superseded: [a],
      },
      {
        name: 'a k8s-only head supersedes nothing',
        queue: [candidate(a), candidate(b, 'k8s')],
        heads: [b],
        next: b,
        superseded: [],
      },
      {
        name: 'two unrelated heads: one at a time, no bulk superseding',
        queue: [candidate(a), candidate(b), candidate(c)],
        heads: [c, b],
        next: c,
        superseded: [],
      },
      {
        name: 'git could not order: arrival order, no bulk superseding',
        queue: [candidate(a), candidate(b)],
        heads: [],
        next: a,
        superseded: [],
      },
      {
        name: 'a head that is no longer queued: arrival order',
        queue: [candidate(a), candidate(b)],
        heads: [d],
        next: a,
        superseded: [],
      },
      { name: 'empty queue', queue: [], heads: [], next: undefined, superseded: [] },
    ];
    test.each(cases)('$name', ({ queue, heads, next, superseded }) => {
      const turn = planTurn(queue, heads);
      expect(turn?.next.commit).toBe(next);
      expect(turn?.supersededOnCommit.map((x) => x.commit) ?? []).toEqual(superseded);
    });
  });
});
