import type { EnvironmentSnapshot } from '../../src/client/environment';
import {
  formatEnvironment,
  formatEvent,
  formatList,
  formatPreview,
  formatRollbackOutcome,
  formatStarted,
  keyValues,
  span,
  table,
} from '../../src/cli/format';
import { exitCodeOf, progressEvents } from '../../src/cli/watch';
import type { DeployStatus } from '../../src/contract/deploy';
import type { EnvironmentView } from '../../src/contract/environment';

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

const clockOf = (iso: string) => new Date(iso).toTimeString().slice(0, 8);
const view = (v: Partial<EnvironmentView>): EnvironmentView => ({
  repository: 'o/r',
  target: { kind: 'production', name: 'production' },
  queue: [],
  pendingRollbacks: [],
  requests: [],
  outcomes: [],
  ...v,
});
const running = (workflowId: string, v: EnvironmentView): EnvironmentSnapshot => ({
  workflowId,
  execution: 'RUNNING',
  view: v,
});

describe('start', () => {
  test('started, already there, or handed to the environment by signal', () => {
    const workflowId = `deploy-o-r-${COMMIT}`;
    const base = { environmentWorkflowId: 'env-production', workflowId };
    expect(formatStarted({ ...base, started: true, note: `started ${workflowId}` }, COMMIT)).toBe(
      `started ${workflowId}\nfollow it with: deployctl watch e43f28a`,
    );
    expect(formatStarted({ ...base, started: false, note: 'running' }, COMMIT)).toBe(
      `a deploy of e43f28a is already running or succeeded: ${workflowId}\nsee it with: deployctl status e43f28a`,
    );
    expect(formatStarted({ ...base, note: `asked env-production to start ${workflowId}` }, COMMIT)).toBe(
      `asked env-production to start ${workflowId}\nfollow it with: deployctl watch e43f28a`,
    );
  });
});

describe('rollback outcomes', () => {
  test('rolled back says how to lift the hold; a refusal or a failure is one line', () => {
    const rolled = formatRollbackOutcome(
      {
        kind: 'rolled-back',
        tag: 'sha-aaaaaaa',
        by: 'alice',
        message: 'rolled back to sha-aaaaaaa by alice: x',
        at: at(3),
      },
      'production',
    );
    expect(rolled.split('\n')).toEqual([
      `${clockOf(at(3))}  rolled-back       sha-aaaaaaa: rolled back to sha-aaaaaaa by alice: x`,
      'production is held at sha-aaaaaaa; deploys wait until: deployctl resume --env production',
    ]);
    expect(
      formatRollbackOutcome(
        { kind: 'rollback-refused', tag: 'sha-bbbbbbb', message: 'rollback to sha-bbbbbbb refused', at: at(4) },
        'production',
      ),
    ).toBe(`${clockOf(at(4))}  rollback-refused  sha-bbbbbbb: rollback to sha-bbbbbbb refused`);
    // Refused before a tag was resolved (nothing before the current tag): no tag to name.
    expect(
      formatRollbackOutcome({ kind: 'rollback-refused', message: 'no tag before sha-c', at: at(5) }, 'production'),
    ).toBe(`${clockOf(at(5))}  rollback-refused  no tag before sha-c`);
    expect(
      formatRollbackOutcome(
        {
          kind: 'failed',
          reason: 'degraded',
          tag: 'sha-ddddddd',
          message: 'rollback to sha-ddddddd: Degraded',
          at: at(6),
        },
        'production',
      ),
    ).toBe(`${clockOf(at(6))}  failed            sha-ddddddd: rollback to sha-ddddddd: Degraded`);
  });
});

describe('environment views', () => {
  test('status --env: what runs (current), what is applied now and what Argo CD says about it', () => {
    const text = formatEnvironment(
      running(
        'env-production',
        view({
          current: { tag: 'sha-aaaaaaa', since: at(0), by: 'deploy-o-r-aaa' },
          applying: {
            kind: 'deploy',
            tag: 'sha-e43f28a',
            commit: COMMIT,
            phase: 'syncing',
            since: at(2),
            argo: 'OutOfSync, Progressing',
          },
        }),
      ),
    );
    expect(text).toMatch(/^environment +production$/m);
    expect(text).toMatch(/^workflow +env-production \(running\)$/m);
    expect(text).toMatch(/^production +sha-aaaaaaa since \d{4}-\d\d-\d\d \d\d:\d\d by deploy-o-r-aaa$/m);
    expect(text).toMatch(new RegExp(`^now +deploy sha-e43f28a \\(e43f28a\\): syncing since ${clockOf(at(2))}$`, 'm'));
    expect(text).toMatch(/^argo cd +OutOfSync, Progressing$/m);
    expect(text).toMatch(/^queue +empty$/m);
    expect(formatEnvironment(running('env-production', view({})))).toMatch(
      /^production +unknown \(no change since this workflow started\)$/m,
    );
  });

  test('status --pr: the preview from its environment snapshot (target, current, latest, applying.argo, closed)', () => {
    const preview = view({
      target: { kind: 'preview', pr: 7 },
      current: { tag: 'pr-7-e43f28a', since: at(1), rule: 'ci', commit: COMMIT },
      latest: { commit: COMMIT, workflowId: `preview-o-r-pr-7-${COMMIT}`, at: at(0) },
      applying: { kind: 'deploy', tag: 'pr-7-e43f28a', commit: COMMIT, phase: 'syncing', since: at(2), argo: 'Synced' },
      outcomes: [{ kind: 'deployed', tag: 'pr-7-e43f28a', message: 'Synced and Healthy', at: at(3) }],
    });
    const text = formatPreview(running('preview-o-r-pr-7', preview));
    expect(text).toMatch(/^preview +o\/r#7$/m);
    expect(text).toMatch(/^workflow +preview-o-r-pr-7 \(running\)$/m);
    expect(text).toMatch(new RegExp(`^runs +pr-7-e43f28a \\(rule ci, for e43f28a, since ${clockOf(at(1))}\\)$`, 'm'));
    expect(text).toMatch(new RegExp(`^latest push +e43f28a  preview-o-r-pr-7-${COMMIT}$`, 'm'));
    expect(text).toMatch(/^now +syncing pr-7-e43f28a for e43f28a$/m);
    expect(text).toMatch(/^argo cd +Synced$/m);
    expect(text).toMatch(/^outcomes +\d\d:\d\d:\d\d +deployed +pr-7-e43f28a +Synced and Healthy$/m);
    const gone = formatPreview({
      workflowId: 'preview-o-r-pr-7',
      execution: 'COMPLETED',
      view: { ...preview, current: undefined, applying: undefined, closed: { by: 'github', merged: true, at: at(9) } },
    });
    expect(gone).toMatch(new RegExp(`^preview +o/r#7 \\(merged ${clockOf(at(9))}: gone\\)$`, 'm'));
    expect(gone).toMatch(/^runs +nothing this workflow deployed$/m);
    expect(gone).not.toMatch(/^(now|argo cd) /m);
  });
});
