import {
  deployEnd,
  doraMeasures,
  quantile,
  rollbackCoverage,
  rollbacksOf,
  type DeployEnd,
  type DeployRecord,
  type DoraMeasures,
  type FinalStatus,
  type RollbackRecord,
} from '../../src/plan/dora';
import type { Outcome } from '../../src/plan/environment';

/**
 * The DORA arithmetic as tables. Each case is production's history written as a timeline in
 * minutes after T0, in the window [0, one week]:
 *
 *   history().deployed(0, 10).degraded(20, 25, 27).rolledBack(30).deployed(40, 45)
 *
 * reads "merged at 0, healthy at 10; merged at 20, live at 25, Degraded at 27; rolled back (healthy)
 * at 30; merged at 40, healthy at 45".
 */
const T0 = Date.parse('2026-03-02T00:00:00Z');
const WEEK_MIN = 7 * 24 * 60;
const at = (minute: number) => new Date(T0 + minute * 60_000).toISOString();
const WINDOW = { since: at(0), until: at(WEEK_MIN) };
const MIN_S = 60;

class History {
  readonly deploys: DeployRecord[] = [];
  readonly rollbacks: RollbackRecord[] = [];

  /** A deploy that ended `end` without reaching production (or, for succeeded, healthy at `closed`). */
  ended(end: DeployEnd, merged: number, closed: number): this {
    this.deploys.push({ end, startedAt: at(merged), closedAt: at(closed) });
    return this;
  }

  deployed(merged: number, healthy: number): this {
    return this.ended('succeeded', merged, healthy);
  }

  /** Reached production at `live` (entered syncing), then failed there at `closed`. */
  degraded(merged: number, live: number, closed: number): this {
    this.deploys.push({ end: 'failed-in-production', startedAt: at(merged), closedAt: at(closed), liveAt: at(live) });
    return this;
  }

  rolledBack(minute: number, healthy = true): this {
    this.rollbacks.push({ at: at(minute), healthy });
    return this;
  }

  measures(window = WINDOW): DoraMeasures {
    return doraMeasures(window, this.deploys, this.rollbacks);
  }
}

const history = () => new History();

describe('deployEnd: how a deploy run ended, from visibility and its final status', () => {
  const live: FinalStatus = { phases: { queued: at(1), committing: at(2), syncing: at(3), failed: at(4) } };
  const early: FinalStatus = { phases: { detecting: at(0), 'waiting-for-ci': at(1), failed: at(5) } };

  test.each<[string, string, string | undefined, FinalStatus | undefined, DeployEnd]>([
    ['completed and succeeded: a deployment', 'COMPLETED', 'succeeded', undefined, 'succeeded'],
    ['completed and superseded', 'COMPLETED', 'superseded', undefined, 'superseded'],
    ['completed and skipped (nothing to deploy)', 'COMPLETED', 'skipped', undefined, 'skipped'],
    ['failed after it entered syncing: in production', 'FAILED', 'failed', live, 'failed-in-production'],
    ['failed while waiting for CI: before production', 'FAILED', 'failed', early, 'failed-before-production'],
    [
      'failed at its turn before the commit (a refused push)',
      'FAILED',
      'failed',
      { phases: { queued: at(1), committing: at(2), failed: at(3) } },
      'failed-before-production',
    ],
    ['failed, but no final status to say where', 'FAILED', 'failed', undefined, 'other'],
    ['cancelled (a person cancelled it)', 'CANCELLED', 'cancelled', undefined, 'cancelled'],
    ['terminated while syncing: not counted', 'TERMINATED', 'syncing', undefined, 'other'],
    ['timed out', 'TIMED_OUT', 'waiting-for-ci', undefined, 'other'],
    ['completed without a final phase (search attributes off)', 'COMPLETED', undefined, undefined, 'other'],
    ['completed in a phase that is not final', 'COMPLETED', 'syncing', undefined, 'other'],
  ])('%s', (_, execution, phase, final, expected) => {
    expect(deployEnd(execution, phase, final)).toBe(expected);
  });
});

