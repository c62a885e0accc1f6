import { hostname } from 'node:os';
import { tsToMs } from '@temporalio/common/lib/time';
import { startDeploy } from '../../src/client/deploys';
import { environmentHandle, productionTarget } from '../../src/client/environment';
import { statusQuery, type DeployStatus } from '../../src/contract/deploy';
import { deployWorkflowId } from '../../src/contract/ids';
import { shaTag } from '../../src/plan/tags';
import { eventually } from '../support/wait';
import { INITIAL_TAG, OWNER, REPO, startStack, type Stack } from '../../harness/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
  await stack.pushImages(INITIAL_TAG);
}, 120_000);
afterAll(() => stack?.stop());

const handleOf = (commit: string) =>
  stack.client.workflow.getHandle<() => Promise<DeployStatus>>(
    deployWorkflowId(`${OWNER}/${REPO}`, productionTarget(stack.config), commit),
  );

test('SIGKILL the worker while a deploy waits for CI: a new worker finishes it with exactly one overlay commit', async () => {
  const first = await stack.startWorker();
  const before = await stack.origin.head();
  const commit = await stack.origin.commit({ 'services/api/main.py': 'print("durable")\n' }, 'feat(api): durable');
  const run = stack.github.addRun({ owner: OWNER, repo: REPO, headSha: commit, status: 'in_progress' });
  expect(await startDeploy(stack.client, stack.config, { commit, before })).toMatchObject({ started: true });
  const handle = handleOf(commit);

  // Let it poll CI a few times on its timers, then kill the worker without any chance to drain.
  await eventually('two CI polls', async () =>
    stack.github.requests.filter((r) => r.query.head_sha === commit).length >= 2 ? true : undefined,
  );
  expect((await handle.query(statusQuery)).phase).toBe('waiting-for-ci');
  await first.kill();

  // CI finishes while no worker is alive; nothing may be lost.
  await stack.pushImages(shaTag(commit));
  stack.github.setRun(run.id, { status: 'completed', conclusion: 'success' });
  expect((await handle.describe()).status.name).toBe('RUNNING');

  const second = await stack.startWorker();
  const result = (await handle.result()) as DeployStatus;
  expect(result).toMatchObject({ phase: 'succeeded', tag: shaTag(commit) });
  const log = await stack.origin.log();
  expect(log.filter((entry) => entry.body.includes(`Deployed-Commit: ${commit}`))).toHaveLength(1);
  expect(log[1]!.sha).toBe(commit);
  await second.stop();
});

test('SIGKILL the worker inside a step (update-overlay, mid-fetch): another worker retries the step within 15 s, one overlay commit', async () => {
  // Two workers, as production runs them: the one running the step dies, the other takes over.
  const workers = [await stack.startWorker(), await stack.startWorker()];
  const commit = await stack.origin.commit(
    { 'services/api/main.py': 'print("killed mid-step")\n' },
    'feat(api): killed mid-step',
  );
  const run = stack.github.addRun({ owner: OWNER, repo: REPO, headSha: commit, status: 'in_progress' });
  expect(await startDeploy(stack.client, stack.config, { commit })).toMatchObject({ started: true });
  const handle = handleOf(commit);
  await eventually('waiting-for-ci', async () =>
    (await handle.query(statusQuery)).phase === 'waiting-for-ci' ? true : undefined,
  );

  // From here on origin answers slowly: the overlay step's fetch hangs while the worker dies.
  stack.origin.server!.delayMs = 60_000;
  await stack.pushImages(shaTag(commit));
  stack.github.setRun(run.id, { status: 'completed', conclusion: 'success' });
  const env = environmentHandle(stack.client, stack.config);
  expect(env.workflowId).toBe('env-production');
  const runningUpdate = async () =>
    (await env.describe()).raw.pendingActivities?.find(
      (a) => a.activityType?.name === 'updateOverlay' && Number(a.state) === 2,
    );
  const pending = await eventually('update-overlay running', runningUpdate);
  // The SDK's identity is <pid>@<host>.
  const victim = workers.find((w) => pending!.lastWorkerIdentity === `${w.child.pid}@${hostname()}`)!;
  expect(victim).toBeDefined();
  await new Promise((r) => setTimeout(r, 500));
  await victim.kill();
  const killedAt = Date.now();
  stack.origin.server!.delayMs = 0;

  expect(await handle.result()).toMatchObject({ phase: 'succeeded', tag: shaTag(commit) });
  const events = (await env.fetchHistory()).events ?? [];
  const scheduled = events
    .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'updateOverlay')
    .at(-1)!;
  const started = events.find(
    (e) => e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === scheduled.eventId!.toString(),
  )!;
  // The history records the attempt that finished: the second, started soon after the kill.
  expect(started.activityTaskStartedEventAttributes!.attempt).toBe(2);
  const retriedAfterMs = tsToMs(started.eventTime) - killedAt;
  expect(retriedAfterMs).toBeLessThan(15_000);
  const log = await stack.origin.log();
  expect(log.filter((entry) => entry.body.includes(`Deployed-Commit: ${commit}`))).toHaveLength(1);
}, 120_000);
