import { WorkflowFailedError } from '@temporalio/client';
import { startDeploy } from '../../src/client/deploys';
import {
  pauseEnvironment,
  productionTarget,
  resumeEnvironment,
  rollbackEnvironment,
} from '../../src/client/environment';
import { statusQuery, type DeployPhase } from '../../src/contract/deploy';
import { deployWorkflowId } from '../../src/contract/ids';
import { shaTag } from '../../src/plan/tags';
import { freePort } from '../../harness/ports';
import { INITIAL_TAG, OWNER, REPO, startStack, type Stack, type WorkerProcess } from '../../harness/stack';
import { find, scrape, sum } from './support/prometheus';
import { startTcpGate, type TcpGate } from './support/tcp-gate';
import { probe, until } from './support/wait';

/**
 * The worker's runtime on the real stack: its Prometheus endpoint (the SDK's metrics and the
 * product's, scraped during and after real deploys) and its health endpoints through a start, a
 * Temporal outage and a drain. The worker reaches Temporal through a gate the test opens and shuts,
 * so "Temporal not up yet" and "Temporal gone" last exactly as long as the test needs.
 */
let stack: Stack;
let gate: TcpGate;
let worker: WorkerProcess;
let metricsUrl: string;
let healthUrl: string;
/** Every /healthz answer the background poller saw. */
const liveness: number[] = [];
let polling: NodeJS.Timeout | undefined;

const idOf = (commit: string) => deployWorkflowId(`${OWNER}/${REPO}`, productionTarget(stack.config), commit);
const handleOf = (commit: string) => stack.client.workflow.getHandle(idOf(commit));
const metrics = () => scrape(metricsUrl).then((m) => m.samples);
const PRODUCTION = { environment: 'production' };

/** A code merge whose CI passes and pushes its images: the deploy goes on to the overlay and Argo CD. */
async function codeDeploy(files: Record<string, string>, message: string): Promise<{ commit: string; tag: string }> {
  const parent = await stack.origin.head();
  const commit = await stack.origin.commit(files, message);
  const run = stack.github.addRun({ owner: OWNER, repo: REPO, headSha: commit, status: 'in_progress' });
  await startDeploy(stack.client, stack.config, { commit, before: parent });
  await waitForPhase(commit, 'waiting-for-ci');
  await stack.pushImages(shaTag(commit));
  stack.github.setRun(run.id, { status: 'completed', conclusion: 'success' });
  return { commit, tag: shaTag(commit) };
}

async function waitForPhase(commit: string, phase: DeployPhase): Promise<void> {
  await until(
    `the deploy of ${commit.slice(0, 7)} to reach ${phase}`,
    async () => ((await handleOf(commit).query(statusQuery)).phase === phase ? true : undefined),
    { detail: () => worker.output().slice(-3000) },
  );
}

beforeAll(async () => {
  stack = await startStack();
  await stack.pushImages(INITIAL_TAG);
  gate = await startTcpGate(stack.temporal.address, { open: false });
  const [metricsPort, healthPort] = [await freePort(), await freePort()];
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  healthUrl = `http://127.0.0.1:${healthPort}`;
  worker = await stack.startWorker({
    args: ['--metrics-address', `127.0.0.1:${metricsPort}`],
    // The environment variables work like the flags (the image sets them).
    env: { TEMPORAL_ADDRESS: gate.address, HEALTH_ADDRESS: `127.0.0.1:${healthPort}`, LOG_FORMAT: 'json' },
    until: 'spawned',
  });
}, 120_000);

afterAll(async () => {
  if (polling) clearInterval(polling);
  await stack?.stop();
  await gate?.stop();
});