describe('rollbacksOf: the rollbacks that changed production, from the environment outcomes', () => {
  const outcome = (over: Partial<Outcome>): Outcome => ({ kind: 'deployed', message: 'm', at: at(5), ...over });
  const ROLLBACK = 'env-production/rollback-3';

  test.each<[string, Partial<Outcome>, RollbackRecord[]]>([
    [
      'rolled back: healthy',
      { kind: 'rolled-back', workflowId: ROLLBACK, overlayCommit: 'b'.repeat(40) },
      [{ at: at(5), healthy: true }],
    ],
    [
      'committed, then Degraded: a change, not healthy',
      { kind: 'failed', reason: 'degraded', workflowId: ROLLBACK, overlayCommit: 'b'.repeat(40) },
      [{ at: at(5), healthy: false }],
    ],
    ['failed before its commit: no change', { kind: 'failed', reason: 'step-failed', workflowId: ROLLBACK }, []],
    ['refused (images gone): no change', { kind: 'rollback-refused', workflowId: ROLLBACK }, []],
    [
      "a deploy's failure is no rollback",
      { kind: 'failed', reason: 'degraded', workflowId: 'deploy-o-r-' + 'c'.repeat(40), overlayCommit: 'f'.repeat(40) },
      [],
    ],
    ['a deploy', { kind: 'deployed', workflowId: 'deploy-o-r-' + 'c'.repeat(40) }, []],
    ['a superseded deploy', { kind: 'superseded', workflowId: 'deploy-o-r-' + 'c'.repeat(40) }, []],
  ])('%s', (_, over, expected) => {
    expect(rollbacksOf([outcome(over)])).toEqual(expected);
  });
});

describe('rollbackCoverage: do the kept outcomes reach back to the start of the window?', () => {
  const outcomes = (n: number, firstAt: number): Outcome[] =>
    Array.from({ length: n }, (_, i) => ({ kind: 'superseded', message: 'm', at: at(firstAt + i) }));

  test.each<[string, Outcome[], { coveredSince?: string }]>([
    ['none kept: nothing was dropped', [], {}],
    ['fewer than the bound: nothing was dropped', outcomes(49, 10), {}],
    ['the bound, the oldest inside the window: older ones may be gone', outcomes(50, 10), { coveredSince: at(10) }],
    ['the bound, the oldest before the window: all of the window is there', outcomes(50, -10), {}],
    ['the bound, the oldest at the start of the window', outcomes(50, 0), {}],
  ])('%s', (_, kept, expected) => {
    expect(rollbackCoverage(kept, WINDOW.since, 50)).toEqual(expected);
  });
});

describe('quantile: linear between the closest ranks', () => {
  test.each<[number[], number, number | null]>([
    [[], 0.5, null],
    [[7], 0.5, 7],
    [[7], 0.9, 7],
    [[1, 3], 0.5, 2],
    [[1, 2, 3], 0.5, 2],
    [[10, 20, 30, 40], 0.5, 25],
    [[10, 20, 30, 40], 0.9, 37],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0.9, 10],
    [[0.1, 0.2], 0.5, 0.15],
  ])('%j at %d is %d', (values, q, expected) => {
    expect(quantile(values, q)).toBe(expected);
  });
});

