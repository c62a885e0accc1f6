import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { Activities } from '../../src/activities';
import type { ArgoObservation } from '../../src/plan/argocd';
import type { CiRun } from '../../src/plan/ci';
import { ciCompletedSignal, deployWorkflowId, statusQuery } from '../../src/workflows/definitions';
import { startDeploy } from '../../src/client/deploys';
import { environmentStatusQuery, type EnvironmentView } from '../../src/workflows/environment-definitions';
import type { DeployPlan, DeployStatus } from '../../src/workflows/types';
import { timeSkippingServerPath } from '../support/temporal';
import { workflowTestConfig } from '../support/workflow-config';

const COMMIT = 'e43f28a9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6';
const OVERLAY_COMMIT = 'f'.repeat(40);
const MIN = 60_000;

const plan = (path: DeployPlan['path']): DeployPlan => ({
  path,
  reason: path === 'none' ? 'skipped' : `${path} changed`,
  images: path === 'none' ? [] : ['api', 'workers'],
  tag: path === 'code' ? 'sha-e43f28a' : undefined,
  changedFiles: 1,
  repositoryUrl: 'https://github.test/o/r',
  // The time-skipping server cannot register custom search attributes; the E2E tests cover them.
  searchAttributes: false,
  ciTimeoutMs: 60 * MIN,
  ciPollInitialMs: 15_000,
  ciPollMaxMs: 2 * MIN,
  syncTimeoutMs: 15 * MIN,
});
const run = (status: string, conclusion: string | null): CiRun => ({
  id: 7,
  status,
  conclusion,
  url: 'https://github.test/o/r/actions/runs/7',
  headSha: COMMIT,
});
const argo = (over: Partial<ArgoObservation> = {}): ArgoObservation => ({
  syncStatus: 'Synced',
  syncRevision: OVERLAY_COMMIT,
  revisionContainsTarget: true,
  healthStatus: 'Healthy',
  operationPhase: 'Succeeded',
  operationFinishedAt: '2026-01-01T00:00:00Z',
  reconciledAt: '2026-01-01T00:00:01Z',
  ...over,
});

const unused = async (): Promise<never> => {
  throw new Error('not a production step');
};

/** Activities replaced by recording fakes; each test overrides what its scenario needs. */
function fakes(over: Partial<Activities> = {}) {
  const calls: Record<string, unknown[]> = {};
  const record =
    <A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>) =>
    async (...args: A) => {
      (calls[name] ??= []).push(args[0]);
      return fn(...args);
    };
  const base: Activities = {
    detectChanges: async () => plan('code'),
    findCiRun: async () => run('completed', 'success'),
    readRunningTag: async () => ({ tag: 'sha-1111111' }),
    validateImages: async ({ tag }) => [
      { name: 'api', reference: `acr.test/api:${tag}`, digest: 'sha256:aa' },
      { name: 'workers', reference: `acr.test/workers:${tag}`, digest: 'sha256:bb' },
    ],
    updateOverlay: async () => ({ outcome: 'committed', overlayCommit: OVERLAY_COMMIT, revision: OVERLAY_COMMIT }),
    observeArgoApp: async () => argo(),
    environmentSettings: async () => ({
      syncTimeoutMs: 15 * MIN,
      autoRollback: false,
      continueAsNewAfter: 100,
      searchAttributes: false,
    }),
    listTargets: async () => [],
    orderCommits: async ({ commits }) => commits,
    // Preview steps: production deploys never call them.
    readPullRequest: unused,
    listPullCommits: unused,
    detectPreview: unused,
    findPreviewImages: unused,
    previewSettings: unused,
    removePreviewBranch: unused,
  };
  const merged = { ...base, ...over };
  const activities = Object.fromEntries(
    Object.entries(merged).map(([name, fn]) => [name, record(name, fn as never)]),
  ) as unknown as Activities;
  return { activities, calls };
}

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: timeSkippingServerPath() } },
  });
});
afterAll(() => env?.teardown());

