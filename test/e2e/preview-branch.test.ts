import { requestPreview } from '../../src/client/deploys';
import { closePreview } from '../../src/client/environment';
import type { DeployStatus } from '../../src/contract/deploy';
import type { EnvironmentView } from '../../src/contract/environment';
import { deployWorkflowId, environmentWorkflowId } from '../../src/contract/ids';
import { prTag } from '../../src/plan/tags';
import { git } from '../../harness/origin';
import { OWNER, PREVIEW_APP, REPO, startRunningStack, type Stack, type WorkerProcess } from '../../harness/stack';
import { recordHistories } from '../support/histories';
import { eventually } from '../support/wait';

/** preview.branch: previews on the deployer's own branch per PR; the PR branch is never written. */
const REPOSITORY = `${OWNER}/${REPO}`;
const PREVIEW_OVERLAY = 'k8s/overlays/preview/kustomization.yaml';
const BRANCH = 'gitops-deployer/preview-{number}';
let stack: Stack;
let worker: WorkerProcess;

beforeAll(async () => {
  ({ stack, worker } = await startRunningStack({ preview: { application: PREVIEW_APP, branch: BRANCH } }));
}, 120_000);
afterAll(async () => {
  // A preview on the deployer's own branch (removed on close), for the replay test.
  await recordHistories(stack);
  await stack?.stop();
});

const tipOf = async (branch: string) =>
  (await git(stack.origin.bareDir, ['rev-parse', `refs/heads/${branch}`]).catch(() => '')).trim();
const resultOf = (pr: number, commit: string) =>
  eventually(`the preview deploy of #${pr} at ${commit.slice(0, 7)}\n${worker.output().slice(-2000)}`, () =>
    stack.client.workflow
      .getHandle(deployWorkflowId(REPOSITORY, { kind: 'preview', pr }, commit))
      .result()
      .catch(() => undefined),
  ) as Promise<DeployStatus>;

test("pushes preview the PR's code on the deployer's branch, never the PR branch; closing removes that branch", async () => {
  const branch = 'feature/own-branch';
  const preview = 'gitops-deployer/preview-21';
  const first = await stack.origin.commitOn(branch, { 'services/api/main.py': 'print("own branch")\n' }, 'feat: v1');
  await stack.github.addPullRequest({ owner: OWNER, repo: REPO, number: 21, headRef: branch });
  await stack.argo.addApplication({
    name: 'yt-summarizer-pr-21',
    targetRevision: preview,
    overlayPath: 'k8s/overlays/preview',
  });
  await stack.pushImages(prTag(21, first));
  stack.github.addRun({
    owner: OWNER,
    repo: REPO,
    headSha: first,
    event: 'pull_request',
    branch,
    pullRequests: [21],
    status: 'completed',
    conclusion: 'success',
  });

  await requestPreview(stack.client, stack.config, 21, { commit: first, requestedBy: 'test' });
  const one = await resultOf(21, first);
  expect(one).toMatchObject({
    phase: 'succeeded',
    rule: 'ci',
    tag: prTag(21, first),
    argo: expect.stringMatching(/Synced .* Healthy/),
  });
  expect(await tipOf(branch)).toBe(first); // the PR branch is untouched: no pull, no skipped checks for the author
  expect(await tipOf(preview)).toBe(one.overlayCommit);
  expect((await git(stack.origin.bareDir, ['rev-parse', `${one.overlayCommit}^`])).trim()).toBe(first);
  expect(await stack.origin.readAt(`refs/heads/${preview}`, PREVIEW_OVERLAY)).toContain(`newTag: ${prTag(21, first)}`);

  // The next push: the preview branch is moved (forced) to the new head plus its own overlay commit.
  const second = await stack.origin.commitOn(branch, { 'services/api/main.py': 'print("own branch 2")\n' }, 'feat: v2');
  await stack.pushImages(prTag(21, second));
  stack.github.addRun({
    owner: OWNER,
    repo: REPO,
    headSha: second,
    event: 'pull_request',
    branch,
    pullRequests: [21],
    status: 'completed',
    conclusion: 'success',
  });
  await requestPreview(stack.client, stack.config, 21, { commit: second, before: first, requestedBy: 'test' });
  const two = await resultOf(21, second);
  expect(two).toMatchObject({ phase: 'succeeded', tag: prTag(21, second) });
  expect((await git(stack.origin.bareDir, ['log', '--format=%H', `${second}..refs/heads/${preview}`])).trim()).toBe(
    two.overlayCommit,
  );
  expect(await tipOf(branch)).toBe(second);

  await stack.github.closePullRequest(21, { merged: true });
  expect(await closePreview(stack.client, stack.config, 21, { by: 'test', merged: true })).toBe(true);
  const gone = (await stack.client.workflow
    .getHandle(environmentWorkflowId(REPOSITORY, { kind: 'preview', pr: 21 }))
    .result()) as EnvironmentView;
  expect(gone.outcomes.at(-1)).toMatchObject({ kind: 'gone', message: expect.stringContaining(`${preview} removed`) });
  expect(gone.current).toMatchObject({ tag: prTag(21, second), commit: second });
  expect(await tipOf(preview)).toBe('');
  expect(await tipOf(branch)).toBe(second);
});
