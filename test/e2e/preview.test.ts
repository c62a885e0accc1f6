import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { requestPreview } from '../../src/client/deploys';
import { closePreview } from '../../src/client/environment';
import { statusQuery, type DeployPhase, type DeployStatus } from '../../src/contract/deploy';
import { environmentStatusQuery, type EnvironmentView } from '../../src/contract/environment';
import { deployWorkflowId, environmentWorkflowId } from '../../src/contract/ids';
import { startRelay, type Relay } from '../../src/relay/server';
import { prTag } from '../../src/plan/tags';
import { deliver, pullRequestPayload, SECRET } from '../../harness/standins/github-webhooks';
import { INITIAL_TAG, OWNER, REPO, startRunningStack, type Stack, type WorkerProcess } from '../../harness/stack';
import { recordHistories } from '../support/histories';
import { git } from '../../harness/origin';
import { eventually } from '../support/wait';

const REPOSITORY = `${OWNER}/${REPO}`;
const PREVIEW_OVERLAY = 'k8s/overlays/preview/kustomization.yaml';
let stack: Stack;
let worker: WorkerProcess;
let relay: Relay;
const relayLog: string[] = [];

beforeAll(async () => {
  ({ stack, worker } = await startRunningStack());
  relay = await startRelay({
    client: stack.client,
    config: stack.config,
    secret: SECRET,
    port: 0,
    host: '127.0.0.1',
    log: (line) => relayLog.push(line),
  });
}, 120_000);
afterAll(async () => {
  await relay?.close();
  // `RECORD_HISTORIES=1 npm test -- test/e2e/environment test/e2e/preview test/e2e/production` refreshes test/histories.
  await recordHistories(stack);
  await stack?.stop();
});

