import { WorkflowFailedError } from '@temporalio/client';
import { startDeploy } from '../../src/client/deploys';
import { productionTarget } from '../../src/client/environment';
import { statusQuery, type DeployPhase, type DeployStatus } from '../../src/contract/deploy';
import { deployWorkflowId } from '../../src/contract/ids';
import { shaTag } from '../../src/plan/tags';
import { INITIAL_TAG, OWNER, REPO, startRunningStack, type Stack, type WorkerProcess } from '../../harness/stack';
import { recordHistories } from '../support/histories';

const OVERLAY = 'k8s/overlays/prod/kustomization.yaml';
let stack: Stack;
let worker: WorkerProcess;

beforeAll(async () => {
  ({ stack, worker } = await startRunningStack());
}, 120_000);
afterAll(async () => {
  // `RECORD_HISTORIES=1 npm test -- test/e2e/environment test/e2e/preview test/e2e/production` refreshes test/histories.
  await recordHistories(stack);
  await stack?.stop();
});

const idOf = (commit: string) => deployWorkflowId(`${OWNER}/${REPO}`, productionTarget(stack.config), commit);
const handleOf = (commit: string) => stack.client.workflow.getHandle(idOf(commit));

async function waitForPhase(commit: string, phase: DeployPhase): Promise<DeployStatus> {
  let status: DeployStatus | undefined;
  for (let i = 0; i < 400; i++) {
    status = await handleOf(commit)
      .query(statusQuery)
      .catch(() => undefined);
    if (status?.phase === phase) return status;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `deploy of ${commit} never reached ${phase}: ${JSON.stringify(status)}\n${worker.output().slice(-3000)}`,
  );
}

async function merge(files: Record<string, string | null>, message: string) {
  const before = await stack.origin.head();
  const commit = await stack.origin.commit(files, message);
  return { before, commit };
}

