import { startDeploy } from '../../src/client/deploys';
import {
  environmentHandle,
  pauseEnvironment,
  productionTarget,
  resumeEnvironment,
  rollbackEnvironment,
  signalEnvironment,
} from '../../src/client/environment';
import type { DeployPhase, DeployStatus } from '../../src/contract/deploy';
import { environmentStatusQuery, resumeSignal, rollbackSignal } from '../../src/contract/environment';
import { deployWorkflowId } from '../../src/contract/ids';
import { shaTag } from '../../src/plan/tags';
import { eventually, phaseOf as phaseOfDeploy } from '../support/wait';
import { recordHistories } from '../support/histories';
import { OWNER, REPO, startRunningStack, type Stack, type WorkerProcess } from '../../harness/stack';

/**
 * The environment keeps its state through continue-as-new and through a worker killed mid-queue, and
 * its deploys survive the environment itself: terminated, it is started again by the deploys waiting
 * for it, which hand themselves over again (environment.reannounceAfter).
 */
const FULL = `${OWNER}/${REPO}`;
const OVERLAY = 'k8s/overlays/prod/kustomization.yaml';
let stack: Stack;
let worker: WorkerProcess;
let merges = 0;

beforeAll(async () => {
  // Continue as new after every two changes, so a handful of deploys crosses several runs; a deploy
  // without a verdict hands itself over again after 3 s (default 5 min), so a lost environment is found quickly.
  ({ stack, worker } = await startRunningStack({ environment: { continueAsNewAfter: 2, reannounceAfter: '3s' } }));
}, 120_000);
afterAll(async () => {
  // The runs of a continued and of a restarted environment, for the replay test.
  await recordHistories(stack);
  await stack?.stop();
});

const env = () => environmentHandle(stack.client, stack.config);
const view = () => env().query(environmentStatusQuery);
const handleOf = (commit: string) =>
  stack.client.workflow.getHandle(deployWorkflowId(FULL, productionTarget(stack.config), commit));
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

  await pauseEnvironment(stack.client, stack.config, { reason: 'incident 42', by: 'ops' });
  const z = await merge('code');
  await phaseOf(z, 'held');
  // One rollback by the Update (deployctl), answered with its outcome; one by the signal (the Web UI).
  expect(
    await rollbackEnvironment(
      stack.client,
      stack.config,
      { to: 'previous', reason: 'bad y', requestedBy: 'ops' },
      { wait: true },
    ),
  ).toMatchObject({ kind: 'rolled-back', tag: shaTag(x) });
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
  // The signalled rollback took effect: recorded, held there, the overlay at its tag.
  expect(carried.outcomes.filter((o) => o.kind === 'rolled-back').at(-1)).toMatchObject({
    tag: shaTag(x),
    by: 'ops',
    message: expect.stringContaining('still x'),
  });
  expect(carried.held).toMatchObject({ tag: shaTag(x) });
  expect(carried.outcomes.filter((o) => o.kind === 'deployed').map((o) => o.commit)).toEqual(
    expect.arrayContaining([x, y]),
  );
  expect(await overlayTag()).toBe(shaTag(x));

  await resumeEnvironment(stack.client, stack.config, { by: 'ops' });
  expect((await result(z)).phase).toBe('succeeded');
  expect(await overlayTag()).toBe(shaTag(z));
});

test('SIGKILL the worker while the environment holds a queue of three: a new worker finishes them in order', async () => {
  await pauseEnvironment(stack.client, stack.config, { reason: 'queue up', by: 'ops' });
  const a = await merge('code');
  const b = await merge('code');
  const c = await merge('k8s');
  for (const commit of [a, b, c]) await phaseOf(commit, 'held');
  expect((await view()).queue.map((q) => q.commit).sort()).toEqual([a, b, c].sort());

  await worker.kill();
  // The signal, since no worker is alive to answer an Update: accepted now, carried out once one is.
  await signalEnvironment(stack.client, stack.config, resumeSignal, { by: 'ops' });
  worker = await stack.startWorker();

  expect(await result(c)).toMatchObject({ phase: 'succeeded', path: 'k8s' });
  expect(await result(b)).toMatchObject({ phase: 'succeeded', tag: shaTag(b) });
  expect((await result(a)).phase).toBe('superseded');
  expect(await overlayTag()).toBe(shaTag(b));
  const log = await stack.origin.log(OVERLAY);
  expect(log.filter((entry) => entry.body.includes(`Deployed-Commit: ${b}`))).toHaveLength(1);
  expect(log.some((entry) => entry.body.includes(`Deployed-Commit: ${a}`))).toBe(false);
});

test('env-production terminated with two deploys held: both complete once it runs again, with no manual step', async () => {
  const paused = await pauseEnvironment(stack.client, stack.config, { reason: 'before the termination', by: 'ops' });
  expect(paused.paused?.reason).toMatch(/before the termination/);
  const older = await merge('code');
  const newer = await merge('code');
  for (const commit of [older, newer]) await phaseOf(commit, 'held');
  expect((await view()).queue.map((q) => q.commit).sort()).toEqual([older, newer].sort());
  const tagBefore = await overlayTag();

  const terminated = (await env().describe()).runId;
  await stack.client.workflow.getHandle('env-production').terminate('e2e: the environment is lost with its queue');
  expect((await stack.client.workflow.getHandle('env-production', terminated).describe()).status.name).toBe(
    'TERMINATED',
  );
  // The deploys outlive their environment (ParentClosePolicy ABANDON) and still wait for a verdict.
  for (const commit of [older, newer]) expect((await handleOf(commit).describe()).status.name).toBe('RUNNING');

  // Nothing is sent from here on: the deploys, handing themselves over again, find env-production
  // gone, start it again (unpaused: a fresh run) and queue there.
  const [olderResult, newerResult] = await Promise.all([result(older), result(newer)]);
  expect(newerResult).toMatchObject({ phase: 'succeeded', tag: shaTag(newer) });
  expect(['superseded', 'succeeded']).toContain(olderResult.phase);
  expect(await overlayTag()).toBe(shaTag(newer));
  expect(await overlayTag()).not.toBe(tagBefore);
  const log = await stack.origin.log(OVERLAY);
  expect(log.filter((entry) => entry.body.includes(`Deployed-Commit: ${newer}`))).toHaveLength(1);

  const restarted = await env().describe();
  expect(restarted.runId).not.toBe(terminated);
  expect(restarted.status.name).toBe('RUNNING');
  const now = await view();
  expect(now.paused).toBeUndefined();
  expect(now.queue).toEqual([]);
  expect(now.outcomes.find((o) => o.commit === newer)).toMatchObject({ kind: 'deployed', tag: shaTag(newer) });
  expect(now.outcomes.find((o) => o.commit === older)?.kind).toBe(
    olderResult.phase === 'succeeded' ? 'deployed' : 'superseded',
  );
  // Started again by one of the deploys (its child, abandoned), not by a person or the gateway.
  expect([older, newer].map((commit) => handleOf(commit).workflowId)).toContain(restarted.parentExecution?.workflowId);
}, 120_000);
