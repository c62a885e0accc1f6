import {
  commentStateFor,
  DESCRIPTION_LIMIT,
  deploymentStatusFor,
  description,
  sinksFor,
  type CommentState,
  type DeploymentState,
  type ReportEvent,
  type ReportSettings,
  type ReportStage,
} from '../../src/plan/report';

const AT = '2026-01-02T03:04:05.000Z';
const event = (stage: ReportStage, extra: Partial<ReportEvent> = {}): ReportEvent => ({
  stage,
  at: AT,
  tag: 'sha-abc1234',
  ...extra,
});

describe('deploymentStatusFor: one status per change of state, nothing after a final one', () => {
  test.each<[ReportStage, DeploymentState[], DeploymentState | undefined]>([
    ['waiting-for-ci', [], 'queued'],
    ['queued', [], 'queued'],
    ['held', [], 'queued'],
    ['committing', [], 'in_progress'],
    ['syncing', [], 'in_progress'],
    ['succeeded', [], 'success'],
    ['rolled-back', [], 'success'],
    ['failed', [], 'failure'],
    ['superseded', [], 'inactive'],
    ['cancelled', [], 'inactive'],
    // The preview's close retires the Deployment (retireDeployment), it posts no status of its own.
    ['removed', [], undefined],
    // No repeat: queued while queued, in_progress while in progress.
    ['queued', ['queued'], undefined],
    ['held', ['queued'], undefined],
    ['syncing', ['queued', 'in_progress'], undefined],
    // Forward only: in progress is not reported queued again (a hold after committing).
    ['held', ['queued', 'in_progress'], undefined],
    ['committing', ['queued'], 'in_progress'],
    ['succeeded', ['queued', 'in_progress'], 'success'],
    ['failed', ['queued'], 'failure'],
    ['superseded', ['queued', 'in_progress'], 'inactive'],
    // Nothing after a final state.
    ['failed', ['queued', 'success'], undefined],
    ['succeeded', ['queued', 'failure'], undefined],
    ['syncing', ['inactive'], undefined],
  ])('%s after [%s] → %s', (stage, posted, expected) => {
    expect(deploymentStatusFor(event(stage), posted)?.state).toBe(expected);
  });

  test.each<[ReportEvent, string]>([
    [event('waiting-for-ci'), 'waiting for CI to build sha-abc1234'],
    [event('queued'), 'sha-abc1234: images validated, waiting for its turn at the overlay'],
    [event('held', { message: 'production is held by a rollback' }), 'production is held by a rollback'],
    [event('held'), 'sha-abc1234: held'],
    [event('committing'), 'committing sha-abc1234 to the overlay'],
    [event('syncing'), 'sha-abc1234 committed: waiting for Argo CD'],
    [event('succeeded'), 'sha-abc1234 is synced and healthy'],
    [event('rolled-back', { message: 'rolled back by alice: broken login' }), 'rolled back by alice: broken login'],
    [event('rolled-back'), 'rolled back to sha-abc1234'],
    [event('failed', { message: 'CI failed: run 17' }), 'CI failed: run 17'],
    [event('superseded'), 'sha-abc1234: superseded'],
    [event('waiting-for-ci', { tag: undefined }), 'waiting for CI to build the change'],
  ])('describes %j as "%s"', (e, text) => {
    expect(deploymentStatusFor(e, [])?.description).toBe(text);
  });

  test("a long reason is cut to GitHub's limit", () => {
    const status = deploymentStatusFor(event('failed', { message: 'x'.repeat(500) }), ['queued']);
    expect(status?.description).toHaveLength(DESCRIPTION_LIMIT);
  });
});

describe('description: one line within 140 characters', () => {
  test.each<[string, string]>([
    ['short', 'short'],
    ['  spaced\n\tout  lines \n', 'spaced out lines'],
    ['x'.repeat(140), 'x'.repeat(140)],
    ['x'.repeat(141), `${'x'.repeat(139)}…`],
    [`${'word '.repeat(40)}`, `${'word '.repeat(28).slice(0, 139)}…`],
  ])('%j → %j', (input, expected) => {
    const out = description(input);
    expect(out).toBe(expected);
    expect(out.length).toBeLessThanOrEqual(DESCRIPTION_LIMIT);
  });
});

describe('commentStateFor: what the preview comment says next', () => {
  test.each<[ReportStage, CommentState | undefined, CommentState | undefined]>([
    ['waiting-for-ci', undefined, 'waiting-for-ci'],
    ['queued', 'waiting-for-ci', 'deploying'],
    ['held', 'waiting-for-ci', 'deploying'],
    ['committing', 'deploying', undefined],
    ['syncing', 'deploying', 'syncing'],
    ['succeeded', 'syncing', 'ready'],
    ['rolled-back', 'syncing', 'ready'],
    ['failed', 'syncing', 'failed'],
    // A second failure has a new reason: the comment is written again.
    ['failed', 'failed', 'failed'],
    ['removed', 'ready', 'removed'],
    ['removed', 'removed', undefined],
    // A superseded or cancelled deploy leaves the comment to the newer push or to the close.
    ['superseded', 'syncing', undefined],
    ['cancelled', 'deploying', undefined],
    ['waiting-for-ci', 'waiting-for-ci', undefined],
  ])('%s while showing %s → %s', (stage, shown, expected) => {
    expect(commentStateFor(event(stage), shown)).toBe(expected);
  });
});

describe('sinksFor: the sinks subscribed to the outcome', () => {
  const settings: ReportSettings = {
    repositoryUrl: 'https://github.com/acme/yt',
    notify: [
      { sink: 'chat', on: ['succeeded', 'failed', 'rolled-back', 'held'] },
      { sink: 'audit', on: ['succeeded', 'failed', 'rolled-back', 'held', 'superseded'] },
      { sink: 'oncall', on: ['failed'] },
    ],
  };
  test.each<[ReportStage, string[]]>([
    ['succeeded', ['chat', 'audit']],
    ['failed', ['chat', 'audit', 'oncall']],
    ['rolled-back', ['chat', 'audit']],
    ['held', ['chat', 'audit']],
    ['superseded', ['audit']],
    // Not outcomes: nothing is sent.
    ['waiting-for-ci', []],
    ['queued', []],
    ['committing', []],
    ['syncing', []],
    ['cancelled', []],
    ['removed', []],
  ])('%s → %j', (stage, sinks) => {
    expect(sinksFor(event(stage), settings)).toEqual(sinks);
  });

  test('no sinks configured: none', () => {
    expect(sinksFor(event('failed'), { ...settings, notify: [] })).toEqual([]);
  });
});
