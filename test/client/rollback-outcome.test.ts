import { newOutcomes, rollbackEndings, rollbackOutcome } from '../../src/client/environment';
import type { Outcome, RollbackRequest } from '../../src/plan/environment';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, s)).toISOString();
const deployed: Outcome = {
  kind: 'deployed',
  tag: 'sha-bbbbbbb',
  commit: 'b'.repeat(40),
  workflowId: 'deploy-o-r-bbb',
  message: 'Synced',
  at: at(1),
};
const rolledBack = (tag: string, by: string, reason: string, s: number): Outcome => ({
  kind: 'rolled-back',
  tag,
  message: `rolled back to ${tag} by ${by}: ${reason}`,
  at: at(s),
});
const refused = (tag: string | undefined, s: number): Outcome => ({
  kind: 'rollback-refused',
  tag,
  message: `rollback to ${tag} refused`,
  at: at(s),
});
const mine: RollbackRequest = { to: 'previous', reason: 'second one', requestedBy: 'carol' };

describe("finding this rollback's outcome", () => {
  test('new outcomes are a multiset difference: trimmed history and equal entries do not confuse it', () => {
    const a = refused('sha-aaaaaaa', 2);
    expect(newOutcomes([deployed, a], [a, a])).toEqual([a]); // the oldest dropped off, an identical one was added
    expect(newOutcomes([deployed, a], [deployed, a])).toEqual([]);
    expect(rollbackEndings([], [deployed, { ...deployed, kind: 'failed' }, a])).toEqual([a]); // a deploy's failure names its commit
  });

  test('a rollback sent just before this one (--no-wait) ends first: its outcome is not this one', () => {
    const first = rolledBack('sha-aaaaaaa', 'carol', 'errors after deploy', 3);
    const second = rolledBack('sha-bbbbbbb', 'carol', 'second one', 5);
    // Not counted ahead (still resolving its target when this one was sent): the reason tells them apart.
    expect(rollbackOutcome(mine, [first], 0)).toBeUndefined();
    expect(rollbackOutcome(mine, [first, second], 0)).toBe(second);
    // Counted ahead: a refusal (which names no requester) is matched by order.
    expect(rollbackOutcome(mine, [refused(undefined, 3)], 1)).toBeUndefined();
    expect(rollbackOutcome(mine, [refused(undefined, 3), refused(undefined, 4)], 1)).toEqual(refused(undefined, 4));
  });

  test("a refusal of another named tag is someone else's", () => {
    const named: RollbackRequest = { ...mine, to: 'sha-ccccccc' };
    expect(rollbackOutcome(named, [refused('sha-ddddddd', 3)], 0)).toBeUndefined();
    expect(rollbackOutcome(named, [refused('sha-ddddddd', 3), refused('sha-ccccccc', 4)], 0)).toEqual(
      refused('sha-ccccccc', 4),
    );
    expect(rollbackOutcome(named, [{ kind: 'failed', message: 'push refused', at: at(4) }], 0)).toMatchObject({
      kind: 'failed',
    });
  });
});
