import { environmentHandle, signalEnvironment, startDeploy } from '../../src/client/deploys';
import { shaTag } from '../../src/plan/tags';
import { deployWorkflowId } from '../../src/workflows/definitions';
import {
  environmentStatusQuery,
  pauseSignal,
  resumeSignal,
  rollbackSignal,
} from '../../src/workflows/environment-definitions';
import type { DeployPhase, DeployStatus } from '../../src/workflows/types';
import { eventually, phaseOf as phaseOfDeploy } from '../support/wait';
import { OWNER, REPO, startRunningStack, type Stack, type WorkerProcess } from '../support/stack';

/** The environment keeps its state through continue-as-new and through a worker killed mid-queue. */
const FULL = `${OWNER}/${REPO}`;
const OVERLAY = 'k8s/overlays/prod/kustomization.yaml';
let stack: Stack;
let worker: WorkerProcess;
let merges = 0;

beforeAll(async () => {
  // Continue as new after every two changes, so a handful of deploys crosses several runs.
  ({ stack, worker } = await startRunningStack({ environment: { continueAsNewAfter: 2 } }));
}, 120_000);
afterAll(() => stack?.stop());

const env = () => environmentHandle(stack.client, stack.config);
const view = () => env().query(environmentStatusQuery);
const handleOf = (commit: string) => stack.client.workflow.getHandle(deployWorkflowId(FULL, commit));
const result = (commit: string) => handleOf(commit).result() as Promise<DeployStatus>;
const overlayTag = async (rev = 'main') => /newTag: (\S+)/.exec(await stack.origin.readAt(rev, OVERLAY))![1]!;

const phaseOf = (commit: string, phase: DeployPhase) => phaseOfDeploy(stack.client, FULL, commit, phase);

/** Merges, requests the deploy and (for code) lets CI pass at once. */
async function merge(kind: 'code' | 'k8s'): Promise<string> {
  const n = ++merges;
  const file: Record<string, string> =
    kind === 'code'
      ? { 'services/workers/transcribe.py': `v = ${n}\n` }
      : { 'k8s/base/deployment.yaml': `# limits: ${n}\n` };
  const before = await stack.origin.head();
  const commit = await stack.origin.commit(file, `${kind}: change ${n}`);
  if (kind === 'code') {
    await stack.pushImages(shaTag(commit));
    stack.github.addRun({ owner: OWNER, repo: REPO, headSha: commit, status: 'completed', conclusion: 'success' });
  }
  await startDeploy(stack.client, stack.config, { commit, before, requestedBy: 'test' });
  return commit;
}

test('continue-as-new after many changes keeps the queue, the hold, the pause and the outcomes', async () => {
  const x = await merge('code'); // its request starts the environment
  const firstRun = (await env().describe()).runId;
  expect((await result(x)).phase).toBe('succeeded');
  const y = await merge('code');
  expect((await result(y)).phase).toBe('succeeded');
  const secondRun = await eventually('a new run', async () =>
    (await env().describe()).runId !== firstRun ? (await env().describe()).runId : undefined,
  );

  await signalEnvironment(stack.client, stack.config, pauseSignal, { reason: 'incident 42', by: 'ops' });
  const z = await merge('code');
  await phaseOf(z, 'held');
  await signalEnvironment(stack.client, stack.config, rollbackSignal, {
    to: 'previous',
    reason: 'bad y',
    requestedBy: 'ops',
  });
  await signalEnvironment(stack.client, stack.config, rollbackSignal, {
    to: shaTag(x),
    reason: 'still x',
    requestedBy: 'ops',
  });
  await eventually('a third run', async () => ((await env().describe()).runId !== secondRun ? true : undefined));

  const carried = await eventually('both rollbacks recorded', async () => {
    const v = await view();
    return v.outcomes.filter((o) => o.kind === 'rolled-back').length === 2 ? v : undefined;
  });
  expect(carried.queue).toEqual([expect.objectContaining({ commit: z, state: 'held' })]);
  expect(carried.paused?.reason).toMatch(/incident 42/);
  expect(carried.held).toMatchObject({ tag: shaTag(x) });
  expect(carried.outcomes.filter((o) => o.kind === 'deployed').map((o) => o.commit)).toEqual(
    expect.arrayContaining([x, y]),
  );
  expect(await overlayTag()).toBe(shaTag(x));

  await signalEnvironment(stack.client, stack.config, resumeSignal, { by: 'ops' });
  expect((await result(z)).phase).toBe('succeeded');
  expect(await overlayTag()).toBe(shaTag(z));
});

test('SIGKILL the worker while the environment holds a queue of three: a new worker finishes them in order', async () => {
  await signalEnvironment(stack.client, stack.config, pauseSignal, { reason: 'queue up', by: 'ops' });
  const a = await merge('code');
  const b = await merge('code');
  const c = await merge('k8s');
  for (const commit of [a, b, c]) await phaseOf(commit, 'held');
  expect((await view()).queue.map((q) => q.commit).sort()).toEqual([a, b, c].sort());

  await worker.kill();
  await signalEnvironment(stack.client, stack.config, resumeSignal, { by: 'ops' }); // accepted with no worker alive
  worker = await stack.startWorker();

  expect(await result(c)).toMatchObject({ phase: 'succeeded', path: 'k8s' });
  expect(await result(b)).toMatchObject({ phase: 'succeeded', tag: shaTag(b) });
  expect((await result(a)).phase).toBe('superseded');
  expect(await overlayTag()).toBe(shaTag(b));
  const log = await stack.origin.log(OVERLAY);
  expect(log.filter((entry) => entry.body.includes(`Deployed-Commit: ${b}`))).toHaveLength(1);
  expect(log.some((entry) => entry.body.includes(`Deployed-Commit: ${a}`))).toBe(false);
});
