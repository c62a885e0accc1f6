import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { startDeploy } from '../../src/client/deploys';
import { productionTarget } from '../../src/client/environment';
import { statusQuery } from '../../src/contract/deploy';
import { deployWorkflowId } from '../../src/contract/ids';
import { startTracing, tracingClientInterceptors, type Tracing } from '../../src/observe/tracing';
import { shaTag } from '../../src/plan/tags';
import { workerTracing } from '../../src/worker/tracing';
import { TRACING_PATCH } from '../../src/worker/workflow-interceptors';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../../harness/otlp-receiver';
import { INITIAL_TAG, OWNER, REPO, startStack, type Stack, type WorkerProcess } from '../../harness/stack';
import { until } from './support/wait';

/**
 * One deploy's spans, from the client that asks for it (as the relay does) through the environment
 * and the deploy workflow to the activities, arrive at a local OTLP/HTTP receiver. The worker runs a
 * bundle prebuilt by `node dist/worker/bundle.js`, as the image does, and prints no webpack output.
 */
let stack: Stack;
let receiver: OtlpReceiver;
let worker: WorkerProcess;
let clientTracing: Tracing | undefined;
let tracedClient: Client;
const dir = mkdtempSync(join(tmpdir(), 'gitops-bundle-'));
const bundle = join(dir, 'workflow-bundle.js');

