import { formatEvent, formatList, keyValues, span, table } from '../../src/client/format';
import { exitCodeOf, progressEvents } from '../../src/client/watch';
import type { DeployStatus } from '../../src/workflows/types';

const COMMIT = 'e43f28a9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6';
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, s)).toISOString();
const base: DeployStatus = {
  phase: 'detecting',
  repository: 'o/r',
  commit: COMMIT,
  digests: {},
  startedAt: at(0),
  updatedAt: at(0),
  phases: { detecting: at(0) },
};

describe('tables', () => {
  test('columns align to the widest cell without trailing blanks', () => {
    expect(
      table(
        [
          ['abc1234', 'waiting-for-ci', 'code'],
          ['def5678', 'succeeded', ''],
        ],
        ['COMMIT', 'PHASE', 'PATH'],
      ),
    ).toBe(['COMMIT   PHASE           PATH', 'abc1234  waiting-for-ci  code', 'def5678  succeeded'].join('\n'));
    expect(
      keyValues([
        ['tag', 'sha-e43f28a'],
        ['error', undefined],
        ['digests', 'api  sha256:aa\nweb  sha256:bb'],
      ]),
    ).toBe(['tag      sha-e43f28a', 'digests  api  sha256:aa', '         web  sha256:bb'].join('\n'));
    expect(formatList([])).toBe('no deploys match');
    expect([span(42_000), span(190_000), span(7_500_000), span(3 * 86_400_000)]).toEqual([
      '42s',
      '3m10s',
      '2h5m',
      '3d',
    ]);
  });
});

describe('watch events', () => {
  test('phases missed between two polls are replayed in order, each field after its phase', () => {
    const next: DeployStatus = {
      ...base,
      phase: 'syncing',
      path: 'code',
      reason: 'code changed: services/api/main.py',
      tag: 'sha-e43f28a',
      ciRun: { id: 7, url: 'https://ci/7', conclusion: 'success' },
      overlayCommit: 'f'.repeat(40),
      argo: 'OutOfSync',
      phases: { detecting: at(0), 'waiting-for-ci': at(1), validating: at(5), committing: at(6), syncing: at(6) },
    };
    const events = progressEvents(
      { ...base, path: 'code', reason: next.reason, phases: { detecting: at(0), 'waiting-for-ci': at(1) } },
      next,
      at(9),
    );
    expect(events.map((e) => (e.event === 'phase' ? e.phase : e.event))).toEqual([
      'ci',
      'validating',
      'committing',
      'overlay',
      'syncing',
      'argo',
    ]);
    // Seen at 12:00:09, but CI passed before validating began and the overlay before syncing.
    expect(events.map((e) => e.at)).toEqual([at(5), at(5), at(6), at(6), at(6), at(9)]);
    expect(progressEvents(next, next, at(10))).toEqual([]);
  });

  test('a failure prints its error after the failed phase; only unusual endings print an end line', () => {
    const failed: DeployStatus = {
      ...base,
      phase: 'failed',
      error: 'CI run failure',
      phases: { ...base.phases, failed: at(3) },
    };
    expect(progressEvents(base, failed, at(4)).map((e) => e.event)).toEqual(['phase', 'error']);
    expect(exitCodeOf({ workflowId: 'w', execution: 'FAILED', status: failed })).toBe(1);
    expect(exitCodeOf({ workflowId: 'w', execution: 'COMPLETED', status: { ...base, phase: 'skipped' } })).toBe(0);
    expect(
      formatEvent({ at: at(4), event: 'end', execution: 'FAILED', phase: 'failed', status: failed }),
    ).toBeUndefined();
    expect(
      formatEvent({ at: at(4), event: 'end', execution: 'TERMINATED', phase: 'waiting-for-ci', status: base }),
    ).toMatch(/ended +workflow terminated$/);
  });
});
