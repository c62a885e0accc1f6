import { WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Activities } from '../../src/activities';
import { startDeploy } from '../../src/client/deploys';
import {
  environmentHandle,
  listTargets,
  pauseEnvironment,
  productionTarget,
  resumeEnvironment,
  rollbackEnvironment,
} from '../../src/client/environment';
import { statusQuery, type DeployPhase, type DeployStatus } from '../../src/contract/deploy';
import {
  environmentStatusQuery,
  requestDeployUpdate,
  rollbackSignal,
  rollbackUpdate,
  type EnvironmentView,
  type ProductionTarget,
} from '../../src/contract/environment';
import { workflowTestConfig } from '../support/workflow-config';
import {
  argoAt,
  ciRun,
  deployResult,
  endTracked,
  gate,
  planFor,
  realTime,
  recorded,
  runWorker,
  scenario,
  type Scenario,
  settingsFor,
  timeSkipping,
  unused,
  until,
  watched,
  reportingOff,
} from './fakes';

/**
 * Production's environment workflow on the time-skipping server: its updates and their answers,
 * the rollback signal, and what happens to queued deploys when `env-<name>` is terminated.
 */
const commitOf = (i: number) => i.toString(16).padStart(40, '0');
const indexOf = (commit: string) => parseInt(commit, 16);
const tagOf = (commit: string) => `sha-${commit.slice(0, 7)}`;
const ROLLBACK_COMMIT = 'b'.repeat(40);
/** Production's history, newest first: it runs sha-2222222, which was deployed after sha-1111111. */
const target = (tag: string, over: Partial<ProductionTarget> = {}): ProductionTarget => ({
  tag,
  overlayCommit: tag.slice(4).padEnd(40, '0'),
  date: '2026-01-01T00:00:00Z',
  by: 'ci',
  subject: `deploy: production to ${tag}`,
  kind: 'deploy',
  imagesExist: true,
  ...over,
});
const HISTORY = [target('sha-2222222'), target('sha-1111111')];

let env: TestWorkflowEnvironment;
/** Several deploys wait for verdicts at once here: results are awaited in real time (see realTime). */
let clock: Client;
beforeAll(async () => {
  env = await timeSkipping();
  clock = realTime(env);
});
afterEach(() => endTracked(env.client));
afterAll(() => env?.teardown());

interface Production extends Scenario {
  /** The environment, by workflow id (its current run). */
  handle(): WorkflowHandle;
}

let counter = 0;
function production(extra: Record<string, unknown> = {}): Production {
  const n = ++counter;
  const config = workflowTestConfig(`env${n}`, `env-test-${n}`, extra);
  return {
    ...scenario(config, `o/env${n}`, productionTarget(config)),
    handle: () => environmentHandle(env.client, config),
  };
}

/**
 * Steps over a linear main (commit i descends from every commit below i) whose overlay names the
 * tag of the newest commit committed so far: an older one is superseded by the overlay step.
 */
function fakes(p: Production, over: Partial<Activities> = {}) {
  let running = commitOf(0);
  return recorded({
    ...reportingOff(),
    targetSettings: async ({ target: t }) => settingsFor(p.config, t),
    detect: async () => planFor(p.config, 'code'),
    findCiRun: async ({ commit }) => ciRun(commit, 'completed', 'success'),
    readRunningTag: async () => ({ tag: 'sha-2222222' }),
    validateImages: async ({ tag }) => [{ name: 'api', reference: `acr.test/api:${tag}`, digest: 'sha256:aa' }],
    updateOverlay: async (change) => {
      if (change.kind === 'rollback')
        return { outcome: 'committed', overlayCommit: ROLLBACK_COMMIT, revision: ROLLBACK_COMMIT };
      const commit = (change as { commit: string }).commit;
      if (indexOf(commit) < indexOf(running))
        return {
          outcome: 'superseded',
          overlayCommit: null,
          revision: running,
          current: { tag: tagOf(running), commit: running },
        };
      running = commit;
      const overlayCommit = `f${commit.slice(1)}`;
      return { outcome: 'committed', overlayCommit, revision: overlayCommit };
    },
    observeArgoApp: async ({ revision }) => argoAt(revision),
    listTargets: async ({ limit }) => HISTORY.slice(0, limit ?? 20),
    orderCommits: async ({ commits }) => [commits.reduce((a, b) => (indexOf(a) > indexOf(b) ? a : b))],
    readPullRequest: unused('production'),
    listPullCommits: unused('production'),
    findImages: unused('production'),
    removePreviewBranch: unused('production'),
    ...over,
  });
}

