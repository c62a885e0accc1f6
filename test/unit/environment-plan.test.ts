import {
  deployRequestProblem,
  handover,
  planNext,
  shouldAutoRollback,
  verdictOfOutcome,
  type Handover,
  type NextChange,
  type NextFacts,
  type Outcome,
} from '../../src/plan/environment';
import type { VerdictReason } from '../../src/plan/verdict';
import { C, candidate, D, environmentState, O, outcome, type HandoverState } from './builders';

describe("planNext: the priority of the environment's work", () => {
  const idle: NextFacts = { closeRequested: false, rollbacks: 0, queue: 0, frozen: false, dueToContinue: false };

  test.each<[string, Partial<NextFacts>, NextChange]>([
    ['nothing to do: wait', {}, 'wait'],
    ['a queued deploy: deploy', { queue: 1 }, 'deploy'],
    ['a queued deploy while paused or held: wait', { queue: 2, frozen: true }, 'wait'],
    ['a rollback: rollback', { rollbacks: 1 }, 'rollback'],
    ['a rollback goes while frozen (a rollback holds production)', { rollbacks: 1, frozen: true }, 'rollback'],
    ['a rollback goes before a queued deploy', { rollbacks: 1, queue: 3 }, 'rollback'],
    ['a rollback goes before continue-as-new: its caller waits', { rollbacks: 1, dueToContinue: true }, 'rollback'],
    ['a long history continues as new before the next deploy', { dueToContinue: true, queue: 1 }, 'continue'],
    ['a long history continues as new with nothing queued', { dueToContinue: true }, 'continue'],
    ['a long history continues as new while frozen', { dueToContinue: true, frozen: true, queue: 1 }, 'continue'],
    ['a close request: close', { closeRequested: true }, 'close'],
    [
      'a close goes before everything else',
      { closeRequested: true, rollbacks: 1, queue: 1, dueToContinue: true },
      'close',
    ],
    ['a close goes while frozen', { closeRequested: true, frozen: true }, 'close'],
  ])('%s', (_, facts, expected) => {
    expect(planNext({ ...idle, ...facts })).toBe(expected);
  });
});

describe('deployRequestProblem: which requests are refused', () => {
  type Request = Parameters<typeof deployRequestProblem>[0];
  const production = true;
  const preview = false;

  test.each<[string, Request, boolean, RegExp | undefined]>([
    ['production, a full commit SHA', { commit: C }, production, undefined],
    ['production, a full commit SHA in upper case', { commit: C.toUpperCase() }, production, undefined],
    [
      'production must name its commit',
      {},
      production,
      /^commit must be a full 40-character commit SHA, got undefined$/,
    ],
    ['a preview may ask for the head', {}, preview, undefined],
    ['a preview naming a full commit SHA', { commit: D, before: C }, preview, undefined],
    ['a short SHA (production)', { commit: 'abc1234' }, production, /^commit must be .*, got "abc1234"$/],
    ['a short SHA (preview)', { commit: 'abc1234' }, preview, /^commit must be .*, got "abc1234"$/],
    ['forty characters that are not hex', { commit: 'g'.repeat(40) }, production, /^commit must be/],
    ['forty-one hex characters', { commit: `${C}c` }, production, /^commit must be/],
    ['an empty commit', { commit: '' }, preview, /^commit must be .*, got ""$/],
    ['a full before', { commit: D, before: C }, production, undefined],
    [
      'a short before',
      { commit: D, before: 'ccccccc' },
      production,
      /^before must be a full 40-character commit SHA, got "ccccccc"$/,
    ],
    ['a bad before on a head request', { before: 'main' }, preview, /^before must be .*, got "main"$/],
    ['a bad commit is reported before a bad before', { commit: 'x', before: 'y' }, production, /^commit must be/],
    ['a one-line requester', { commit: C, requestedBy: 'ana (deployctl)' }, production, undefined],
    [
      'a requester over two lines (\\n)',
      { commit: C, requestedBy: 'ana\nbob' },
      production,
      /^requestedBy must be one line of at most 200 characters$/,
    ],
    ['a requester over two lines (\\r)', { commit: C, requestedBy: 'ana\rbob' }, preview, /^requestedBy must be/],
    ['a requester of 200 characters', { commit: C, requestedBy: 'a'.repeat(200) }, production, undefined],
    ['a requester of 201 characters', { commit: C, requestedBy: 'a'.repeat(201) }, production, /^requestedBy must/],
  ])('%s', (_, request, commitRequired, expected) => {
    const problem = deployRequestProblem(request, commitRequired);
    if (expected === undefined) expect(problem).toBeUndefined();
    else expect(problem).toMatch(expected);
  });
});

describe('shouldAutoRollback: only a committed change Argo CD reported Degraded', () => {
  test.each<[string, boolean, VerdictReason, string | null | undefined, boolean]>([
    ['degraded, with an overlay commit, enabled', true, 'degraded', O, true],
    ['degraded, but auto-rollback disabled', false, 'degraded', O, false],
    ['a sync timeout (may be a slow sync)', true, 'sync-timeout', O, false],
    ['a failed step', true, 'step-failed', O, false],
    ['healthy', true, 'healthy', O, false],
    ['superseded', true, 'superseded', O, false],
    ['degraded without an overlay commit (null: nothing committed)', true, 'degraded', null, false],
    ['degraded without an overlay commit (absent)', true, 'degraded', undefined, false],
  ])('%s', (_, enabled, reason, overlayCommit, expected) => {
    expect(shouldAutoRollback(enabled, { reason, overlayCommit })).toBe(expected);
  });
});

