import { startDeploy } from '../../src/client/deploys';
import { shaTag } from '../../src/plan/tags';
import { deployWorkflowId, statusQuery } from '../../src/workflows/definitions';
import type { DeployStatus } from '../../src/workflows/types';
import { INITIAL_TAG, OWNER, REPO, startStack, type Stack } from '../support/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
  await stack.pushImages(INITIAL_TAG);
}, 120_000);
afterAll(() => stack?.stop());

test('SIGKILL the worker while a deploy waits for CI: a new worker finishes it with exactly one overlay commit', async () => {
  const first = await stack.startWorker();
  const before = await stack.origin.head();
  const commit = await stack.origin.commit({ 'services/api/main.py': 'print("durable")\n' }, 'feat(api): durable');
  const run = stack.github.addRun({ owner: OWNER, repo: REPO, headSha: commit, status: 'in_progress' });
  await startDeploy(stack.client, stack.config, { commit, before });
  const handle = stack.client.workflow.getHandle(deployWorkflowId(`${OWNER}/${REPO}`, commit));

  // Let it poll CI a few times on its timers, then kill the worker without any chance to drain.
  while (stack.github.requests.filter((r) => r.query.head_sha === commit).length < 2) await new Promise((r) => setTimeout(r, 50));
  expect((await handle.query(statusQuery)).phase).toBe('waiting-for-ci');
  await first.kill();

  // CI finishes while no worker is alive; nothing may be lost.
  await stack.pushImages(shaTag(commit));
  stack.github.setRun(run.id, { status: 'completed', conclusion: 'success' });
  expect((await handle.describe()).status.name).toBe('RUNNING');

  await stack.startWorker();
  const result = (await handle.result()) as DeployStatus;
  expect(result).toMatchObject({ phase: 'succeeded', tag: shaTag(commit) });
  const log = await stack.origin.log();
  expect(log.filter((entry) => entry.body.includes(`Deployed-Commit: ${commit}`))).toHaveLength(1);
  expect(log[1]!.sha).toBe(commit);
});