function withWorker<T>(p: Production, activities: Activities, work: () => Promise<T>): Promise<T> {
  return runWorker(env.nativeConnection, p.config.temporal.taskQueue, activities, work);
}

const view = (p: Production) => p.handle().query(environmentStatusQuery);
function untilView(p: Production, what: string, done: (v: EnvironmentView) => boolean): Promise<EnvironmentView> {
  return until(`${p.environmentId}: ${what}`, async () => {
    const v = await view(p);
    return done(v) ? v : undefined;
  });
}
const statusOf = (p: Production, commit: string): Promise<DeployStatus> =>
  env.client.workflow.getHandle(p.idOf(commit)).query(statusQuery);
function untilPhase(p: Production, commit: string, phase: DeployPhase): Promise<DeployStatus> {
  return until(`${commit.slice(0, 7)} to be ${phase}`, async () => {
    const status = await statusOf(p, commit);
    return status.phase === phase ? status : undefined;
  });
}

/** The message a rejected update (its validator's refusal) carries. */
async function rejection(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => {
      throw new Error('expected the update to be rejected');
    },
    (e: unknown) => e as Error,
  );
  return err instanceof WorkflowUpdateFailedError
    ? ((err.cause as Error | undefined)?.message ?? err.message)
    : err.message;
}