describe('the worker runtime: health, metrics and drain on the real stack', () => {
  test('/readyz is 503 "connecting" while Temporal does not answer, 200 once the worker polls; /healthz is 200 from the start', async () => {
    const connecting = await until(
      '/readyz to answer while Temporal is unreachable',
      () => probe(`${healthUrl}/readyz`),
      {
        detail: () => worker.output(),
      },
    );
    expect(connecting).toEqual({ status: 503, body: { status: 'not ready', reason: 'connecting to Temporal' } });
    expect(await probe(`${healthUrl}/healthz`)).toEqual({ status: 200, body: { status: 'ok' } });
    expect(worker.output()).not.toContain('worker polling');
    polling = setInterval(() => void probe(`${healthUrl}/healthz`).then((r) => liveness.push(r?.status ?? 0)), 250);

    gate.open();
    const ready = await until(
      '/readyz to answer 200',
      async () => {
        const answer = await probe(`${healthUrl}/readyz`);
        return answer?.status === 200 ? answer : undefined;
      },
      { detail: () => worker.output().slice(-3000) },
    );
    expect(ready.body).toMatchObject({ status: 'ready', worker: 'RUNNING' });
    expect(worker.output()).toContain('worker polling');
  });

  test('no webpack statistics at start: one line says the workflows were bundled, every line is JSON', () => {
    const lines = worker.output().trim().split('\n');
    expect(worker.output()).not.toMatch(/webpack|asset workflow-bundle|modules by path|orphan modules/);
    expect(lines.filter((l) => l.includes('bundled the workflows at start'))).toHaveLength(1);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  });

  test('a code deploy: counted by environment and outcome, lead time and CI wait observed, running tag at the new tag', async () => {
    const before = await metrics();
    const succeededBefore = sum(before, 'gitops_deployer_deploys_total', { ...PRODUCTION, outcome: 'succeeded' });
    const leadTimesBefore = sum(before, 'gitops_deployer_lead_time_seconds_count', PRODUCTION);

    const parent = await stack.origin.head();
    const commit = await stack.origin.commit({ 'services/api/main.py': 'print("observed")\n' }, 'feat(api): observed');
    const tag = shaTag(commit);
    const run = stack.github.addRun({ owner: OWNER, repo: REPO, headSha: commit, status: 'in_progress' });
    await startDeploy(stack.client, stack.config, { commit, before: parent });
    await waitForPhase(commit, 'waiting-for-ci');

    // During: the SDK's own metrics, the environment's queue, the step that ended (detecting).
    const during = await metrics();
    expect(find(during, 'temporal_workflow_task_execution_latency_count').length).toBeGreaterThan(0);
    expect(find(during, 'temporal_num_pollers').length).toBeGreaterThan(0);
    expect(find(during, 'gitops_deployer_queue_depth', PRODUCTION)).toHaveLength(1);
    expect(sum(during, 'gitops_deployer_step_duration_seconds_count', { ...PRODUCTION, step: 'detecting' })).toBe(
      sum(before, 'gitops_deployer_step_duration_seconds_count', { ...PRODUCTION, step: 'detecting' }) + 1,
    );
    expect(sum(during, 'gitops_deployer_deploys_total', { ...PRODUCTION, outcome: 'succeeded' })).toBe(succeededBefore);

    await stack.pushImages(tag);
    stack.github.setRun(run.id, { status: 'completed', conclusion: 'success' });
    expect(await handleOf(commit).result()).toMatchObject({ phase: 'succeeded', tag });

    const after = await until('the deploy to be counted', async () => {
      const samples = await metrics();
      return sum(samples, 'gitops_deployer_deploys_total', { ...PRODUCTION, outcome: 'succeeded' }) > succeededBefore
        ? samples
        : undefined;
    });
    expect(
      find(after, 'gitops_deployer_deploys_total', { ...PRODUCTION, outcome: 'succeeded', verdict: 'healthy' }),
    ).toEqual([
      expect.objectContaining({
        // The environment gave the verdict and counted it; the SDK adds namespace, task queue and workflow type.
        labels: expect.objectContaining({ workflowType: 'environment', taskQueue: stack.config.temporal.taskQueue }),
        value: 1,
      }),
    ]);
    expect(sum(after, 'gitops_deployer_lead_time_seconds_count', PRODUCTION)).toBe(leadTimesBefore + 1);
    expect(sum(after, 'gitops_deployer_lead_time_seconds_sum', PRODUCTION)).toBeGreaterThan(0);
    // Buckets in seconds, cumulative, ending at +Inf.
    const buckets = find(after, 'gitops_deployer_lead_time_seconds_bucket', PRODUCTION);
    expect(buckets.map((b) => b.labels.le)).toEqual(expect.arrayContaining(['60', '3600', '+Inf']));
    expect(sum(after, 'gitops_deployer_ci_wait_seconds_count', { ...PRODUCTION, result: 'passed' })).toBe(1);
    // The first deploy of this file: each phase it went through observed once.
    const steps = ['detecting', 'waiting-for-ci', 'validating', 'queued', 'committing', 'syncing'];
    expect(
      steps.map((step) => sum(after, 'gitops_deployer_step_duration_seconds_count', { ...PRODUCTION, step })),
    ).toEqual(steps.map(() => 1));
    expect(find(after, 'gitops_deployer_queue_depth', PRODUCTION).map((s) => s.value)).toEqual([0]);

    // The info gauge: 1 at the tag production runs now, 0 at the one it replaced.
    const running = find(after, 'gitops_deployer_running_tag', PRODUCTION);
    expect(Object.fromEntries(running.map((s) => [s.labels.tag, s.value]))).toEqual({ [INITIAL_TAG]: 0, [tag]: 1 });
  });

  test('a failed CI run: counted as failed with no verdict, its CI wait observed as failed', async () => {
    const failedBefore = sum(await metrics(), 'gitops_deployer_deploys_total', { ...PRODUCTION, outcome: 'failed' });
    const parent = await stack.origin.head();
    const commit = await stack.origin.commit({ 'services/workers/w.py': 'broken(\n' }, 'feat(workers): oops');
    const run = stack.github.addRun({ owner: OWNER, repo: REPO, headSha: commit, status: 'in_progress' });
    await startDeploy(stack.client, stack.config, { commit, before: parent });
    await waitForPhase(commit, 'waiting-for-ci');
    stack.github.setRun(run.id, { status: 'completed', conclusion: 'failure' });
    expect(
      await handleOf(commit)
        .result()
        .catch((e: unknown) => e),
    ).toBeInstanceOf(WorkflowFailedError);

    const after = await until('the failed deploy to be counted', async () => {
      const samples = await metrics();
      return sum(samples, 'gitops_deployer_deploys_total', { ...PRODUCTION, outcome: 'failed' }) > failedBefore
        ? samples
        : undefined;
    });
    expect(sum(after, 'gitops_deployer_deploys_total', { ...PRODUCTION, outcome: 'failed', verdict: 'none' })).toBe(
      failedBefore + 1,
    );
    expect(sum(after, 'gitops_deployer_ci_wait_seconds_count', { ...PRODUCTION, result: 'failed' })).toBe(1);
    // Production still runs the tag of the earlier deploy.
    expect(find(after, 'gitops_deployer_running_tag', { ...PRODUCTION, tag: INITIAL_TAG }).map((s) => s.value)).toEqual(
      [0],
    );
  });

  test('a degraded deploy, then a healthy one: the production failure and its time to restore; a rollback and a pause counted', async () => {
    const before = await metrics();
    const count = (samples: typeof before, name: string, labels: Record<string, string> = {}) =>
      sum(samples, name, { ...PRODUCTION, ...labels });

    stack.argo.forceHealth('Degraded', 'Back-off restarting failed container');
    const broken = await codeDeploy({ 'services/api/main.py': 'print("crashes at start")\n' }, 'feat(api): crash');
    expect(
      await handleOf(broken.commit)
        .result()
        .catch((e: unknown) => e),
    ).toBeInstanceOf(WorkflowFailedError);
    stack.argo.clearForce();
    const fixed = await codeDeploy({ 'services/api/main.py': 'print("fixed")\n' }, 'fix(api): no crash');
    expect(await handleOf(fixed.commit).result()).toMatchObject({ phase: 'succeeded', tag: fixed.tag });

    const outcome = await rollbackEnvironment(
      stack.client,
      stack.config,
      { to: INITIAL_TAG, reason: 'metrics test', requestedBy: 'worker-runtime test' },
      { wait: true },
    );
    expect(outcome).toMatchObject({ kind: 'rolled-back', tag: INITIAL_TAG });
    await pauseEnvironment(stack.client, stack.config, { reason: 'metrics test', by: 'worker-runtime test' });
    await resumeEnvironment(stack.client, stack.config, { by: 'worker-runtime test' });

    const after = await until('the pause to be counted', async () => {
      const samples = await metrics();
      return count(samples, 'gitops_deployer_holds_total', { kind: 'pause' }) > 0 ? samples : undefined;
    });
    const grew = (name: string, labels: Record<string, string> = {}) =>
      count(after, name, labels) - count(before, name, labels);
    expect({
      degraded: grew('gitops_deployer_deploys_total', { outcome: 'failed', verdict: 'degraded' }),
      healthy: grew('gitops_deployer_deploys_total', { outcome: 'succeeded', verdict: 'healthy' }),
      restores: grew('gitops_deployer_time_to_restore_seconds_count'),
      rollbacksByUpdate: grew('gitops_deployer_rollbacks_total', { trigger: 'update' }),
      rollbacksAuto: grew('gitops_deployer_rollbacks_total', { trigger: 'auto' }),
      heldAfterRollback: grew('gitops_deployer_holds_total', { kind: 'rollback' }),
      paused: grew('gitops_deployer_holds_total', { kind: 'pause' }),
    }).toEqual({
      degraded: 1,
      healthy: 1,
      restores: 1,
      rollbacksByUpdate: 1,
      rollbacksAuto: 0,
      heldAfterRollback: 1,
      paused: 1,
    });
    expect(count(after, 'gitops_deployer_time_to_restore_seconds_sum')).toBeGreaterThan(0);
    // The rollback moved the info gauge back: only the rolled-back-to tag is 1.
    const running = find(after, 'gitops_deployer_running_tag', PRODUCTION).filter((s) => s.value === 1);
    expect(running.map((s) => s.labels.tag)).toEqual([INITIAL_TAG]);
    expect(find(after, 'gitops_deployer_running_tag', { ...PRODUCTION, tag: fixed.tag }).map((s) => s.value)).toEqual([
      0,
    ]);
  });

  test('/readyz turns 503 when Temporal goes away and 200 when it is back; /healthz stays 200', async () => {
    gate.shut();
    const down = await until(
      '/readyz to report Temporal unreachable',
      async () => {
        const answer = await probe(`${healthUrl}/readyz`);
        return answer?.status === 503 ? answer : undefined;
      },
      { detail: () => worker.output().slice(-3000) },
    );
    expect(down.body).toEqual({ status: 'not ready', reason: expect.stringMatching(/^Temporal unreachable: /) });
    expect(await probe(`${healthUrl}/healthz`)).toEqual({ status: 200, body: { status: 'ok' } });

    gate.open();
    await until(
      '/readyz to answer 200 again',
      async () => ((await probe(`${healthUrl}/readyz`))?.status === 200 ? true : undefined),
      { detail: () => worker.output().slice(-3000) },
    );
    // The worker lived through it: liveness never failed.
    expect(liveness.length).toBeGreaterThan(0);
    expect(liveness.filter((status) => status !== 200)).toEqual([]);
  });

  test('SIGTERM drains and exits 0 with its goodbye in the log', async () => {
    if (polling) clearInterval(polling);
    worker.child.kill('SIGTERM');
    const code = await new Promise<number | null>((exited) => {
      if (worker.child.exitCode !== null) return exited(worker.child.exitCode);
      worker.child.once('exit', (c) => exited(c));
    });
    expect(code).toBe(0);
    const lines = worker
      .output()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string; signal?: string });
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: 'shutting down: draining in-flight steps', signal: 'SIGTERM' }),
    );
    expect(lines.at(-1)).toMatchObject({ msg: 'worker stopped' });
    expect(await probe(`${healthUrl}/healthz`)).toBeUndefined(); // the health server went with it
  });

  test('SIGTERM while the worker starts: it never polls, and exits 0', async () => {
    const closed = await startTcpGate(stack.temporal.address, { open: false });
    const url = `http://127.0.0.1:${await freePort()}`;
    try {
      const starting = await stack.startWorker({
        env: { TEMPORAL_ADDRESS: closed.address, HEALTH_ADDRESS: url.slice('http://'.length), LOG_FORMAT: 'json' },
        until: 'spawned',
      });
      await until('/readyz to say connecting', async () =>
        (await probe(`${url}/readyz`))?.body.reason === 'connecting to Temporal' ? true : undefined,
      );
      starting.child.kill('SIGTERM');
      expect(await probe(`${url}/readyz`)).toEqual({
        status: 503,
        body: { status: 'not ready', reason: 'shutting down: draining in-flight steps' },
      });
      closed.open(); // Temporal answers now: the worker connects, sees the stop, and leaves without polling
      const code = await new Promise<number | null>((exited) =>
        starting.child.exitCode !== null ? exited(starting.child.exitCode) : starting.child.once('exit', exited),
      );
      expect({ code, lastLine: starting.output().trim().split('\n').at(-1) }).toEqual({
        code: 0,
        lastLine: expect.stringContaining('worker stopped before it polled'),
      });
      expect(starting.output()).toContain('worker stopped before it polled');
      expect(starting.output()).not.toContain('worker polling');
    } finally {
      await closed.stop();
    }
  });
});