describe('production deploys end to end (dev server, git, HTTPS registry, GitHub and Argo CD stand-ins)', () => {
  test('a code merge waits for CI, deploys sha-<commit> with one [skip ci] overlay commit, and Argo CD confirms it', async () => {
    const { before, commit } = await merge({ 'services/api/main.py': 'print("v2")\n' }, 'feat(api): v2');
    const tag = shaTag(commit);
    const run = stack.github.addRun({ owner: OWNER, repo: REPO, headSha: commit, status: 'in_progress' });

    // env-production starts the deploy as its child and answers with it.
    expect(await startDeploy(stack.client, stack.config, { commit, before })).toEqual({
      environmentWorkflowId: 'env-production',
      workflowId: idOf(commit),
      started: true,
      note: `started ${idOf(commit)}`,
    });
    // A redelivered webhook or a second `deployctl start` joins nothing new.
    expect(await startDeploy(stack.client, stack.config, { commit, before })).toMatchObject({
      environmentWorkflowId: 'env-production',
      workflowId: idOf(commit),
      started: false,
    });
    await waitForPhase(commit, 'waiting-for-ci');

    await stack.pushImages(tag); // CI builds and pushes once...
    stack.github.setRun(run.id, { status: 'completed', conclusion: 'success' }); // ...then completes.
    const result = (await handleOf(commit).result()) as DeployStatus;

    expect(result).toMatchObject({
      phase: 'succeeded',
      target: { kind: 'production', name: 'production' },
      path: 'code',
      tag,
      ciRun: { id: run.id, conclusion: 'success' },
    });
    expect(Object.keys(result.digests).sort()).toEqual(['yt-summarizer-api', 'yt-summarizer-workers']);
    const log = await stack.origin.log();
    expect(log[1]!.sha).toBe(commit); // exactly one commit on top of the merge
    expect(log[0]!.sha).toBe(result.overlayCommit);
    expect(log[0]!.subject).toMatch(new RegExp(`${tag}.*\\[skip ci\\]$`));
    expect(log[0]!.body).toContain(`Deployed-Commit: ${commit}`);
    expect(log[0]!.body).toContain(`Deploy-Workflow-Id: ${idOf(commit)}`);
    const overlay = await stack.origin.readAt('main', OVERLAY);
    expect(overlay).toBe((await stack.origin.readAt(commit, OVERLAY)).split(INITIAL_TAG).join(tag));
    expect(result.argo).toMatch(/Synced .* Healthy/);
  });

  test('a k8s-only merge re-validates the running tag and confirms it without a commit', async () => {
    const running = /newTag: (sha-[0-9a-f]{7})/.exec(await stack.origin.readAt('main', OVERLAY))![1]!;
    const { before, commit } = await merge(
      { 'k8s/base/deployment.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n# replicas: 3\n' },
      'k8s: more replicas',
    );
    await startDeploy(stack.client, stack.config, { commit, before });
    const result = (await handleOf(commit).result()) as DeployStatus;
    expect(result).toMatchObject({ phase: 'succeeded', path: 'k8s', tag: running });
    expect(result.overlayCommit).toBeUndefined();
    expect(await stack.origin.head()).toBe(commit);
  });

  test('a docs-only merge deploys nothing', async () => {
    const { before, commit } = await merge({ 'docs/api.md': '# API\nnew words\n' }, 'docs: api');
    await startDeploy(stack.client, stack.config, { commit, before });
    expect(await handleOf(commit).result()).toMatchObject({ phase: 'skipped', path: 'none', reason: 'skipped' });
    expect(await stack.origin.head()).toBe(commit);
  });

  test('failed CI fails the deploy with the run URL and leaves the overlay untouched', async () => {
    const overlayBefore = await stack.origin.readAt('main', OVERLAY);
    const { before, commit } = await merge({ 'services/workers/transcribe.py': 'broken(\n' }, 'feat(workers): oops');
    const run = stack.github.addRun({ owner: OWNER, repo: REPO, headSha: commit, status: 'in_progress' });
    await startDeploy(stack.client, stack.config, { commit, before });
    await waitForPhase(commit, 'waiting-for-ci');
    stack.github.setRun(run.id, { status: 'completed', conclusion: 'failure' });
    const err = await handleOf(commit)
      .result()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause?.message).toContain(run.html_url);
    expect(await stack.origin.head()).toBe(commit);
    expect(await stack.origin.readAt('main', OVERLAY)).toBe(overlayBefore);
  });

  test('CI succeeded but an image is missing from the registry: the deploy stops, naming the image', async () => {
    const { before, commit } = await merge({ 'apps/web/src/App.tsx': 'export const v = 3;\n' }, 'feat(web): v3');
    const tag = shaTag(commit);
    await stack.registry.pushImage('yt-summarizer-api', tag); // workers never pushed
    stack.github.addRun({ owner: OWNER, repo: REPO, headSha: commit, status: 'completed', conclusion: 'success' });
    await startDeploy(stack.client, stack.config, { commit, before });
    const err = (await handleOf(commit)
      .result()
      .catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err.cause?.message).toMatch(
      new RegExp(`^image not found: ${stack.registry.host}/yt-summarizer-workers:${tag}`),
    );
    expect(await stack.origin.head()).toBe(commit);
  });

  // The token also travels to git base64-encoded, as an HTTP Basic header: neither form may leak.
  const secrets = [
    'ghs_test_github_token',
    Buffer.from('x-access-token:ghs_test_github_token').toString('base64'),
    'argocd-test-token',
  ];

  test('the worker logs no secrets', () => {
    for (const secret of secrets) expect(worker.output()).not.toContain(secret);
  });

  test('no secret in any workflow history: inputs, results, failures, signals', async () => {
    let histories = 0;
    for await (const execution of stack.client.workflow.list()) {
      // Payloads are bytes (JSON text): read them as text, so a secret inside one would show.
      const history = JSON.stringify(
        await stack.client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory(),
        (_, value: unknown) => (value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value),
      );
      expect(history).toContain('yt-summarizer');
      histories++;
      for (const secret of secrets)
        expect({ workflow: execution.workflowId, leaked: history.includes(secret) }).toEqual({
          workflow: execution.workflowId,
          leaked: false,
        });
    }
    expect(histories).toBeGreaterThan(3);
  });
});