describe('verdictOfOutcome: a recorded outcome as the verdict its deploy was told', () => {
  test.each<[string, Outcome, ReturnType<typeof verdictOfOutcome>]>([
    [
      'deployed: healthy by default',
      outcome({ kind: 'deployed', message: 'Synced and Healthy', overlayCommit: O }),
      { outcome: 'deployed', reason: 'healthy', message: 'Synced and Healthy', overlayCommit: O },
    ],
    [
      'superseded: superseded by default',
      outcome({ kind: 'superseded', message: 'a newer push', overlayCommit: null }),
      { outcome: 'superseded', reason: 'superseded', message: 'a newer push', overlayCommit: null },
    ],
    [
      'failed: a failed step by default',
      outcome({ kind: 'failed', message: 'git refused the push' }),
      { outcome: 'failed', reason: 'step-failed', message: 'git refused the push', overlayCommit: undefined },
    ],
    [
      'failed: the recorded reason wins (degraded)',
      outcome({ kind: 'failed', reason: 'degraded', message: 'Degraded', overlayCommit: O }),
      { outcome: 'failed', reason: 'degraded', message: 'Degraded', overlayCommit: O },
    ],
    [
      'failed: the recorded reason wins (sync timeout)',
      outcome({ kind: 'failed', reason: 'sync-timeout', message: 'no sync', overlayCommit: O }),
      { outcome: 'failed', reason: 'sync-timeout', message: 'no sync', overlayCommit: O },
    ],
    ['a rollback is no deploy verdict', outcome({ kind: 'rolled-back' }), undefined],
    ['a refused rollback is no deploy verdict', outcome({ kind: 'rollback-refused' }), undefined],
    ['an ignored request is no verdict', outcome({ kind: 'ignored' }), undefined],
    ['a gone environment is no verdict', outcome({ kind: 'gone' }), undefined],
  ])('%s', (_, recorded, expected) => {
    expect(verdictOfOutcome(recorded)).toStrictEqual(expected);
  });
});

describe('handover: what a deploy handed over again finds', () => {
  const mine = 'deploy-mine';
  const other = 'deploy-other';
  const failed = outcome({ kind: 'failed', workflowId: mine, message: 'first try failed' });
  const deployed = outcome({ kind: 'deployed', workflowId: mine, message: 'deployed' });
  const superseded = outcome({ kind: 'superseded', workflowId: mine, message: 'superseded' });
  const ignored = outcome({ kind: 'ignored', workflowId: mine, message: 'ignored' });

  test.each<[string, HandoverState, Handover]>([
    ['unknown: enqueue', environmentState().build(), 'enqueue'],
    [
      'already in the queue',
      environmentState()
        .queued(candidate({ commit: C, workflowId: mine }))
        .build(),
      'in-queue',
    ],
    ['being applied', environmentState().applying(mine).build(), 'applying'],
    [
      'another deploy is queued, applied and done: enqueue',
      environmentState()
        .queued(candidate({ commit: C, workflowId: other }))
        .applying(other)
        .recorded(outcome({ kind: 'deployed', workflowId: other }))
        .build(),
      'enqueue',
    ],
    ['a recorded outcome: its verdict', environmentState().recorded(deployed).build(), { verdictOf: deployed }],
    [
      'the newest outcome of that deploy wins (failed, then deployed)',
      environmentState().recorded(failed, deployed).build(),
      { verdictOf: deployed },
    ],
    [
      'the newest outcome of that deploy wins (deployed, then superseded)',
      environmentState().recorded(deployed, superseded).build(),
      { verdictOf: superseded },
    ],
    [
      'an outcome that is no verdict does not count',
      environmentState().recorded(failed, ignored).build(),
      { verdictOf: failed },
    ],
    ['only a non-verdict outcome: enqueue', environmentState().recorded(ignored).build(), 'enqueue'],
    [
      'in the queue goes before a recorded outcome (a rerun)',
      environmentState()
        .recorded(failed)
        .queued(candidate({ commit: C, workflowId: mine }))
        .build(),
      'in-queue',
    ],
    [
      'being applied goes before a recorded outcome (a rerun)',
      environmentState().recorded(failed).applying(mine).build(),
      'applying',
    ],
  ])('%s', (_, state, expected) => {
    expect(handover(state, mine)).toEqual(expected);
  });

  test('a new run of a failed deploy takes its own turn: only its own run is told a recorded verdict', () => {
    const first = outcome({ kind: 'failed', workflowId: mine, runId: 'run-1', message: 'Argo CD timed out' });
    const state = environmentState().recorded(first).build();
    expect(handover(state, mine, 'run-2')).toBe('enqueue');
    expect(handover(state, mine, 'run-1')).toEqual({ verdictOf: first });
  });
});