describe('environment workflow: updates return their outcome', () => {
  test('requestDeploy returns {started: true, workflowId}, then {started: false} for the same commit; its validator rejects a commit that is no SHA', async () => {
    const p = production();
    const A = commitOf(1);
    const { activities, calls } = fakes(p);
    await withWorker(p, activities, async () => {
      // The environment already runs (as after any earlier deploy); the update then goes to it.
      await pauseEnvironment(env.client, p.config, { reason: 'hold the deploy in the queue', by: 'test' });
      const first = await watched(env.client, [p.environmentId], startDeploy(env.client, p.config, { commit: A }));
      expect(first).toEqual({
        environmentWorkflowId: p.environmentId,
        workflowId: p.idOf(A),
        started: true,
        note: `started ${p.idOf(A)}`,
      });
      const again = await p.handle().executeUpdate(requestDeployUpdate, { args: [{ commit: A.toUpperCase() }] });
      expect(again).toMatchObject({ workflowId: p.idOf(A), started: false });
      expect(again.note).toMatch(/is running or has run already/);

      const refused = await rejection(p.handle().executeUpdate(requestDeployUpdate, { args: [{ commit: 'abc1234' }] }));
      expect(refused).toBe('commit must be a full 40-character commit SHA, got "abc1234"');
      // deployctl's gateway passes the validator's own words on.
      await expect(startDeploy(env.client, p.config, { commit: 'abc1234' })).rejects.toThrow(
        'commit must be a full 40-character commit SHA, got "abc1234"',
      );
      // A rejected update leaves no trace: no request recorded, nothing started.
      const v = await view(p);
      expect(v.requests.map((r) => r.commit)).toEqual([A, A]);
      expect(v.outcomes).toEqual([]);

      await resumeEnvironment(env.client, p.config, { by: 'test' });
      expect(await deployResult(clock, p.environmentId, p.idOf(A))).toMatchObject({ phase: 'succeeded' });
      // Done: the same commit is not deployed twice.
      const done = await startDeploy(env.client, p.config, { commit: A });
      expect(done).toMatchObject({ workflowId: p.idOf(A), started: false });
    });
    expect(calls.detect).toHaveLength(1);
  });

  test('pause and resume return the view with paused set, then cleared; a pause without a reason is rejected', async () => {
    const p = production();
    const { activities } = fakes(p);
    await withWorker(p, activities, async () => {
      const paused = await pauseEnvironment(env.client, p.config, { reason: 'release freeze', by: 'alice' });
      expect(paused).toMatchObject({ repository: p.repository, target: p.target, queue: [] });
      expect(paused.paused).toMatchObject({ reason: 'paused by alice: release freeze', by: 'alice' });
      expect((await view(p)).paused).toEqual(paused.paused);

      await expect(pauseEnvironment(env.client, p.config, { reason: ' ', by: 'alice' })).rejects.toThrow(
        /a pause needs a reason/,
      );
      await expect(resumeEnvironment(env.client, p.config, { by: '' })).rejects.toThrow(/by must be one line/);
      expect((await view(p)).paused).toEqual(paused.paused);

      const resumed = await resumeEnvironment(env.client, p.config, { by: 'alice' });
      expect(resumed.paused).toBeUndefined();
      expect(resumed.held).toBeUndefined();
      expect((await view(p)).paused).toBeUndefined();
    });
  });

  test("targets returns production's targets; its validator rejects limit 0", async () => {
    const p = production();
    const { activities, calls } = fakes(p);
    await withWorker(p, activities, async () => {
      expect(await listTargets(env.client, p.config, 1)).toEqual([HISTORY[0]]);
      expect(await listTargets(env.client, p.config)).toEqual(HISTORY);
      await expect(listTargets(env.client, p.config, 0)).rejects.toThrow(
        'targets: limit must be an integer from 1 to 100',
      );
    });
    // The environment's own read at its start (which may interleave with the updates), then the two answered;
    // the rejected one never ran.
    const reads = calls.listTargets.map((c) => JSON.stringify(c)).sort();
    expect(reads).toEqual(['{"limit":1}', '{"limit":1}', '{}']);
  });

  test('rollback returns its outcome: rolled back to the previous tag, then held until resumed', async () => {
    const p = production();
    const { activities, calls } = fakes(p);
    await withWorker(p, activities, async () => {
      let accepted = false;
      const outcome = await rollbackEnvironment(
        env.client,
        p.config,
        { to: 'previous', reason: 'errors after sha-2222222', requestedBy: 'alice' },
        { wait: true, accepted: () => void (accepted = true) },
      );
      expect(accepted).toBe(true);
      expect(outcome).toMatchObject({
        kind: 'rolled-back',
        tag: 'sha-1111111',
        by: 'alice',
        workflowId: `${p.environmentId}/rollback-1`,
        overlayCommit: ROLLBACK_COMMIT,
      });
      expect(outcome!.message).toMatch(/rolled back to sha-1111111 by alice: errors after sha-2222222/);
      const v = await view(p);
      expect(v.current).toMatchObject({ tag: 'sha-1111111', by: 'alice', overlayCommit: ROLLBACK_COMMIT });
      expect(v.held).toMatchObject({ tag: 'sha-1111111', by: 'alice' });
      expect(v.outcomes.at(-1)).toEqual(outcome);

      const resumed = await resumeEnvironment(env.client, p.config, { by: 'alice' });
      expect(resumed.held).toBeUndefined();
    });
    expect(calls.validateImages).toEqual([{ tag: 'sha-1111111' }]);
    expect(calls.updateOverlay).toEqual([
      {
        kind: 'rollback',
        tag: 'sha-1111111',
        workflowId: `${p.environmentId}/rollback-1`,
        reason: 'errors after sha-2222222',
        requestedBy: 'alice',
      },
    ]);
    expect(calls.observeArgoApp![0]).toMatchObject({ revision: ROLLBACK_COMMIT, application: 'app' });
  });

  test('rollback refused: the validator rejects to: "latest" naming the target; a target whose images are missing returns rollback-refused, the overlay untouched', async () => {
    const p = production();
    const { activities, calls } = fakes(p, {
      validateImages: async ({ tag }) => {
        throw ApplicationFailure.nonRetryable(`image not found: acr.test/api:${tag}`, 'ImageNotFound');
      },
    });
    await withWorker(p, activities, async () => {
      await resumeEnvironment(env.client, p.config, { by: 'test' }); // the environment runs
      const message = await rejection(
        p.handle().executeUpdate(rollbackUpdate, {
          args: [{ to: 'latest', reason: 'bad deploy', requestedBy: 'alice' }],
        }),
      );
      expect(message).toBe('rollback target must be "previous" or a tag like sha-abc1234, got "latest"');
      const untouched = await view(p);
      expect(untouched.pendingRollbacks).toEqual([]);
      expect(untouched.outcomes).toEqual([]);

      const refused = await rollbackEnvironment(
        env.client,
        p.config,
        { to: 'sha-3333333', reason: 'back to the known good one', requestedBy: 'alice' },
        { wait: true },
      );
      expect(refused).toMatchObject({ kind: 'rollback-refused', tag: 'sha-3333333', by: 'alice' });
      expect(refused!.message).toMatch(
        /^rollback to sha-3333333 refused, the overlay is untouched: image not found: acr\.test\/api:sha-3333333/,
      );
      const v = await view(p);
      expect(v.held).toBeUndefined();
      expect(v.current?.tag).toBe('sha-2222222');
    });
    expect(calls.updateOverlay).toBeUndefined();
  });

  test('the rollback signal (the Web UI) takes the same path: production ends rolled back and held; a bad one is recorded refused', async () => {
    const p = production();
    const { activities, calls } = fakes(p);
    await withWorker(p, activities, async () => {
      await resumeEnvironment(env.client, p.config, { by: 'test' }); // the environment runs
      await p.handle().signal(rollbackSignal, { to: 'latest', reason: 'bad deploy', requestedBy: 'bob' });
      await p.handle().signal(rollbackSignal, { to: 'previous', reason: 'errors', requestedBy: 'bob' });
      const v = await untilView(p, 'rolled back', (x) => x.outcomes.some((o) => o.kind === 'rolled-back'));
      expect(v.outcomes.map((o) => o.kind)).toEqual(['rollback-refused', 'rolled-back']);
      expect(v.outcomes[0]).toMatchObject({ by: 'bob', message: expect.stringMatching(/got "latest"/) });
      expect(v.outcomes[1]).toMatchObject({
        tag: 'sha-1111111',
        by: 'bob',
        workflowId: `${p.environmentId}/rollback-1`,
      });
      expect(v.current?.tag).toBe('sha-1111111');
      expect(v.held).toMatchObject({
        tag: 'sha-1111111',
        by: 'bob',
        reason: 'rolled back to sha-1111111 by bob: errors',
      });
    });
    expect(calls.updateOverlay).toEqual([expect.objectContaining({ kind: 'rollback', tag: 'sha-1111111' })]);
  });
});