beforeAll(async () => {
  const built = spawnSync(process.execPath, [resolve(__dirname, '../../dist/worker/bundle.js'), bundle], {
    encoding: 'utf8',
    env: { ...process.env, LOG_FORMAT: 'json' },
  });
  expect({ status: built.status, stderr: built.stderr }).toEqual({ status: 0, stderr: '' });
  expect(JSON.parse(built.stdout.trim())).toMatchObject({ level: 'info', component: 'bundle', file: bundle });
  expect(built.stdout).not.toMatch(/webpack|modules by path/);

  receiver = await startOtlpReceiver();
  stack = await startStack();
  await stack.pushImages(INITIAL_TAG);
  worker = await stack.startWorker({
    env: {
      WORKFLOW_BUNDLE: bundle,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SERVICE_NAME: 'gitops-deployer-worker-test',
      LOG_FORMAT: 'json',
    },
  });
  // The relay's side: a client with the exported interceptor factory, tracing to the same receiver.
  clientTracing = startTracing('gitops-deployer-relay', { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
  tracedClient = new Client({
    connection: stack.client.connection,
    interceptors: tracingClientInterceptors(clientTracing),
  });
}, 180_000);

afterAll(async () => {
  await clientTracing?.shutdown();
  await stack?.stop();
  await receiver?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const named = (spans: ReceivedSpan[], name: string) => spans.filter((s) => s.name === name);

describe('traces and the prebuilt workflow bundle', () => {
  test('the bundle is a file of its own and the worker loads it: no bundling and no webpack statistics at start', () => {
    expect(statSync(bundle).size).toBeGreaterThan(100_000);
    expect(worker.output()).toContain('worker polling');
    expect(worker.output()).not.toMatch(/webpack|bundled the workflows|asset workflow-bundle|modules by path/);
    for (const line of worker.output().trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  });

  test('one deploy: client, workflow and activity spans reach the receiver in one trace, flushed at SIGTERM', async () => {
    const parent = await stack.origin.head();
    const commit = await stack.origin.commit({ 'services/api/main.py': 'print("traced")\n' }, 'feat(api): traced');
    const tag = shaTag(commit);
    const run = stack.github.addRun({ owner: OWNER, repo: REPO, headSha: commit, status: 'in_progress' });
    // As the relay asks on a push webhook: signal-with-start of the environment.
    await startDeploy(tracedClient, stack.config, { commit, before: parent }, { wait: false });
    const handle = stack.client.workflow.getHandle(
      deployWorkflowId(`${OWNER}/${REPO}`, productionTarget(stack.config), commit),
    );
    await until('the deploy to wait for CI', async () =>
      (await handle.query(statusQuery)).phase === 'waiting-for-ci' ? true : undefined,
    );
    await stack.pushImages(tag);
    stack.github.setRun(run.id, { status: 'completed', conclusion: 'success' });
    expect(await handle.result()).toMatchObject({ phase: 'succeeded', tag });

    // SIGTERM: the worker drains, flushes its spans, exits 0; the client flushes its own.
    worker.child.kill('SIGTERM');
    const code = await new Promise<number | null>((exited) =>
      worker.child.exitCode !== null ? exited(worker.child.exitCode) : worker.child.once('exit', exited),
    );
    expect(code).toBe(0);
    await clientTracing!.shutdown();

    const spans = receiver.spans;
    expect(
      receiver.requests.every((r) => r.path === '/v1/traces' && r.contentType.startsWith('application/json')),
    ).toBe(true);
    const asked = named(spans, 'SignalWithStartWorkflow:environment');
    expect(asked.map((s) => s.service)).toEqual(['gitops-deployer-relay']);
    const trace = asked[0]!.traceId;
    const inTrace = spans.filter((s) => s.traceId === trace);
    const names = new Set(inTrace.map((s) => s.name));
    for (const name of [
      'HandleSignal:deployRequested',
      'StartChildWorkflow:deploy',
      'RunWorkflow:deploy',
      'StartActivity:detect',
      'RunActivity:detect',
      'RunActivity:validateImages',
    ])
      expect({ name, inTrace: names.has(name) }).toEqual({ name, inTrace: true });
    // The environment commits the overlay in its own turn: its span names the step and the workflow.
    const update = named(spans, 'RunActivity:updateOverlay');
    expect(update.length).toBeGreaterThanOrEqual(1);
    expect(update[0]).toMatchObject({
      service: 'gitops-deployer-worker-test',
      attributes: expect.objectContaining({ temporalWorkflowId: 'env-production' }),
    });
    // An activity span's parent is the workflow's StartActivity span of the same activity.
    const detect = named(inTrace, 'RunActivity:detect')[0]!;
    expect(inTrace.find((s) => s.spanId === detect.parentSpanId)?.name).toBe('StartActivity:detect');
    const runDeploy = named(inTrace, 'RunWorkflow:deploy')[0]!;
    expect(runDeploy.attributes).toMatchObject({ workflowId: handle.workflowId, workflowType: 'deploy' });
    // No secret in any span.
    const all = JSON.stringify(spans);
    for (const secret of ['ghs_test_github_token', 'argocd-test-token']) expect(all).not.toContain(secret);

    // Traced runs carry the tracing patch's marker and replay on the same bundle.
    const histories = await Promise.all(
      [handle.workflowId, 'env-production'].map(async (workflowId) => ({
        workflowId,
        history: await stack.client.workflow.getHandle(workflowId).fetchHistory(),
      })),
    );
    const patches = (history: (typeof histories)[number]['history']) =>
      history
        .events!.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
        .flatMap((e) => Object.values(e.markerRecordedEventAttributes!.details ?? {}))
        .flatMap((d) => d.payloads ?? [])
        .map((p) => Buffer.from(p.data ?? []).toString('utf8'));
    for (const { history } of histories) expect(patches(history).join()).toContain(TRACING_PATCH);
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: { codePath: bundle }, sinks: workerTracing(undefined).sinks, replayName: 'traced-histories' },
      histories,
    ))
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    expect(failures).toEqual([]);
  });

  test('a missing prebuilt bundle stops the start with exit 2, naming the file and how to build it', async () => {
    const missing = join(dir, 'missing-bundle.js');
    const broken = await stack.startWorker({ env: { WORKFLOW_BUNDLE: missing }, until: 'spawned' });
    const code = await new Promise<number | null>((exited) =>
      broken.child.exitCode !== null ? exited(broken.child.exitCode) : broken.child.once('exit', exited),
    );
    expect(code).toBe(2);
    expect(broken.output()).toContain(
      `workflow bundle ${missing} (--workflow-bundle, WORKFLOW_BUNDLE) does not exist: build it with \`node dist/worker/bundle.js ${missing}\``,
    );
  });

  test('without an OTLP endpoint there is no tracing at all', () => {
    expect(startTracing('gitops-deployer-worker', {})).toBeUndefined();
    expect(tracingClientInterceptors(undefined)).toEqual({});
  });
});
