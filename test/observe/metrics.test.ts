import type { Outcome } from '../../src/plan/environment';
import { environmentLabel, HISTOGRAM_BUCKETS, METRICS, restoreSeconds } from '../../src/workflows/metrics';

/** An environment outcome `minutes` after 12:00. */
function outcome(kind: Outcome['kind'], minutes: number, reason?: Outcome['reason']): Outcome {
  const at = new Date(Date.UTC(2026, 0, 1, 12, minutes)).toISOString();
  return { kind, ...(reason ? { reason } : {}), message: `${kind} at +${minutes} min`, at };
}

describe('time to restore: from the first production failure since the last healthy state to the next healthy one', () => {
  test.each<[string, Outcome[], Outcome, number | undefined]>([
    ['nothing failed', [outcome('deployed', 0)], outcome('deployed', 10), undefined],
    ['a degraded deploy, then a healthy one', [outcome('failed', 0, 'degraded')], outcome('deployed', 25), 25 * 60],
    [
      'a degraded deploy, a sync timeout, then a rollback: from the first failure',
      [outcome('deployed', 0), outcome('failed', 5, 'degraded'), outcome('failed', 20, 'sync-timeout')],
      outcome('rolled-back', 30),
      25 * 60,
    ],
    [
      'failures before the last healthy state do not count',
      [outcome('failed', 0, 'degraded'), outcome('deployed', 10), outcome('superseded', 12)],
      outcome('deployed', 40),
      undefined,
    ],
    [
      'a step that failed before production changed (a push refused) is no production failure',
      [outcome('failed', 0, 'step-failed'), outcome('rollback-refused', 1), outcome('ignored', 2)],
      outcome('deployed', 10),
      undefined,
    ],
    [
      'only a healthy outcome restores',
      [outcome('failed', 0, 'degraded')],
      outcome('failed', 10, 'sync-timeout'),
      undefined,
    ],
  ])('%s', (_, before, healthy, seconds) => {
    expect(restoreSeconds(before, healthy)).toBe(seconds);
  });
});

describe('metric definitions', () => {
  test('every name is gitops_deployer_*, counters end in _total, durations in _seconds', () => {
    for (const name of Object.values(METRICS)) expect(name).toMatch(/^gitops_deployer_[a-z_]+$/);
    expect(METRICS.deploys).toMatch(/_total$/);
    expect(METRICS.rollbacks).toMatch(/_total$/);
    for (const name of Object.keys(HISTOGRAM_BUCKETS)) expect(name).toMatch(/_seconds$/);
  });

  test('histogram buckets ascend, in seconds, lead time from a minute to a week', () => {
    for (const [name, buckets] of Object.entries(HISTOGRAM_BUCKETS))
      expect({ name, ascending: buckets.every((b, i) => i === 0 || b > buckets[i - 1]) }).toEqual({
        name,
        ascending: true,
      });
    expect(HISTOGRAM_BUCKETS[METRICS.leadTime][0]).toBe(60);
    expect(HISTOGRAM_BUCKETS[METRICS.leadTime].at(-1)).toBe(7 * 24 * 3600);
  });

  test('the environment label: the production target by name, every preview as `preview`', () => {
    expect(environmentLabel({ kind: 'production', name: 'production' })).toBe('production');
    expect(environmentLabel({ kind: 'preview', pr: 12 })).toBe('preview');
  });
});