describe('environment workflow: a terminated env-<name>', () => {
  /**
   * Pauses production, gets deploys of `commits` to `held`, terminates the environment: the deploys
   * lost their place in its queue. `git` holds the environment's read of what production runs in
   * any later run until the test opens it (a slow git at start), so the deploys handed over meanwhile
   * are all in the new run's queue before it takes a turn.
   */
  async function heldThenTerminated(p: Production, commits: string[], onTerminate = () => undefined) {
    await pauseEnvironment(env.client, p.config, { reason: 'collect', by: 'test' });
    for (const commit of commits) {
      const started = await watched(env.client, [p.environmentId], startDeploy(env.client, p.config, { commit }));
      expect(started).toMatchObject({ started: true });
    }
    for (const commit of commits) {
      const status = await untilPhase(p, commit, 'held');
      expect(status.note).toMatch(/held: paused by test: collect/);
    }
    const { runId } = await p.handle().describe();
    onTerminate();
    await p.handle().terminate('lost by hand');
    return runId;
  }

  function slowGitAfterTerminate(p: Production) {
    const git = gate();
    let terminated = false;
    const listed = fakes(p).activities.listTargets;
    const { activities, calls } = fakes(p, {
      listTargets: async (input) => {
        if (terminated) await git.opened;
        return listed(input);
      },
    });
    return { activities, calls, git, terminate: () => void (terminated = true) };
  }

  test('two deploys held when it is terminated: started again by a resume, both complete by the rules with no other step', async () => {
    const p = production({ environment: { reannounceAfter: '2s' } });
    const [A, B] = [commitOf(1), commitOf(2)];
    const { activities, calls, git, terminate } = slowGitAfterTerminate(p);
    await withWorker(p, activities, async () => {
      const terminatedRun = await heldThenTerminated(p, [A, B], terminate);
      // A new run: it knows nothing of the deploys (one may have handed itself over already).
      const resumed = await resumeEnvironment(env.client, p.config, { by: 'test' });
      expect(resumed.outcomes).toEqual([]);
      expect(resumed.paused).toBeUndefined();
      expect((await p.handle().describe()).runId).not.toBe(terminatedRun);
      // Each deploy hands itself over again within environment.reannounceAfter: the new run learns of both.
      await untilView(p, 'both deploys queued again', (v) => v.queue.length === 2);
      git.open();
      const [a, b] = await Promise.all([A, B].map((c) => deployResult(clock, p.environmentId, p.idOf(c))));
      // B is newer in git history: it deploys and A, whose code B's tag contains, is superseded.
      expect(b).toMatchObject({ phase: 'succeeded', tag: tagOf(B), verdict: { outcome: 'deployed' } });
      expect(a).toMatchObject({ phase: 'superseded', verdict: { outcome: 'superseded', reason: 'superseded' } });
      const v = await view(p);
      expect(v.outcomes.map((o) => [o.kind, o.commit])).toEqual([
        ['superseded', A],
        ['deployed', B],
      ]);
      expect(v.current?.tag).toBe(tagOf(B));
      expect((await p.handle().describe()).status.name).toBe('RUNNING');
    });
    expect(calls.updateOverlay).toEqual([expect.objectContaining({ kind: 'deploy', commit: B })]);
  });

  test('deploys handed over again to a new run that is not paused say queued, not held', async () => {
    const p = production({ environment: { reannounceAfter: '2s' } });
    const [A, B] = [commitOf(1), commitOf(2)];
    const { activities, git, terminate } = slowGitAfterTerminate(p);
    await withWorker(p, activities, async () => {
      await heldThenTerminated(p, [A, B], terminate);
      await resumeEnvironment(env.client, p.config, { by: 'test' });
      await untilView(p, 'both deploys queued again', (v) => v.queue.length === 2);
      const statuses = await Promise.all([A, B].map((c) => statusOf(p, c)));
      git.open();
      // Nothing holds them: `deployctl resume` is not what they wait for.
      expect(statuses.map((s) => s.phase)).toEqual(['queued', 'queued']);
      expect(statuses.map((s) => s.note)).not.toContainEqual(expect.stringMatching(/deployctl resume/));
      await Promise.all([A, B].map((c) => deployResult(clock, p.environmentId, p.idOf(c))));
    });
  });

  test('not started again by anyone: the held deploy starts env-<name> itself after reannounceAfter and completes', async () => {
    const p = production({ environment: { reannounceAfter: '2s' } });
    const A = commitOf(1);
    const { activities, calls } = fakes(p);
    await withWorker(p, activities, async () => {
      const terminatedRun = await heldThenTerminated(p, [A]);
      const result = await deployResult(clock, p.environmentId, p.idOf(A));
      expect(result).toMatchObject({ phase: 'succeeded', tag: tagOf(A), verdict: { outcome: 'deployed' } });
      const description = await p.handle().describe();
      expect(description.runId).not.toBe(terminatedRun);
      expect(description.status.name).toBe('RUNNING');
      // The deploy started it (as an abandoned child, so it outlives the deploy), on its own.
      expect(description.parentExecution?.workflowId).toBe(p.idOf(A));
      const v = await view(p);
      expect(v.outcomes.map((o) => [o.kind, o.commit])).toEqual([['deployed', A]]);
      expect(v.paused).toBeUndefined();
      // It found the environment gone only when its wait for a verdict ran out, and handed itself over again.
      const events = (await env.client.workflow.getHandle(p.idOf(A)).fetchHistory()).events ?? [];
      const handovers = events.filter(
        (e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName === 'candidateReady',
      ).length;
      const restarts = events.filter(
        (e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name === 'environment',
      ).length;
      expect(restarts).toBe(1);
      expect(handovers).toBeGreaterThanOrEqual(3); // the first, the one that failed, the one to the new run
    });
    expect(calls.updateOverlay).toEqual([expect.objectContaining({ kind: 'deploy', commit: A })]);
  });
});