let counter = 0;
let repository = '';
/** Starts the deploy the way the relay does (through startDeploy, with a fresh environment) and awaits it. */
async function deploy(
  activities: Activities,
  during?: (handle: WorkflowHandle) => Promise<void>,
): Promise<DeployStatus> {
  const taskQueue = `test-${++counter}`;
  repository = `o/r${counter}`;
  const config = workflowTestConfig(`r${counter}`, taskQueue);
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowsPath: require.resolve('../../src/workflows'),
    activities,
  });
  return worker.runUntil(async () => {
    const { workflowId } = await startDeploy(env.client, config, { commit: COMMIT });
    const handle = env.client.workflow.getHandle(workflowId);
    await during?.(handle);
    return handle.result() as Promise<DeployStatus>;
  });
}

async function failure(promise: Promise<unknown>): Promise<{ message: string; status: DeployStatus }> {
  const err = await promise.then(
    () => {
      throw new Error('expected the deploy to fail');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
  return { message: cause.message, status: cause.details?.[0] as DeployStatus };
}

describe('productionDeploy workflow', () => {
  test('a CI run that takes 45 minutes: polls on growing timers, then deploys sha-<commit>', async () => {
    const started = await env.currentTimeMs();
    const { activities, calls } = fakes({
      findCiRun: async () =>
        (await env.currentTimeMs()) - started >= 45 * MIN ? run('completed', 'success') : run('in_progress', null),
    });
    const result = await deploy(activities);
    expect(result).toMatchObject({
      phase: 'succeeded',
      path: 'code',
      tag: 'sha-e43f28a',
      overlayCommit: OVERLAY_COMMIT,
      digests: { api: 'sha256:aa', workers: 'sha256:bb' },
    });
    expect(result.ciRun).toEqual({ id: 7, url: 'https://github.test/o/r/actions/runs/7', conclusion: 'success' });
    // 15 s growing to 2 min over 45 minutes is ~25 probes, not one every 15 s (180).
    expect(calls.findCiRun!.length).toBeGreaterThan(20);
    expect(calls.findCiRun!.length).toBeLessThan(30);
    expect(calls.updateOverlay).toEqual([
      { kind: 'deploy', tag: 'sha-e43f28a', commit: COMMIT, workflowId: deployWorkflowId(repository, COMMIT) },
    ]);
    expect(calls.observeArgoApp![0]).toEqual({ revision: OVERLAY_COMMIT, refresh: true });
    expect(Object.keys(result.phases)).toEqual([
      'detecting',
      'waiting-for-ci',
      'validating',
      'queued',
      'committing',
      'syncing',
      'succeeded',
    ]);
  });

  test('the ciCompleted signal moves a waiting deploy on without another poll', async () => {
    const { activities, calls } = fakes({ findCiRun: async () => run('in_progress', null) });
    const result = await deploy(activities, async (handle) => {
      // The first probe happens at once; the next would be 15 s later in workflow time.
      while ((await handle.query(statusQuery)).phase !== 'waiting-for-ci') await new Promise((r) => setTimeout(r, 20));
      await handle.signal(ciCompletedSignal, { ...run('completed', 'success'), headSha: 'a'.repeat(40) }); // another commit: ignored
      await handle.signal(ciCompletedSignal, run('completed', 'success'));
    });
    expect(result.phase).toBe('succeeded');
    expect(calls.findCiRun!.length).toBeLessThanOrEqual(2);
  });

  test('failed CI fails the deploy with the run URL and leaves the overlay alone', async () => {
    const { activities, calls } = fakes({ findCiRun: async () => run('completed', 'failure') });
    const { message, status } = await failure(deploy(activities));
    expect(message).toMatch(/CI run failure .*https:\/\/github\.test\/o\/r\/actions\/runs\/7.*overlay was not changed/);
    expect(status).toMatchObject({ phase: 'failed', ciRun: { conclusion: 'failure' } });
    expect(calls.validateImages).toBeUndefined();
    expect(calls.updateOverlay).toBeUndefined();
  });

  test('ci.rerunWindow: a failed run re-run into a success ("Re-run failed jobs", attempt 2) deploys the commit once', async () => {
    const started = await env.currentTimeMs();
    const rerun = (status: string, conclusion: string | null): CiRun => ({ ...run(status, conclusion), attempt: 2 });
    const { activities, calls } = fakes({
      detectChanges: async () => ({ ...plan('code'), ciRerunWindowMs: 30 * MIN }),
      findCiRun: async () => {
        const elapsed = (await env.currentTimeMs()) - started;
        if (elapsed < 10 * MIN) return { ...run('completed', 'failure'), attempt: 1 };
        return elapsed < 20 * MIN ? rerun('in_progress', null) : rerun('completed', 'success');
      },
    });
    const status = await deploy(activities);
    expect(status).toMatchObject({ phase: 'succeeded', tag: 'sha-e43f28a', ciRun: { conclusion: 'success' } });
    expect(calls.updateOverlay).toHaveLength(1);
  });

  test('ci.rerunWindow: a failed run that nobody re-runs fails the deploy when the window closes, saying so', async () => {
    const started = await env.currentTimeMs();
    const { activities, calls } = fakes({
      detectChanges: async () => ({ ...plan('code'), ciRerunWindowMs: 30 * MIN }),
      findCiRun: async () => ({ ...run('completed', 'failure'), attempt: 1 }),
    });
    const { message, status } = await failure(deploy(activities));
    expect(message).toMatch(/CI run failure .*no re-run succeeded within 30 min \(ci\.rerunWindow\)/);
    expect(status.phase).toBe('failed');
    expect((await env.currentTimeMs()) - started).toBeGreaterThanOrEqual(30 * MIN);
    expect(calls.updateOverlay).toBeUndefined();
  });

  test('ci.rerunWindow: a re-run signalled by the relay moves the waiting deploy on at once', async () => {
    let signalledRerun = false;
    const { activities, calls } = fakes({
      detectChanges: async () => ({ ...plan('code'), ciRerunWindowMs: 30 * MIN }),
      findCiRun: async () => ({ ...run('completed', 'failure'), attempt: 1 }),
    });
    const status = await deploy(activities, async (handle) => {
      for (let i = 0; i < 100 && !(await handle.query(statusQuery)).note?.includes('re-run'); i++)
        await new Promise((r) => setTimeout(r, 50));
      expect((await handle.query(statusQuery)).note).toMatch(/waiting 30 min \(ci\.rerunWindow\) for a re-run/);
      await handle.signal(ciCompletedSignal, { ...run('completed', 'success'), attempt: 2 });
      signalledRerun = true;
    });
    expect(signalledRerun).toBe(true);
    expect(status.phase).toBe('succeeded');
    expect(calls.findCiRun).toHaveLength(1);
  });

  test('ci.rerunWindow: a run that drops out of the list between polls (API lag) does not reopen the window', async () => {
    const started = await env.currentTimeMs();
    const polledAt: number[] = [];
    const { activities } = fakes({
      detectChanges: async () => ({ ...plan('code'), ciRerunWindowMs: 30 * MIN }),
      findCiRun: async () => {
        polledAt.push((await env.currentTimeMs()) - started);
        return polledAt.length % 2 ? { ...run('completed', 'failure'), attempt: 1 } : null;
      },
    });
    const { message } = await failure(deploy(activities));
    expect(message).toMatch(/no re-run succeeded within 30 min/);
    // The window opened at the first failure and closed 30 min later: the gaps did not reopen it.
    expect(polledAt.at(-1)!).toBeGreaterThanOrEqual(30 * MIN);
    expect(polledAt.at(-1)!).toBeLessThan(31 * MIN);
  });

  test('a CI probe GitHub does not answer is one more poll without news: the success signal still deploys', async () => {
    const { activities, calls } = fakes({
      findCiRun: async () => {
        throw new Error('GitHub api.github.com did not answer within 15 s');
      },
    });
    const status = await deploy(activities, async (handle) => {
      for (let i = 0; i < 100 && !(await handle.query(statusQuery)).note?.includes('did not answer'); i++)
        await new Promise((r) => setTimeout(r, 50));
      expect((await handle.query(statusQuery)).note).toMatch(/GitHub did not answer the CI probe .*asking again/);
      await handle.signal(ciCompletedSignal, run('completed', 'success'));
    });
    expect(status.phase).toBe('succeeded');
    expect(calls.findCiRun!.length).toBeGreaterThanOrEqual(1);
  });

  test('a CI probe that fails for good (a refused token) fails the deploy at once', async () => {
    const { activities, calls } = fakes({
      findCiRun: async () => {
        throw ApplicationFailure.nonRetryable(
          'GitHub refused GITHUB_TOKEN reading the CI runs (HTTP 401)',
          'Unauthorized',
        );
      },
    });
    const { message } = await failure(deploy(activities));
    expect(message).toMatch(/GitHub refused GITHUB_TOKEN/);
    expect(calls.findCiRun).toHaveLength(1);
  });

  test('CI that never finishes times out after ci.timeout', async () => {
    const { activities, calls } = fakes({ findCiRun: async () => null });
    const { message, status } = await failure(deploy(activities));
    expect(message).toMatch(/CI did not finish within 60 min \(no CI run was found/);
    expect(status.phase).toBe('failed');
    expect(calls.updateOverlay).toBeUndefined();
  });

  test('a merge commit whose message makes GitHub skip CI fails at once instead of waiting an hour', async () => {
    const { activities, calls } = fakes({
      detectChanges: async () => ({ ...plan('code'), ciSkipped: '[skip ci]' }),
      findCiRun: async () => null,
    });
    const { message } = await failure(deploy(activities));
    expect(message).toMatch(
      /CI does not run for e43f28a: its commit message contains "\[skip ci\]".*push a commit without the marker/,
    );
    expect(calls.findCiRun).toHaveLength(2); // the first probe may come before GitHub created the run

    expect(calls.updateOverlay).toBeUndefined();
  });

  test('Path 2 (k8s only) reads the running tag, validates it and confirms the merge commit without a commit', async () => {
    const { activities, calls } = fakes({
      detectChanges: async () => plan('k8s'),
      observeArgoApp: async () => argo({ syncRevision: COMMIT }),
    });
    const result = await deploy(activities);
    expect(result).toMatchObject({ phase: 'succeeded', path: 'k8s', tag: 'sha-1111111' });
    expect(calls.findCiRun).toBeUndefined();
    expect(calls.validateImages).toEqual([{ tag: 'sha-1111111' }]);
    expect(calls.updateOverlay).toBeUndefined();
    expect(calls.observeArgoApp![0]).toEqual({ revision: COMMIT, refresh: true });
  });

  test('docs only: skipped at once, nothing else runs', async () => {
    const { activities, calls } = fakes({ detectChanges: async () => plan('none') });
    const result = await deploy(activities);
    expect(result).toMatchObject({ phase: 'skipped', path: 'none', reason: 'skipped' });
    expect(Object.keys(calls).filter((name) => !['environmentSettings', 'listTargets'].includes(name))).toEqual([
      'detectChanges',
    ]);
  });

  test('a missing image stops the deploy before the overlay', async () => {
    const { activities, calls } = fakes({
      validateImages: async () => {
        throw ApplicationFailure.nonRetryable('image not found: acr.test/api:sha-e43f28a', 'ImageNotFound');
      },
    });
    const { message, status } = await failure(deploy(activities));
    expect(message).toBe('image not found: acr.test/api:sha-e43f28a');
    expect(status.phase).toBe('failed');
    expect(calls.validateImages).toHaveLength(1);
    expect(calls.updateOverlay).toBeUndefined();
  });

  test('transient step failures are retried', async () => {
    let attempts = 0;
    const { activities } = fakes({
      validateImages: async ({ tag }) => {
        if (++attempts < 3) throw new Error('registry 503');
        return [{ name: 'api', reference: `r/api:${tag}`, digest: 'sha256:cc' }];
      },
    });
    expect((await deploy(activities)).phase).toBe('succeeded');
    expect(attempts).toBe(3);
  });

  test('Argo CD Degraded fails the deploy with its message', async () => {
    const { activities } = fakes({
      observeArgoApp: async () =>
        argo({ healthStatus: 'Degraded', healthMessage: 'Deployment "api" exceeded its progress deadline' }),
    });
    const { message } = await failure(deploy(activities));
    expect(message).toMatch(/Degraded .*Deployment "api" exceeded its progress deadline/);
  });

  test('health is not trusted until Argo CD reconciled after the sync, then the sync timeout applies', async () => {
    // A 1-minute sync timeout: polls after 2, 4, 8 and then 15 s. (Kept short so the test holds even when the
    // time-skipping server does not skip, which it failed to do here for long timer chains under a full run.)
    const { activities, calls } = fakes({
      observeArgoApp: async () => argo({ healthStatus: 'Degraded', reconciledAt: '2025-12-31T23:59:59Z' }),
      environmentSettings: async () => ({
        syncTimeoutMs: 1 * MIN,
        autoRollback: false,
        continueAsNewAfter: 100,
        searchAttributes: false,
      }),
    });
    const { message } = await failure(deploy(activities));
    expect(message).toMatch(/did not report the application synced and healthy within 1 min.*reconcile/);
    expect(calls.observeArgoApp!.length).toBeGreaterThanOrEqual(6);
    expect(calls.observeArgoApp!.length).toBeLessThanOrEqual(9);
  }, 240_000);

  test('automatic rollback (environment.autoRollback): a deploy Argo CD reports Degraded is rolled back to the previous tag and held', async () => {
    const ROLLBACK_COMMIT = 'b'.repeat(40);
    const previous = {
      tag: 'sha-1111111',
      overlayCommit: 'c'.repeat(40),
      date: '2026-01-01T00:00:00Z',
      by: 'ci',
      subject: 'deploy',
      kind: 'deploy' as const,
      imagesExist: true,
    };
    const { activities, calls } = fakes({
      environmentSettings: async () => ({
        syncTimeoutMs: 15 * MIN,
        autoRollback: true,
        continueAsNewAfter: 100,
        searchAttributes: false,
      }),
      listTargets: async () => [{ ...previous, tag: 'sha-e43f28a', overlayCommit: OVERLAY_COMMIT }, previous],
      updateOverlay: async (change) =>
        change.kind === 'rollback'
          ? { outcome: 'committed', overlayCommit: ROLLBACK_COMMIT, revision: ROLLBACK_COMMIT }
          : { outcome: 'committed', overlayCommit: OVERLAY_COMMIT, revision: OVERLAY_COMMIT },
      observeArgoApp: async ({ revision }) =>
        revision === ROLLBACK_COMMIT
          ? argo({ syncRevision: ROLLBACK_COMMIT })
          : argo({ healthStatus: 'Degraded', healthMessage: 'Deployment "api" exceeded its progress deadline' }),
    });
    let view: EnvironmentView | undefined;
    // Watched while the worker runs: the rollback happens in the environment after the deploy ended.
    const { message } = await failure(
      deploy(activities, async () => {
        view = await untilView(`env-test-${counter}`, (v) => v.outcomes.some((o) => o.kind === 'rolled-back'));
      }),
    );
    expect(message).toMatch(/Degraded/);
    if (!view) throw new Error('no environment view');
    expect(view.outcomes.map((o) => o.kind)).toEqual(['failed', 'rolled-back']);
    expect(view.held).toMatchObject({ tag: 'sha-1111111', by: 'gitops-deployer' });
    expect(view.held?.reason).toMatch(/automatic: Argo CD reports Degraded/);
    expect(calls.updateOverlay).toEqual([
      expect.objectContaining({ kind: 'deploy', tag: 'sha-e43f28a' }),
      expect.objectContaining({ kind: 'rollback', tag: 'sha-1111111', requestedBy: 'gitops-deployer' }),
    ]);
  });
});

/** Queries an environment until its view satisfies `done`. */
async function untilView(workflowId: string, done: (view: EnvironmentView) => boolean): Promise<EnvironmentView> {
  for (let i = 0; i < 400; i++) {
    const view = await env.client.workflow
      .getHandle(workflowId)
      .query(environmentStatusQuery)
      .catch(() => undefined);
    if (view && done(view)) return view;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${workflowId} never reached the expected state`);
}