/** deployctl as a person runs it: the built CLI in a child process, with the stack's config. */
function deployctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [resolve(__dirname, '../../dist/cli/deployctl.js'), '--config', stack.configPath, ...args],
      { env: { ...process.env, TEMPORAL_ADDRESS: stack.temporal.address } },
      (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
const previewDeployWorkflowId = (pr: number, commit: string) =>
  deployWorkflowId(REPOSITORY, { kind: 'preview', pr }, commit);
const previewEnvironmentWorkflowId = (pr: number) => environmentWorkflowId(REPOSITORY, { kind: 'preview', pr });
const deployOf = (pr: number, commit: string) =>
  stack.client.workflow.getHandle<() => Promise<DeployStatus>>(previewDeployWorkflowId(pr, commit));
const previewOf = (pr: number) =>
  stack.client.workflow.getHandle<() => Promise<EnvironmentView>>(previewEnvironmentWorkflowId(pr));
const viewOf = (pr: number) => previewOf(pr).query(environmentStatusQuery);
const statusOf = (pr: number, commit: string) => deployOf(pr, commit).query(statusQuery);
const tagIn = (overlay: string) => [...overlay.matchAll(/newTag: (\S+)/g)].map((m) => m[1]);

function phase(pr: number, commit: string, wanted: DeployPhase): Promise<DeployStatus> {
  return eventually(
    `preview of #${pr} at ${commit.slice(0, 7)} to reach ${wanted}\n${worker.output().slice(-2000)}`,
    async () => {
      const status = await statusOf(pr, commit);
      return status.phase === wanted ? status : undefined;
    },
  );
}

/** A branch with the given commits, its pull request on GitHub, and its Argo CD application (the ApplicationSet's work). */
async function openPullRequest(pr: number, branch: string, commits: Array<Record<string, string>>): Promise<string[]> {
  const shas: string[] = [];
  for (const [i, files] of commits.entries())
    shas.push(await stack.origin.commitOn(branch, files, `change ${i + 1} of #${pr}`));
  await stack.github.addPullRequest({ owner: OWNER, repo: REPO, number: pr, headRef: branch });
  await stack.argo.addApplication({
    name: `yt-summarizer-pr-${pr}`,
    targetRevision: branch,
    overlayPath: 'k8s/overlays/preview',
  });
  return shas;
}

describe('preview environments per pull request (dev server, git, HTTPS registry, GitHub and Argo CD stand-ins)', () => {
  test('a PR with code changes waits for its pull_request CI run and deploys pr-<n>-<sha> onto its branch overlay; its own push starts nothing', async () => {
    const [head] = await openPullRequest(7, 'feature/api-v2', [{ 'services/api/main.py': 'print("v2 preview")\n' }]);
    const tag = prTag(7, head!);
    const run = stack.github.addRun({
      owner: OWNER,
      repo: REPO,
      headSha: head!,
      event: 'pull_request',
      branch: 'feature/api-v2',
      pullRequests: [7],
      status: 'in_progress',
    });

    const opened = await deliver(
      relay.url,
      'pull_request',
      pullRequestPayload(REPOSITORY, 'opened', { number: 7, headSha: head!, headRef: 'feature/api-v2' }),
    );
    // Forwarded to the PR's environment (signal-with-start), which starts the deploy of the head.
    expect(opened).toEqual({
      status: 202,
      body: {
        forwarded: true,
        workflowId: previewEnvironmentWorkflowId(7),
        deployWorkflowId: previewDeployWorkflowId(7, head!),
      },
    });
    const waiting = await phase(7, head!, 'waiting-for-ci');
    expect(waiting).toMatchObject({ pr: 7, branch: 'feature/api-v2', path: 'code', rule: 'ci', tag });

    await stack.pushImages(tag);
    stack.github.setRun(run.id, { status: 'completed', conclusion: 'success' });
    const result = (await deployOf(7, head!).result()) as DeployStatus;
    expect(result).toMatchObject({ phase: 'succeeded', rule: 'ci', tag, ciRun: { id: run.id, conclusion: 'success' } });
    expect(result.argo).toMatch(/Synced .* Healthy/);

    // One commit on the branch, on top of the previewed commit; main and production untouched.
    const overlayCommit = result.overlayCommit!;
    const [tip, parent, subject, ...body] = (
      await git(stack.origin.bareDir, ['log', '-1', '--format=%H%n%P%n%B', 'refs/heads/feature/api-v2'])
    )
      .trim()
      .split('\n');
    expect([tip, parent]).toEqual([overlayCommit, head]);
    expect(subject).toMatch(new RegExp(`^preview: #7 to ${tag} \\[skip ci\\]$`));
    expect(body.join('\n')).toContain(`Deploy-Workflow-Id: ${previewDeployWorkflowId(7, head!)}`);
    expect(tagIn(await stack.origin.readAt('refs/heads/feature/api-v2', PREVIEW_OVERLAY))).toEqual([tag, tag]);
    expect(tagIn(await stack.origin.readAt('main', PREVIEW_OVERLAY))).toEqual([INITIAL_TAG, INITIAL_TAG]);
    expect(tagIn(await stack.origin.readAt('main', 'k8s/overlays/prod/kustomization.yaml'))).toEqual([
      INITIAL_TAG,
      INITIAL_TAG,
    ]);

    // GitHub answers our overlay push with a synchronize: the preview recognises its own commit.
    const sync = await deliver(
      relay.url,
      'pull_request',
      pullRequestPayload(
        REPOSITORY,
        'synchronize',
        { number: 7, headSha: overlayCommit, headRef: 'feature/api-v2' },
        { before: head!, after: overlayCommit },
      ),
    );
    expect(sync.status).toBe(202);
    const view = await eventually('the own commit to be recorded', async () => {
      const v = await viewOf(7);
      return v.outcomes.some((o) => o.kind === 'ignored') ? v : undefined;
    });
    expect(view.outcomes.at(-1)).toMatchObject({ kind: 'ignored', commit: overlayCommit });
    expect(view).toMatchObject({
      target: { kind: 'preview', pr: 7 },
      latest: { commit: head, workflowId: previewDeployWorkflowId(7, head!) },
      current: { tag, rule: 'ci', commit: head, overlayCommit },
    });
    await expect(deployOf(7, overlayCommit).describe()).rejects.toThrow(/not found/i);
  });

  test('a k8s-only push to a PR finds the PR build of the same code two commits back', async () => {
    const [codeCommit, , head] = await openPullRequest(8, 'feature/workers', [
      { 'services/workers/transcribe.py': 'def transcribe(video_id):\n    return "v2"\n' },
      {
        'k8s/base/kustomization.yaml':
          'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n# 1\n',
      },
      {
        'k8s/overlays/preview/kustomization.yaml': (await stack.origin.readAt('main', PREVIEW_OVERLAY)).replace(
          'namespace: yt-summarizer-preview',
          'namespace: yt-summarizer-pr-8',
        ),
      },
    ]);
    const older = prTag(8, codeCommit!);
    await stack.pushImages(older); // CI built the code commit; the k8s-only pushes built nothing

    // Through the requestDeploy Update: the environment answers with the deploy it started.
    expect(await requestPreview(stack.client, stack.config, 8, { commit: head, requestedBy: 'test' })).toMatchObject({
      environmentWorkflowId: previewEnvironmentWorkflowId(8),
      workflowId: previewDeployWorkflowId(8, head!),
      started: true,
    });
    const result = (await eventually('the preview deploy of #8', () =>
      deployOf(8, head!)
        .result()
        .catch(() => undefined),
    )) as DeployStatus;
    expect(result).toMatchObject({ phase: 'succeeded', path: 'code', rule: 'pr-history', tag: older });
    expect(result.ruleReason).toMatch(/2 commits back/);
    expect(result.ciRun).toBeUndefined(); // nothing waited for CI
    expect(tagIn(await stack.origin.readAt('refs/heads/feature/workers', PREVIEW_OVERLAY))).toEqual([older, older]);
  });

  test('a PR with no PR-built images falls back to the tag production runs', async () => {
    const [head] = await openPullRequest(9, 'k8s/replicas', [
      {
        'k8s/base/kustomization.yaml':
          'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n# replicas\n',
      },
    ]);
    // No sha: the PR's head, as GitHub reports it; the environment names the deploy it started for it.
    expect(await requestPreview(stack.client, stack.config, 9, { requestedBy: 'test' })).toMatchObject({
      environmentWorkflowId: previewEnvironmentWorkflowId(9),
      workflowId: previewDeployWorkflowId(9, head!),
      started: true,
    });
    const result = (await eventually('the preview deploy of #9', () =>
      deployOf(9, head!)
        .result()
        .catch(() => undefined),
    )) as DeployStatus;
    expect(result).toMatchObject({ phase: 'succeeded', path: 'k8s', rule: 'production', tag: INITIAL_TAG });
    // The branch's overlay already named production's tag: nothing to commit, Argo CD confirms the head.
    expect(result.overlayCommit).toBeNull();
    expect(await stack.origin.readAt('refs/heads/k8s/replicas', 'k8s/base/kustomization.yaml')).toContain('# replicas');
  });

  test('a second push supersedes the preview deploy waiting for CI; closing the PR cancels the second and the preview is gone', async () => {
    const [first] = await openPullRequest(10, 'feature/web', [{ 'apps/web/src/App.tsx': 'export const v = 10;\n' }]);
    const branchBefore = await stack.origin.readAt('refs/heads/feature/web', PREVIEW_OVERLAY);
    await deliver(
      relay.url,
      'pull_request',
      pullRequestPayload(REPOSITORY, 'opened', { number: 10, headSha: first!, headRef: 'feature/web' }),
    );
    await phase(10, first!, 'waiting-for-ci');

    const second = await stack.origin.commitOn(
      'feature/web',
      { 'apps/web/src/App.tsx': 'export const v = 11;\n' },
      'second push',
    );
    await deliver(
      relay.url,
      'pull_request',
      pullRequestPayload(
        REPOSITORY,
        'synchronize',
        { number: 10, headSha: second, headRef: 'feature/web' },
        { before: first!, after: second },
      ),
    );
    expect(await deployOf(10, first!).result()).toMatchObject({
      phase: 'superseded',
      note: expect.stringContaining(second.slice(0, 7)),
    });
    await phase(10, second, 'waiting-for-ci');
    // A late redelivery of the first push (webhooks may arrive out of order) does not turn the preview back.
    await deliver(
      relay.url,
      'pull_request',
      pullRequestPayload(REPOSITORY, 'opened', { number: 10, headSha: first!, headRef: 'feature/web' }),
    );
    const late = await eventually('the late event to be ignored', async () => {
      const v = await viewOf(10);
      return v.outcomes.at(-1)?.kind === 'ignored' ? v : undefined;
    });
    expect(late.latest).toMatchObject({ commit: second });
    expect(late.outcomes.at(-1)).toMatchObject({
      kind: 'ignored',
      commit: first,
      message: expect.stringMatching(/is not the head of #10/),
    });
    expect((await statusOf(10, second)).phase).toBe('waiting-for-ci');

    await stack.github.closePullRequest(10);
    const closed = await deliver(
      relay.url,
      'pull_request',
      pullRequestPayload(REPOSITORY, 'closed', {
        number: 10,
        headSha: second,
        headRef: 'feature/web',
        state: 'closed',
      }),
    );
    expect(closed).toMatchObject({ status: 202, body: { closed: true } });
    const gone = await previewOf(10).result();
    expect(gone.outcomes.at(-1)).toMatchObject({ kind: 'gone' });
    expect(gone.closed).toMatchObject({ merged: false });
    expect((await deployOf(10, second).describe()).status.name).toBe('CANCELLED');
    expect(await stack.origin.readAt('refs/heads/feature/web', PREVIEW_OVERLAY)).toBe(branchBefore);
  });

  test('a pull request from a fork deploys nothing and says why', async () => {
    const forkHead = 'f0'.repeat(20);
    await stack.github.addPullRequest({
      owner: OWNER,
      repo: REPO,
      number: 11,
      headRef: 'patch-1',
      fork: { fullName: 'someone/yt-summarizer', headSha: forkHead },
    });
    const mainBefore = await stack.origin.head();
    await deliver(
      relay.url,
      'pull_request',
      pullRequestPayload(REPOSITORY, 'opened', {
        number: 11,
        headSha: forkHead,
        headRef: 'patch-1',
        fork: 'someone/yt-summarizer',
      }),
    );
    const result = (await eventually('the fork preview to end', () =>
      deployOf(11, forkHead)
        .result()
        .catch(() => undefined),
    )) as DeployStatus;
    expect(result).toMatchObject({
      phase: 'skipped',
      reason: 'fork',
      note: expect.stringContaining('someone/yt-summarizer'),
    });
    expect(result.tag).toBeUndefined();
    expect(await stack.origin.head()).toBe(mainBefore);
    expect(await closePreview(stack.client, stack.config, 11, { by: 'test' })).toBe(true);
  });

  test('a worker killed while a preview waits for CI: a new worker finishes it with exactly one overlay commit', async () => {
    const [head] = await openPullRequest(12, 'feature/durable', [{ 'services/api/main.py': 'print("durable")\n' }]);
    const tag = prTag(12, head!);
    const run = stack.github.addRun({
      owner: OWNER,
      repo: REPO,
      headSha: head!,
      event: 'pull_request',
      branch: 'feature/durable',
      pullRequests: [12],
      status: 'in_progress',
    });
    await requestPreview(stack.client, stack.config, 12, { commit: head, requestedBy: 'test' });
    await phase(12, head!, 'waiting-for-ci');
    // Kill between two CI probes, on a timer: a step killed mid-flight is only retried after its 2-minute timeout.
    while (stack.github.requests.filter((r) => r.query.head_sha === head).length < 2)
      await new Promise((r) => setTimeout(r, 50));

    await worker.kill(); // SIGKILL: no drain
    await stack.pushImages(tag);
    stack.github.setRun(run.id, { status: 'completed', conclusion: 'success' });
    worker = await stack.startWorker();

    expect(await deployOf(12, head!).result()).toMatchObject({ phase: 'succeeded', rule: 'ci', tag });
    const log = (await git(stack.origin.bareDir, ['log', '--format=%H %s', `${head}..refs/heads/feature/durable`]))
      .trim()
      .split('\n');
    expect(log).toHaveLength(1);
    expect(log[0]).toMatch(new RegExp(`preview: #12 to ${tag} \\[skip ci\\]$`));
  }, 200_000);

  test('deployctl previews a PR by number, shows its rule and lists it beside production', async () => {
    const [head] = await openPullRequest(13, 'k8s/limits', [
      {
        'k8s/base/kustomization.yaml':
          'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n# limits\n',
      },
    ]);
    const asked = await deployctl('preview', '--pr', '13');
    expect(asked).toMatchObject({
      code: 0,
      stdout: expect.stringContaining(previewEnvironmentWorkflowId(13)),
    });
    await eventually('the preview deploy of #13', () =>
      deployOf(13, head!)
        .result()
        .catch(() => undefined),
    );

    const status = await deployctl('status', '--pr', '13');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`runs +${INITIAL_TAG} \\(rule production, for ${head!.slice(0, 7)}`));
    expect((await deployctl('status', '--pr', '13', head!.slice(0, 7))).stdout).toMatch(
      /rule +production: the pull request changes no code/,
    );

    const rows = await eventually('visibility to list the preview', async () => {
      const listed = JSON.parse((await deployctl('--json', 'list', '--pr', '13')).stdout) as Array<
        Record<string, unknown>
      >;
      return listed.length ? listed : undefined;
    });
    expect(rows).toEqual([
      expect.objectContaining({
        environment: 'preview',
        pr: 13,
        commit: head,
        phase: 'succeeded',
        path: 'k8s',
        tag: INITIAL_TAG,
        execution: 'COMPLETED',
      }),
    ]);
    expect((await deployctl('list', '--env', 'preview')).stdout).toMatch(
      new RegExp(`^preview #13 +${head!.slice(0, 7)} +succeeded`, 'm'),
    );
    // Without a filter, previews and production deploys share one list (ENV column).
    expect((await deployctl('list', '--limit', '100')).stdout).toMatch(
      new RegExp(`^ENV +COMMIT[^]*^preview #13 +${head!.slice(0, 7)}`, 'm'),
    );
    expect((await deployctl('list', '--env', 'production')).stdout.trim()).toBe('no deploys match');
    expect((await deployctl('preview', '--pr', 'seven')).code).toBe(2);
  });

  test('the worker logs no secrets', () => {
    expect(worker.output()).not.toContain('ghs_test_github_token');
    expect(worker.output()).not.toContain('argocd-test-token');
  });
});
