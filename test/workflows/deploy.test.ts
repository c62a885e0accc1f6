import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Activities } from '../../src/activities';
import { startDeploy } from '../../src/client/deploys';
import { productionTarget } from '../../src/client/environment';
import { ciCompletedSignal, statusQuery, type DeployStatus } from '../../src/contract/deploy';
import { environmentStatusQuery, type EnvironmentView } from '../../src/contract/environment';
import { workflowTestConfig } from '../support/workflow-config';
import {
  argoAt,
  ciRun,
  deployResult,
  endTracked,
  MIN,
  planFor,
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

/** One production deploy at a time on the time-skipping server, its steps replaced by fakes. */
const COMMIT = 'e43f28a9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6';
const OVERLAY_COMMIT = 'f'.repeat(40);
/** What Argo CD ran before our overlay commit. */
const PREVIOUS_REVISION = '1'.repeat(40);

const run = (status: string, conclusion: string | null) => ciRun(COMMIT, status, conclusion);
const argo = (over: Parameters<typeof argoAt>[1] = {}) => argoAt(OVERLAY_COMMIT, over);

// A fresh time-skipping server per test: workflows a test leaves behind (deploys whose re-announce
// timers keep firing) would otherwise keep the next test's clock busy skipping to their timers.
let env: TestWorkflowEnvironment;
beforeEach(async () => {
  env = await timeSkipping();
});
afterEach(async () => {
  await endTracked(env.client);
  await env.teardown();
});

/** One test's production: its own task queue, repository and environment (`env-test-<n>`). */
type Production = Scenario;

let counter = 0;
function production(extra: Record<string, unknown> = {}): Production {
  const n = ++counter;
  const config = workflowTestConfig(`r${n}`, `test-${n}`, extra);
  return scenario(config, `o/r${n}`, productionTarget(config));
}

/** Steps replaced by recording fakes answering from the test's config; each test overrides what its scenario needs. */
function fakes(p: Production, over: Partial<Activities> = {}) {
  return recorded({
    ...reportingOff(),
    targetSettings: async ({ target }) => settingsFor(p.config, target),
    detect: async () => planFor(p.config, 'code'),
    findCiRun: async () => run('completed', 'success'),
    readRunningTag: async () => ({ tag: 'sha-1111111' }),
    validateImages: async ({ tag }) => [
      { name: 'api', reference: `acr.test/api:${tag}`, digest: 'sha256:aa' },
      { name: 'workers', reference: `acr.test/workers:${tag}`, digest: 'sha256:bb' },
    ],
    updateOverlay: async () => ({ outcome: 'committed', overlayCommit: OVERLAY_COMMIT, revision: OVERLAY_COMMIT }),
    observeArgoApp: async () => argo(),
    listTargets: async () => [],
    orderCommits: async ({ commits }) => commits,
    // Preview steps: production deploys never call them.
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

/**
 * Asks the environment for the deploy of COMMIT the way deployctl does (update-with-start of a
 * fresh environment, which starts the deploy as its child) and awaits the deploy, with a worker
 * running. One worker per test: a second one on the task queue would find the environment's tasks
 * still on the first one's sticky queue, which the test server never gives up on.
 */
function deploy(
  p: Production,
  activities: Activities,
  during?: (handle: WorkflowHandle) => Promise<void>,
): Promise<DeployStatus> {
  return withWorker(p, activities, () => requested(p, during));
}

/** The same, inside a running worker. */
async function requested(
  p: Production,
  during?: (handle: WorkflowHandle) => Promise<void>,
  requestedBy = 'test',
): Promise<DeployStatus> {
  const started = await watched(
    env.client,
    [p.environmentId],
    startDeploy(env.client, p.config, { commit: COMMIT, requestedBy }),
  );
  expect(started).toMatchObject({ environmentWorkflowId: p.environmentId, workflowId: p.idOf(COMMIT), started: true });
  const handle = env.client.workflow.getHandle(started.workflowId!);
  await during?.(handle);
  return watched(env.client, [p.environmentId, handle.workflowId], handle.result() as Promise<DeployStatus>);
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

/** Queries an environment until its view satisfies `done`. */
function untilView(workflowId: string, done: (view: EnvironmentView) => boolean): Promise<EnvironmentView> {
  return until(`${workflowId} to reach the expected state`, async () => {
    const view = await env.client.workflow.getHandle(workflowId).query(environmentStatusQuery);
    return done(view) ? view : undefined;
  });
}

const query = (handle: WorkflowHandle) => handle.query(statusQuery);

describe('deploy workflow (production)', () => {
  test('a CI run that takes 45 minutes: polls on growing timers, then deploys sha-<commit>', async () => {
    const p = production();
    const started = await env.currentTimeMs();
    const { activities, calls } = fakes(p, {
      findCiRun: async () =>
        (await env.currentTimeMs()) - started >= 45 * MIN ? run('completed', 'success') : run('in_progress', null),
    });
    const result = await deploy(p, activities);
    expect(result).toMatchObject({
      phase: 'succeeded',
      target: p.target,
      path: 'code',
      rule: 'ci',
      tag: 'sha-e43f28a',
      overlayCommit: OVERLAY_COMMIT,
      digests: { api: 'sha256:aa', workers: 'sha256:bb' },
      verdict: { outcome: 'deployed', reason: 'healthy' },
    });
    expect(result.ciRun).toEqual({ id: 7, url: 'https://github.test/o/r/actions/runs/7', conclusion: 'success' });
    // One detect step for both targets: production's form names the target and the commit.
    expect(calls.detect).toEqual([{ target: p.target, commit: COMMIT }]);
    // 15 s growing to 2 min over 45 minutes is ~25 probes, not one every 15 s (180).
    expect(calls.findCiRun!.length).toBeGreaterThan(20);
    expect(calls.findCiRun!.length).toBeLessThan(30);
    expect(calls.findCiRun![0]).toEqual({ commit: COMMIT, event: 'push' });
    expect(calls.updateOverlay).toEqual([
      { kind: 'deploy', tag: 'sha-e43f28a', commit: COMMIT, workflowId: p.idOf(COMMIT) },
    ]);
    expect(calls.observeArgoApp![0]).toEqual({
      revision: OVERLAY_COMMIT,
      refresh: true,
      application: 'app',
      missingIsWaiting: false,
    });
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
    const p = production();
    const { activities, calls } = fakes(p, { findCiRun: async () => run('in_progress', null) });
    const result = await deploy(p, activities, async (handle) => {
      // The first probe happens at once; the next would be 15 s later in workflow time.
      await until('the deploy to wait for CI', async () =>
        (await query(handle)).phase === 'waiting-for-ci' ? true : undefined,
      );
      await handle.signal(ciCompletedSignal, { ...run('completed', 'success'), headSha: 'a'.repeat(40) }); // another commit: ignored
      await handle.signal(ciCompletedSignal, run('completed', 'success'));
    });
    expect(result.phase).toBe('succeeded');
    expect(calls.findCiRun!.length).toBeLessThanOrEqual(2);
  });

  test('failed CI fails the deploy with the run URL and leaves the overlay alone', async () => {
    const p = production();
    const { activities, calls } = fakes(p, { findCiRun: async () => run('completed', 'failure') });
    const { message, status } = await failure(deploy(p, activities));
    expect(message).toMatch(/CI run failure .*https:\/\/github\.test\/o\/r\/actions\/runs\/7.*overlay was not changed/);
    expect(message).toMatch(/deployctl start --sha e43f28a9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6/);
    expect(status).toMatchObject({ phase: 'failed', ciRun: { conclusion: 'failure' } });
    expect(calls.validateImages).toBeUndefined();
    expect(calls.updateOverlay).toBeUndefined();
  });

  test('ci.rerunWindow: a failed run re-run into a success ("Re-run failed jobs", attempt 2) deploys the commit once', async () => {
    const p = production({ ci: { rerunWindow: '30m' } });
    const started = await env.currentTimeMs();
    const rerun = (status: string, conclusion: string | null) => ({ ...run(status, conclusion), attempt: 2 });
    const { activities, calls } = fakes(p, {
      findCiRun: async () => {
        const elapsed = (await env.currentTimeMs()) - started;
        if (elapsed < 10 * MIN) return { ...run('completed', 'failure'), attempt: 1 };
        return elapsed < 20 * MIN ? rerun('in_progress', null) : rerun('completed', 'success');
      },
    });
    const status = await deploy(p, activities);
    expect(status).toMatchObject({ phase: 'succeeded', tag: 'sha-e43f28a', ciRun: { conclusion: 'success' } });
    expect(calls.updateOverlay).toHaveLength(1);
  });

  test('ci.rerunWindow: a failed run that nobody re-runs fails the deploy when the window closes, saying so', async () => {
    const p = production({ ci: { rerunWindow: '30m' } });
    const started = await env.currentTimeMs();
    const { activities, calls } = fakes(p, {
      findCiRun: async () => ({ ...run('completed', 'failure'), attempt: 1 }),
    });
    const { message, status } = await failure(deploy(p, activities));
    expect(message).toMatch(/CI run failure .*no re-run succeeded within 30 min \(ci\.rerunWindow\)/);
    expect(status.phase).toBe('failed');
    expect((await env.currentTimeMs()) - started).toBeGreaterThanOrEqual(30 * MIN);
    expect(calls.updateOverlay).toBeUndefined();
  });

  test('ci.rerunWindow: a re-run signalled by the relay moves the waiting deploy on at once', async () => {
    const p = production({ ci: { rerunWindow: '30m' } });
    let signalledRerun = false;
    const { activities, calls } = fakes(p, {
      findCiRun: async () => ({ ...run('completed', 'failure'), attempt: 1 }),
    });
    const status = await deploy(p, activities, async (handle) => {
      await until('a note about the re-run window', async () =>
        (await query(handle)).note?.includes('re-run') ? true : undefined,
      );
      expect((await query(handle)).note).toMatch(/waiting 30 min \(ci\.rerunWindow\) for a re-run/);
      await handle.signal(ciCompletedSignal, { ...run('completed', 'success'), attempt: 2 });
      signalledRerun = true;
    });
    expect(signalledRerun).toBe(true);
    expect(status.phase).toBe('succeeded');
    expect(calls.findCiRun).toHaveLength(1);
  });

  test('ci.rerunWindow: a run that drops out of the list between polls (API lag) does not reopen the window', async () => {
    const p = production({ ci: { rerunWindow: '30m' } });
    const started = await env.currentTimeMs();
    const polledAt: number[] = [];
    const { activities } = fakes(p, {
      findCiRun: async () => {
        polledAt.push((await env.currentTimeMs()) - started);
        return polledAt.length % 2 ? { ...run('completed', 'failure'), attempt: 1 } : null;
      },
    });
    const { message } = await failure(deploy(p, activities));
    expect(message).toMatch(/no re-run succeeded within 30 min/);
    // The window opened at the first failure and closed 30 min later: the gaps did not reopen it.
    expect(polledAt.at(-1)!).toBeGreaterThanOrEqual(30 * MIN);
    expect(polledAt.at(-1)!).toBeLessThan(31 * MIN);
  });

  test('a CI probe GitHub does not answer is one more poll without news: the success signal still deploys', async () => {
    const p = production();
    const { activities, calls } = fakes(p, {
      findCiRun: async () => {
        throw new Error('GitHub api.github.com did not answer within 15 s');
      },
    });
    const status = await deploy(p, activities, async (handle) => {
      await until('a note about the unanswered probe', async () =>
        (await query(handle)).note?.includes('did not answer') ? true : undefined,
      );
      expect((await query(handle)).note).toMatch(/GitHub did not answer the CI probe .*asking again/);
      await handle.signal(ciCompletedSignal, run('completed', 'success'));
    });
    expect(status.phase).toBe('succeeded');
    expect(calls.findCiRun!.length).toBeGreaterThanOrEqual(1);
  });

  test('a CI probe that fails for good (a refused token) fails the deploy at once', async () => {
    const p = production();
    const { activities, calls } = fakes(p, {
      findCiRun: async () => {
        throw ApplicationFailure.nonRetryable(
          'GitHub refused GITHUB_TOKEN reading the CI runs (HTTP 401)',
          'Unauthorized',
        );
      },
    });
    const { message } = await failure(deploy(p, activities));
    expect(message).toMatch(/GitHub refused GITHUB_TOKEN/);
    expect(calls.findCiRun).toHaveLength(1);
  });

  test('CI that never finishes times out after ci.timeout', async () => {
    const p = production();
    const { activities, calls } = fakes(p, { findCiRun: async () => null });
    const { message, status } = await failure(deploy(p, activities));
    expect(message).toMatch(/CI did not finish within 60 min \(no CI run was found/);
    expect(status.phase).toBe('failed');
    expect(calls.updateOverlay).toBeUndefined();
  });

  test('a merge commit whose message makes GitHub skip CI fails at once instead of waiting an hour', async () => {
    const p = production();
    const { activities, calls } = fakes(p, {
      detect: async () => planFor(p.config, 'code', { ciSkipped: '[skip ci]' }),
      findCiRun: async () => null,
    });
    const { message } = await failure(deploy(p, activities));
    expect(message).toMatch(
      /CI does not run for e43f28a: its commit message contains "\[skip ci\]".*push a commit without the marker/,
    );
    expect(calls.findCiRun).toHaveLength(2); // the first probe may come before GitHub created the run

    expect(calls.updateOverlay).toBeUndefined();
  });

  test('Path 2 (k8s only) reads the running tag, validates it and confirms the merge commit without a commit', async () => {
    const p = production();
    const { activities, calls } = fakes(p, {
      detect: async () => planFor(p.config, 'k8s'),
      observeArgoApp: async () => argo({ syncRevision: COMMIT }),
    });
    const result = await deploy(p, activities);
    expect(result).toMatchObject({ phase: 'succeeded', path: 'k8s', rule: 'running', tag: 'sha-1111111' });
    expect(calls.findCiRun).toBeUndefined();
    // The tag production's overlay names at the merge commit.
    expect(calls.readRunningTag).toEqual([{ commit: COMMIT }]);
    expect(calls.validateImages).toEqual([{ tag: 'sha-1111111' }]);
    expect(calls.updateOverlay).toBeUndefined();
    expect(calls.observeArgoApp![0]).toEqual({
      revision: COMMIT,
      refresh: true,
      application: 'app',
      missingIsWaiting: false,
    });
  });

  test('docs only: skipped at once, nothing else runs', async () => {
    const p = production();
    const { activities, calls } = fakes(p, { detect: async () => planFor(p.config, 'none') });
    const result = await deploy(p, activities);
    expect(result).toMatchObject({ phase: 'skipped', path: 'none', reason: 'skipped' });
    expect(Object.keys(calls).filter((name) => !['targetSettings', 'listTargets'].includes(name))).toEqual(['detect']);
  });

  test('a missing image stops the deploy before the overlay', async () => {
    const p = production();
    const { activities, calls } = fakes(p, {
      validateImages: async () => {
        throw ApplicationFailure.nonRetryable('image not found: acr.test/api:sha-e43f28a', 'ImageNotFound');
      },
    });
    const { message, status } = await failure(deploy(p, activities));
    expect(message).toBe('image not found: acr.test/api:sha-e43f28a');
    expect(status.phase).toBe('failed');
    expect(calls.validateImages).toHaveLength(1);
    expect(calls.updateOverlay).toBeUndefined();
  });

  test('transient step failures are retried', async () => {
    const p = production();
    let attempts = 0;
    const { activities } = fakes(p, {
      validateImages: async ({ tag }) => {
        if (++attempts < 3) throw new Error('registry 503');
        return [{ name: 'api', reference: `r/api:${tag}`, digest: 'sha256:cc' }];
      },
    });
    expect((await deploy(p, activities)).phase).toBe('succeeded');
    expect(attempts).toBe(3);
  });

  test('Argo CD Degraded fails the deploy with its message', async () => {
    const p = production();
    const { activities } = fakes(p, {
      observeArgoApp: async () =>
        argo({ healthStatus: 'Degraded', healthMessage: 'Deployment "api" exceeded its progress deadline' }),
    });
    const { message, status } = await failure(deploy(p, activities));
    expect(message).toMatch(/Degraded .*Deployment "api" exceeded its progress deadline/);
    expect(status.verdict).toEqual({ outcome: 'failed', reason: 'degraded' });
  });

  test('health is not trusted until Argo CD reconciled after the sync, then the sync timeout applies', async () => {
    // A 1-minute sync timeout: polls after 2, 4, 8 and then 15 s. (Kept short so the test holds even when the
    // time-skipping server does not skip, which it failed to do here for long timer chains under a full run.)
    const p = production({ argocd: { syncTimeout: '1m' } });
    const { activities, calls } = fakes(p, {
      observeArgoApp: async () => argo({ healthStatus: 'Degraded', reconciledAt: '2025-12-31T23:59:59Z' }),
    });
    const { message, status } = await failure(deploy(p, activities));
    expect(message).toMatch(/did not report the application synced and healthy within 1 min.*reconcile/);
    expect(status.verdict).toEqual({ outcome: 'failed', reason: 'sync-timeout' });
    expect(calls.observeArgoApp!.length).toBeGreaterThanOrEqual(6);
    expect(calls.observeArgoApp!.length).toBeLessThanOrEqual(9);
  }, 240_000);

  test('status while syncing: Argo CD still at the previous revision is in the deploy status and the environment view before the verdict', async () => {
    const p = production();
    let ours = false;
    const { activities } = fakes(p, {
      observeArgoApp: async ({ revision }) =>
        ours ? argoAt(revision) : argoAt(PREVIOUS_REVISION, { revisionContainsTarget: false }),
    });
    const waiting = /^Synced at 1111111 \(a previous revision\), waiting for ours \(fffffff\)$/;
    let during: { status: DeployStatus; view: EnvironmentView } | undefined;
    const result = await deploy(p, activities, async (handle) => {
      const status = await until('the deploy to report what Argo CD syncs', async () => {
        const s = await query(handle);
        return s.phase === 'syncing' && s.argo ? s : undefined;
      });
      const view = await untilView(p.environmentId, (v) => !!v.applying?.argo);
      during = { status, view };
      ours = true;
    });
    expect(during!.status).toMatchObject({ phase: 'syncing', overlayCommit: OVERLAY_COMMIT });
    expect(during!.status.argo).toMatch(waiting);
    expect(during!.status.verdict).toBeUndefined();
    expect(during!.view.applying).toMatchObject({ kind: 'deploy', workflowId: p.idOf(COMMIT), phase: 'syncing' });
    expect(during!.view.applying!.argo).toMatch(waiting);
    expect(result).toMatchObject({ phase: 'succeeded', argo: 'Synced at fffffff and Healthy' });
  });

  test('automatic rollback (environment.autoRollback): a deploy Argo CD reports Degraded is rolled back to the previous tag and held', async () => {
    const p = production({ environment: { autoRollback: true } });
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
    const { activities, calls } = fakes(p, {
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
      deploy(p, activities, async () => {
        view = await untilView(p.environmentId, (v) => v.outcomes.some((o) => o.kind === 'rolled-back'));
      }),
    );
    expect(message).toMatch(/Degraded/);
    if (!view) throw new Error('no environment view');
    expect(view.outcomes.map((o) => o.kind)).toEqual(['failed', 'rolled-back']);
    // Decided on the verdict's typed reason.
    expect(view.outcomes[0]).toMatchObject({ reason: 'degraded', commit: COMMIT, overlayCommit: OVERLAY_COMMIT });
    expect(view.held).toMatchObject({ tag: 'sha-1111111', by: 'gitops-deployer' });
    expect(view.held?.reason).toMatch(/automatic: Argo CD reports Degraded/);
    expect(view.current).toMatchObject({ tag: 'sha-1111111', overlayCommit: ROLLBACK_COMMIT });
    expect(calls.updateOverlay).toEqual([
      expect.objectContaining({ kind: 'deploy', tag: 'sha-e43f28a' }),
      expect.objectContaining({ kind: 'rollback', tag: 'sha-1111111', requestedBy: 'gitops-deployer' }),
    ]);
  });

  test('automatic rollback decides on the typed reason: a sync timeout (its message naming "Degraded") rolls nothing back', async () => {
    const p = production({ environment: { autoRollback: true }, argocd: { syncTimeout: '1m' } });
    const { activities, calls } = fakes(p, {
      listTargets: async () => [
        {
          tag: 'sha-1111111',
          overlayCommit: 'c'.repeat(40),
          date: '2026-01-01T00:00:00Z',
          by: 'ci',
          subject: 'deploy',
          kind: 'deploy',
          imagesExist: true,
        },
      ],
      // Still progressing when the timeout passes; the words mention Degraded, the reason is the timeout.
      observeArgoApp: async () =>
        argo({ healthStatus: 'Progressing', healthMessage: 'ReplicaSet "api-7d9" was Degraded, rolling out again' }),
    });
    const { failed, view } = await withWorker(p, activities, async () => {
      const failed = await failure(requested(p));
      return { failed, view: await untilView(p.environmentId, (v) => v.outcomes.length > 0 && !v.applying) };
    });
    expect(failed.message).toMatch(/did not report the application synced and healthy within 1 min.*Degraded/);
    expect(failed.status.verdict).toEqual({ outcome: 'failed', reason: 'sync-timeout' });
    expect(view.outcomes.map((o) => [o.kind, o.reason])).toEqual([['failed', 'sync-timeout']]);
    expect(view.pendingRollbacks).toEqual([]);
    expect(view.held).toBeUndefined();
    expect(calls.updateOverlay).toEqual([expect.objectContaining({ kind: 'deploy', tag: 'sha-e43f28a' })]);
    // The init's read of what production runs, and no rollback's.
    expect(calls.listTargets).toEqual([{ limit: 1 }]);
  }, 240_000);

  test("a deploy that failed at the overlay's turn runs again when asked again, instead of getting its old verdict back", async () => {
    // ALLOW_DUPLICATE_FAILED_ONLY lets a failed deploy of a commit run again under the same workflow id.
    const p = production({ argocd: { syncTimeout: '1m' } });
    let healthy = false;
    const { activities, calls } = fakes(p, {
      observeArgoApp: async ({ revision }) =>
        healthy ? argoAt(revision) : argoAt(PREVIOUS_REVISION, { revisionContainsTarget: false }),
    });
    const again = await withWorker(p, activities, async () => {
      const { message } = await failure(requested(p));
      expect(message).toMatch(/did not report the application synced and healthy within 1 min/);
      healthy = true;
      return requested(p, undefined, 'a person, after fixing Argo CD');
    });
    expect(again).toMatchObject({ phase: 'succeeded', verdict: { outcome: 'deployed', reason: 'healthy' } });
    expect(calls.updateOverlay).toHaveLength(2);
  }, 240_000);
});

describe('the first request of a fresh environment', () => {
  test.each([
    ['the relay: a deployRequested signal-with-start', false],
    ['deployctl: a requestDeploy update-with-start', true],
  ])('%s starts the environment and the deploy', async (_, wait) => {
    const p = production();
    const { activities } = fakes(p);
    const result = await withWorker(p, activities, async () => {
      const started = await watched(
        env.client,
        [p.environmentId],
        startDeploy(env.client, p.config, { commit: COMMIT, requestedBy: 'test' }, { wait }),
      );
      expect(started).toMatchObject({ environmentWorkflowId: p.environmentId, workflowId: p.idOf(COMMIT) });
      return deployResult(env.client, p.environmentId, p.idOf(COMMIT));
    });
    expect(result).toMatchObject({ phase: 'succeeded', tag: 'sha-e43f28a' });
  });
});