describe('doraMeasures', () => {
  test('no data: zero counts and nothing to measure', () => {
    expect(history().measures()).toEqual({
      window: { ...WINDOW, seconds: 7 * 86_400 },
      deploys: {
        closed: 0,
        succeeded: 0,
        failedInProduction: 0,
        failedBeforeProduction: 0,
        superseded: 0,
        skipped: 0,
        cancelled: 0,
        other: 0,
      },
      rollbacks: { committed: 0, healthy: 0 },
      deploymentFrequency: { deployments: 0, perDay: 0, perWeek: 0 },
      leadTime: { deployments: 0, medianSeconds: null, p90Seconds: null },
      changeFailureRate: { failures: 0, failedInProduction: 0, rolledBack: 0, reachedProduction: 0, rate: null },
      timeToRestore: { failures: 0, restored: 0, open: 0, medianSeconds: null },
    });
  });

  describe('deployment frequency and lead time: succeeded deploys only', () => {
    test.each<[string, History, DoraMeasures['deploymentFrequency'], DoraMeasures['leadTime']]>([
      [
        'one deploy a week',
        history().deployed(0, 10),
        { deployments: 1, perDay: 0.143, perWeek: 1 },
        { deployments: 1, medianSeconds: 10 * MIN_S, p90Seconds: 10 * MIN_S },
      ],
      [
        'four deploys: median between the middle two, p90 interpolated',
        history().deployed(0, 10).deployed(100, 120).deployed(200, 230).deployed(300, 340),
        { deployments: 4, perDay: 0.571, perWeek: 4 },
        { deployments: 4, medianSeconds: 25 * MIN_S, p90Seconds: 37 * MIN_S },
      ],
      [
        'the order deploys are given in does not matter',
        history().deployed(300, 340).deployed(0, 10).deployed(200, 230).deployed(100, 120),
        { deployments: 4, perDay: 0.571, perWeek: 4 },
        { deployments: 4, medianSeconds: 25 * MIN_S, p90Seconds: 37 * MIN_S },
      ],
      [
        'superseded, skipped, cancelled, failed and terminated deploys are no deployments',
        history()
          .deployed(0, 10)
          .ended('superseded', 1, 11)
          .ended('skipped', 2, 3)
          .ended('cancelled', 4, 9)
          .ended('failed-before-production', 5, 50)
          .degraded(20, 30, 40)
          .ended('other', 6, 500),
        { deployments: 1, perDay: 0.143, perWeek: 1 },
        { deployments: 1, medianSeconds: 10 * MIN_S, p90Seconds: 10 * MIN_S },
      ],
      [
        'a deploy merged before the window that closed in it counts, with its whole lead time',
        history().deployed(-30, 15),
        { deployments: 1, perDay: 0.143, perWeek: 1 },
        { deployments: 1, medianSeconds: 45 * MIN_S, p90Seconds: 45 * MIN_S },
      ],
      [
        'deploys that closed outside the window are not counted',
        history()
          .deployed(-30, -5)
          .deployed(0, 10)
          .deployed(WEEK_MIN - 1, WEEK_MIN + 1),
        { deployments: 1, perDay: 0.143, perWeek: 1 },
        { deployments: 1, medianSeconds: 10 * MIN_S, p90Seconds: 10 * MIN_S },
      ],
    ])('%s', (_, h, frequency, lead) => {
      const m = h.measures();
      expect(m.deploymentFrequency).toEqual(frequency);
      expect(m.leadTime).toEqual(lead);
    });

    test('per day and per week follow the window: 30 deploys in 30 days', () => {
      const h = history();
      for (let day = 0; day < 30; day++) h.deployed(day * 1440, day * 1440 + 20);
      const m = h.measures({ since: at(0), until: at(30 * 1440) });
      expect(m.deploymentFrequency).toEqual({ deployments: 30, perDay: 1, perWeek: 7 });
      expect(m.window.seconds).toBe(30 * 86_400);
    });
  });

  describe('change failure rate and time to restore', () => {
    type Rate = DoraMeasures['changeFailureRate'];
    type Restore = DoraMeasures['timeToRestore'];
    const rate = (failures: number, failedInProduction: number, rolledBack: number, reached: number): Rate => ({
      failures,
      failedInProduction,
      rolledBack,
      reachedProduction: reached,
      rate: reached ? Math.round((failures / reached) * 10_000) / 10_000 : null,
    });
    const restore = (failures: number, restored: number, open: number, medianMin: number | null): Restore => ({
      failures,
      restored,
      open,
      medianSeconds: medianMin === null ? null : medianMin * MIN_S,
    });

    test.each<[string, History, Rate, Restore]>([
      ['healthy deploys only', history().deployed(0, 10).deployed(20, 30), rate(0, 0, 0, 2), restore(0, 0, 0, null)],
      [
        'a deploy Degraded in production, fixed by the next deploy: restored from when it went live',
        history().deployed(0, 10).degraded(20, 25, 27).deployed(40, 45),
        rate(1, 1, 0, 3),
        restore(1, 1, 0, 20),
      ],
      [
        'not healthy within the sync timeout counts from the commit, not from the timeout',
        history().degraded(0, 5, 20).deployed(30, 35),
        rate(1, 1, 0, 2),
        restore(1, 1, 0, 30),
      ],
      [
        'a Degraded deploy rolled back automatically is one failure, restored by the rollback',
        history().deployed(0, 10).degraded(20, 25, 27).rolledBack(30),
        rate(1, 1, 1, 2),
        restore(1, 1, 0, 5),
      ],
      [
        'a healthy deploy rolled back by hand is a failure, from when it went live to the rollback',
        history().deployed(0, 10).deployed(20, 30).rolledBack(90),
        rate(1, 0, 1, 2),
        restore(1, 1, 0, 60),
      ],
      [
        'a rollback reverts the change just before it, not an earlier one',
        history().deployed(0, 10).deployed(20, 30).deployed(40, 50).rolledBack(55),
        rate(1, 0, 1, 3),
        restore(1, 1, 0, 5),
      ],
      [
        'two rollbacks in a row: one failed deploy (the second rollback reverts a rollback)',
        history().deployed(0, 10).deployed(20, 30).rolledBack(40).rolledBack(50),
        rate(1, 0, 1, 2),
        restore(1, 1, 0, 10),
      ],
      [
        'a rollback that is not healthy restores nothing: the next healthy change does',
        history().deployed(0, 10).degraded(20, 25, 27).rolledBack(30, false).deployed(40, 65),
        rate(1, 1, 1, 3),
        restore(1, 1, 0, 40),
      ],
      [
        'a failure not restored by the end of the window is open',
        history().deployed(0, 10).degraded(20, 25, 27),
        rate(1, 1, 0, 2),
        restore(1, 0, 1, null),
      ],
      [
        'two failures in a row are both restored by the next healthy deploy',
        history().degraded(0, 10, 12).degraded(20, 30, 32).deployed(40, 50),
        rate(2, 2, 0, 3),
        restore(2, 2, 0, 30),
      ],
      [
        'deploys that failed before production are neither failures nor reached production',
        history().deployed(0, 10).ended('failed-before-production', 20, 30).deployed(40, 50),
        rate(0, 0, 0, 2),
        restore(0, 0, 0, null),
      ],
      [
        'a superseded deploy between a deploy and its rollback changes nothing',
        history().deployed(0, 10).ended('superseded', 5, 11).rolledBack(20),
        rate(1, 0, 1, 1),
        restore(1, 1, 0, 10),
      ],
      [
        "a rollback of a deploy before the window: that deploy is outside the window's rate",
        history().deployed(-20, -10).rolledBack(5).deployed(20, 30),
        rate(0, 0, 0, 1),
        restore(0, 0, 0, null),
      ],
      [
        'a rollback at the very moment a deploy closed reverts that deploy',
        history().deployed(0, 10).rolledBack(10),
        rate(1, 0, 1, 1),
        restore(1, 1, 0, 0),
      ],
    ])('%s', (_, h, expectedRate, expectedRestore) => {
      const m = h.measures();
      expect(m.changeFailureRate).toEqual(expectedRate);
      expect(m.timeToRestore).toEqual(expectedRestore);
    });

    test('the counts behind the rates: each deploy by how it ended, rollbacks committed and healthy', () => {
      const m = history()
        .deployed(0, 10)
        .degraded(20, 25, 27)
        .rolledBack(30)
        .ended('failed-before-production', 40, 41)
        .ended('superseded', 42, 43)
        .ended('skipped', 44, 45)
        .ended('cancelled', 46, 47)
        .ended('other', 48, 49)
        .rolledBack(50, false)
        .measures();
      expect(m.deploys).toEqual({
        closed: 7,
        succeeded: 1,
        failedInProduction: 1,
        failedBeforeProduction: 1,
        superseded: 1,
        skipped: 1,
        cancelled: 1,
        other: 1,
      });
      expect(m.rollbacks).toEqual({ committed: 2, healthy: 1 });
    });
  });

  test("the rate keeps four decimals; durations and frequencies three (milliseconds are the records' precision)", () => {
    const m = history().degraded(0, 1, 2).deployed(10, 20).deployed(30, 40.0005).measures();
    expect(m.changeFailureRate.rate).toBe(0.3333);
    expect(m.deploymentFrequency).toEqual({ deployments: 2, perDay: 0.286, perWeek: 2 });
    expect(m.leadTime.medianSeconds).toBe(600.015);
  });

  test('a window that ends before it starts is refused', () => {
    expect(() => doraMeasures({ since: at(10), until: at(10) }, [], [])).toThrow(/^not a window: /);
  });
});
