// The stand-ins are only useful if real clients accept them, so these drive them
// with @octokit/rest and plain fetch exactly as the product does.
import { Octokit } from '@octokit/rest';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { createOrigin, git, Origin } from '../harness/origin';
import { startGitHubStandIn, GitHubStandIn } from '../harness/standins/github';
import { startArgoCdStandIn, ArgoCdStandIn, KustomizeImage } from '../harness/standins/argocd';

const TOKEN = 'ghp_test_token';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Octokit's request-log plugin console.errors every non-2xx; these tests provoke them on purpose.
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

// Pushes one commit per message to a branch of origin (new branches start at main), leaving the clone on main.
async function commitTo(
  origin: Origin,
  branch: string,
  messages: string[],
  files: Record<string, string> = {},
): Promise<string> {
  const w = origin.workDir;
  await git(w, ['fetch', '-q', 'origin']);
  const exists = await git(w, ['rev-parse', '-q', '--verify', `origin/${branch}`]).then(
    () => true,
    () => false,
  );
  await git(w, ['checkout', '-q', '-B', branch, exists ? `origin/${branch}` : 'origin/main']);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(w, path)), { recursive: true });
    await writeFile(join(w, path), content);
  }
  await git(w, ['add', '-A']);
  for (const m of messages) await git(w, ['commit', '-q', '--allow-empty', '-m', m]);
  await git(w, ['push', '-q', 'origin', `HEAD:refs/heads/${branch}`]);
  const sha = (await git(w, ['rev-parse', 'HEAD'])).trim();
  await git(w, ['checkout', '-q', 'main']);
  return sha;
}

describe('origin helper', () => {
  let origin: Origin;
  beforeAll(async () => {
    origin = await createOrigin({ registryHost: 'reg.example.io', initialTag: 'abc1234def' });
  });
  afterAll(() => origin.cleanup());

  test('seeds the spec layout with a commented prod overlay', async () => {
    const prod = await origin.readAt('main', 'k8s/overlays/prod/kustomization.yaml');
    expect(prod).toContain('# Production overlay');
    expect(parse(prod).images).toEqual([
      { name: 'yt-summarizer-api', newName: 'reg.example.io/yt-summarizer-api', newTag: 'sha-abc1234' },
      { name: 'yt-summarizer-workers', newName: 'reg.example.io/yt-summarizer-workers', newTag: 'sha-abc1234' },
    ]);
    for (const p of [
      'services/shared/db/models.py',
      'apps/web/Dockerfile',
      '.github/workflows/ci.yml',
      'infra/terraform/main.tf',
    ]) {
      await expect(origin.readAt('main', p)).resolves.not.toBe('');
    }
  });

  test('commit pushes to origin, deletes files, and survives a foreign push', async () => {
    const sha = await origin.commit(
      { 'services/api/main.py': 'print(1)\n', 'docs/api.md': null },
      'feat: api\n\nlonger body',
    );
    expect(await origin.head()).toBe(sha);
    await expect(origin.readAt(sha, 'docs/api.md')).rejects.toThrow();
    // Someone else pushes from another clone; the helper must pull before its next commit.
    const other = `${origin.workDir}-other`;
    await git(origin.workDir, ['clone', '-q', origin.url, other]);
    await git(other, ['commit', '-q', '--allow-empty', '-m', 'foreign']);
    await git(other, ['push', '-q', 'origin', 'HEAD:main']);
    const sha2 = await origin.commit({ 'README.md': 'x\n' }, 'chore: readme [skip ci]');
    const log = await origin.log();
    expect(log.slice(0, 3).map((l) => l.subject)).toEqual(['chore: readme [skip ci]', 'foreign', 'feat: api']);
    expect(log[0].sha).toBe(sha2);
    expect(log[2].body).toBe('longer body');
    expect((await origin.log('services/api/main.py')).map((l) => l.sha)).toEqual([sha, log[log.length - 1].sha]);
  });
});

describe('GitHub stand-in via @octokit/rest', () => {
  let gh: GitHubStandIn;
  let octokit: Octokit;
  const sha = 'a'.repeat(40);
  beforeEach(async () => {
    gh = await startGitHubStandIn({ token: TOKEN });
    octokit = new Octokit({ auth: TOKEN, baseUrl: gh.url, log: quiet });
  });
  afterEach(() => gh.stop());

  test('a run added then completed is read back through listWorkflowRuns and getWorkflowRun', async () => {
    gh.addRun({ owner: 'acme', repo: 'yt', headSha: 'b'.repeat(40) });
    const run = gh.addRun({ owner: 'acme', repo: 'yt', headSha: sha, status: 'in_progress' });
    const q = { owner: 'acme', repo: 'yt', workflow_id: 'ci.yml', head_sha: sha, branch: 'main', event: 'push' };
    let res = await octokit.rest.actions.listWorkflowRuns(q);
    expect(res.status).toBe(200);
    expect(res.headers['x-ratelimit-remaining']).toBeDefined();
    expect(res.data.total_count).toBe(1);
    expect(res.data.workflow_runs[0]).toMatchObject({
      id: run.id,
      status: 'in_progress',
      conclusion: null,
      path: '.github/workflows/ci.yml',
    });

    gh.setRun(run.id, { status: 'completed', conclusion: 'success' });
    res = await octokit.rest.actions.listWorkflowRuns({ ...q, workflow_id: run.workflow_id });
    expect(res.data.workflow_runs[0]).toMatchObject({
      status: 'completed',
      conclusion: 'success',
      head_branch: 'main',
      event: 'push',
    });
    const one = await octokit.rest.actions.getWorkflowRun({ owner: 'acme', repo: 'yt', run_id: run.id });
    expect(one.data.repository.full_name).toBe('acme/yt');
    expect(gh.requests.map((r) => r.query.head_sha)).toContain(sha);
  });

  test('lists newest first and paginates with link headers', async () => {
    const ids = [1, 2, 3].map(() => gh.addRun({ owner: 'acme', repo: 'yt', headSha: sha }).id);
    const all = await octokit.paginate(octokit.rest.actions.listWorkflowRuns, {
      owner: 'acme',
      repo: 'yt',
      workflow_id: 'ci.yml',
      per_page: 2,
    });
    expect(all.map((r) => r.id)).toEqual([...ids].reverse());
  });

  test("bad token is a 401 RequestError with GitHub's body; unknown workflow is 404", async () => {
    gh.addRun({ owner: 'acme', repo: 'yt', headSha: sha });
    const bad = new Octokit({ auth: 'nope', baseUrl: gh.url, log: quiet });
    const err = await bad.rest.actions
      .listWorkflowRuns({ owner: 'acme', repo: 'yt', workflow_id: 'ci.yml' })
      .catch((e) => e);
    expect(err.name).toBe('HttpError'); // @octokit/request-error's RequestError
    expect(err.status).toBe(401);
    expect(err.response.data).toEqual({
      message: 'Bad credentials',
      documentation_url: 'https://docs.github.com/rest',
      status: '401',
    });
    const missing = await octokit.rest.actions
      .listWorkflowRuns({ owner: 'acme', repo: 'yt', workflow_id: 'deploy.yml' })
      .catch((e) => e);
    expect(missing.status).toBe(404);
    expect(missing.response.data.message).toBe('Not Found');
  });

  test('failNext injects 429 with retry-after, then recovers', async () => {
    gh.addWorkflow({ owner: 'acme', repo: 'yt' });
    gh.failNext(1, 429, { 'retry-after': '2' });
    const err = await octokit.rest.actions
      .listWorkflowRuns({ owner: 'acme', repo: 'yt', workflow_id: 'ci.yml' })
      .catch((e) => e);
    expect(err.status).toBe(429);
    expect(err.response.headers['retry-after']).toBe('2');
    const ok = await octokit.rest.actions.listWorkflowRuns({ owner: 'acme', repo: 'yt', workflow_id: 'ci.yml' });
    expect(ok.data).toEqual({ total_count: 0, workflow_runs: [] });
    expect(gh.requests.map((r) => r.status)).toEqual([429, 200]);
  });
});

describe('GitHub stand-in pull requests via @octokit/rest', () => {
  let origin: Origin;
  let gh: GitHubStandIn;
  let octokit: Octokit;
  const repo = { owner: 'acme', repo: 'yt' };
  beforeAll(async () => {
    origin = await createOrigin();
  });
  afterAll(() => origin.cleanup());
  beforeEach(async () => {
    gh = await startGitHubStandIn({ token: TOKEN, originBareDir: origin.bareDir });
    octokit = new Octokit({ auth: TOKEN, baseUrl: gh.url, log: quiet });
  });
  afterEach(() => gh.stop());

  test('pulls.get follows pushes to the head branch; listCommits is oldest first and paginates', async () => {
    const first = await commitTo(origin, 'feature/x', ['feat: one\n\nwhy it matters', 'feat: two', 'feat: three']);
    await origin.commit({ 'README.md': 'moved on\n' }, 'chore: main moves on'); // not part of the PR
    const added = await gh.addPullRequest({ ...repo, number: 7, headRef: 'feature/x', title: 'Preview me' });
    expect(added.head.sha).toBe(first);

    let pr = (await octokit.rest.pulls.get({ ...repo, pull_number: 7 })).data;
    expect(pr).toMatchObject({
      number: 7,
      state: 'open',
      title: 'Preview me',
      draft: false,
      merged: false,
      merged_at: null,
      commits: 3,
      html_url: 'https://github.com/acme/yt/pull/7',
    });
    expect(pr.head).toMatchObject({
      label: 'acme:feature/x',
      ref: 'feature/x',
      sha: first,
      repo: { full_name: 'acme/yt', fork: false },
    });
    expect(pr.base).toMatchObject({
      label: 'acme:main',
      ref: 'main',
      sha: await origin.head(),
      repo: { full_name: 'acme/yt' },
    });

    const fourth = await commitTo(origin, 'feature/x', ['feat: four']);
    pr = (await octokit.rest.pulls.get({ ...repo, pull_number: 7 })).data;
    expect(pr).toMatchObject({ commits: 4, head: { sha: fourth } });

    const { data: commits } = await octokit.rest.pulls.listCommits({ ...repo, pull_number: 7 });
    expect(commits.map((c) => c.commit.message)).toEqual([
      'feat: one\n\nwhy it matters',
      'feat: two',
      'feat: three',
      'feat: four',
    ]);
    expect(commits[3].sha).toBe(fourth);
    commits.slice(1).forEach((c, i) => expect(c.parents.map((p) => p.sha)).toEqual([commits[i].sha]));
    expect(commits[0].commit).toMatchObject({
      author: { name: 'Test Author', email: 'author@example.com' },
      committer: { name: 'Test Committer' },
      comment_count: 0,
      verification: { verified: false, reason: 'unsigned' },
    });
    expect(commits[0].commit.author!.date).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(commits[0]).toMatchObject({ author: null, html_url: `https://github.com/acme/yt/commit/${commits[0].sha}` });

    const page1 = await octokit.rest.pulls.listCommits({ ...repo, pull_number: 7, per_page: 3 });
    expect(page1.data).toHaveLength(3);
    expect(page1.headers.link).toContain('rel="next"');
    const all = await octokit.paginate(octokit.rest.pulls.listCommits, { ...repo, pull_number: 7, per_page: 3 });
    expect(all.map((c) => c.sha)).toEqual(commits.map((c) => c.sha));
    expect(gh.requests.filter((r) => r.path.endsWith('/commits')).map((r) => r.query.page)).toContain('2');

    const missing = await octokit.rest.pulls.get({ ...repo, pull_number: 99 }).catch((e) => e);
    expect(missing.status).toBe(404);
    expect(missing.response.data.documentation_url).toMatch(/#get-a-pull-request$/);

    // Merged: state and head freeze; later pushes to the branch no longer move it.
    await gh.closePullRequest(7, { merged: true });
    await commitTo(origin, 'feature/x', ['after merge']);
    pr = (await octokit.rest.pulls.get({ ...repo, pull_number: 7 })).data;
    expect(pr).toMatchObject({ state: 'closed', merged: true, head: { sha: fourth } });
    expect(pr.closed_at).toBe(pr.merged_at);
    expect(pr.merged_at).not.toBeNull();
  });

  test('a fork PR carries the fork as head and has no commits in the base repo', async () => {
    const headSha = 'f'.repeat(40);
    await gh.addPullRequest({ ...repo, number: 8, headRef: 'patch-1', fork: { fullName: 'contrib/yt', headSha } });
    const { data: pr } = await octokit.rest.pulls.get({ ...repo, pull_number: 8 });
    expect(pr.head).toMatchObject({
      label: 'contrib:patch-1',
      ref: 'patch-1',
      sha: headSha,
      user: { login: 'contrib' },
      repo: { full_name: 'contrib/yt', fork: true },
    });
    expect(pr.base.repo).toMatchObject({ full_name: 'acme/yt', fork: false });
    expect(pr.commits).toBe(0);
    expect((await octokit.rest.pulls.listCommits({ ...repo, pull_number: 8 })).data).toEqual([]);
    // As on GitHub, a run from a fork is not linked to its PR.
    const run = gh.addRun({ ...repo, headSha, event: 'pull_request' });
    expect(run).toMatchObject({
      pull_requests: [],
      head_branch: 'patch-1',
      head_repository: { full_name: 'contrib/yt' },
    });
  });

  test('pull_request runs list their PR, also after a push the stand-in has not read yet', async () => {
    const sha = await commitTo(origin, 'feature/runs', ['feat: runs']);
    await gh.addPullRequest({ ...repo, number: 9, headRef: 'feature/runs' });
    const auto = gh.addRun({ ...repo, headSha: sha, event: 'pull_request' });
    const given = gh.addRun({ ...repo, headSha: sha, event: 'pull_request', pullRequests: [9] });
    gh.addRun({ ...repo, headSha: sha }); // a push run of the same commit
    const { data } = await octokit.rest.actions.listWorkflowRuns({
      ...repo,
      workflow_id: 'ci.yml',
      event: 'pull_request',
      head_sha: sha,
    });
    expect(data.workflow_runs.map((r) => r.id)).toEqual([given.id, auto.id]);
    for (const run of data.workflow_runs) {
      expect(run.head_branch).toBe('feature/runs');
      expect(run.pull_requests).toEqual([
        {
          url: `${gh.url}/repos/acme/yt/pulls/9`,
          id: expect.any(Number),
          number: 9,
          head: { ref: 'feature/runs', sha, repo: { id: 1296269, url: `${gh.url}/repos/acme/yt`, name: 'yt' } },
          base: {
            ref: 'main',
            sha: await origin.head(),
            repo: { id: 1296269, url: `${gh.url}/repos/acme/yt`, name: 'yt' },
          },
        },
      ]);
    }

    const next = await commitTo(origin, 'feature/runs', ['feat: more']);
    const late = gh.addRun({ ...repo, headSha: next, event: 'pull_request' });
    expect(late.pull_requests).toEqual([]); // the PR's new head is only read on the next request
    const { data: run } = await octokit.rest.actions.getWorkflowRun({ ...repo, run_id: late.id });
    expect(run).toMatchObject({ head_branch: 'feature/runs', pull_requests: [{ number: 9, head: { sha: next } }] });
  });
});

describe('Argo CD stand-in', () => {
  let origin: Origin;
  let argo: ArgoCdStandIn;
  const missing = new Set<string>();
  const seen: KustomizeImage[] = [];
  const get = (path = '/api/v1/applications/yt-prod', token = 'argo-token') =>
    fetch(`${argo.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const app = async (q = '') => (await (await get(`/api/v1/applications/yt-prod${q}`)).json()) as any;

  beforeAll(async () => {
    origin = await createOrigin({ registryHost: 'reg.example.io' });
    argo = await startArgoCdStandIn({
      token: 'argo-token',
      application: 'yt-prod',
      originBareDir: origin.bareDir,
      overlayPath: 'k8s/overlays/prod/kustomization.yaml',
      syncDelayMs: 300,
      imageExists: async (i) => {
        seen.push(i);
        return !missing.has(i.newTag);
      },
    });
  });
  afterAll(async () => {
    await argo.stop();
    await origin.cleanup();
  });

  test('starts Synced and Healthy at origin main', async () => {
    const a = await app();
    expect(a.metadata).toMatchObject({ name: 'yt-prod', namespace: 'argocd' });
    expect(a.spec.source).toMatchObject({ path: 'k8s/overlays/prod', targetRevision: 'main' });
    expect(a.status.sync).toMatchObject({ status: 'Synced', revision: await origin.head() });
    expect(a.status.health.status).toBe('Healthy');
    expect(a.status.operationState.phase).toBe('Succeeded');
    expect(a.status.summary.images).toContain('reg.example.io/yt-summarizer-api:sha-e43f28a');
  });

  const setTag = async (tag: string) => {
    const cur = await origin.readAt('main', 'k8s/overlays/prod/kustomization.yaml');
    return origin.commit(
      { 'k8s/overlays/prod/kustomization.yaml': cur.replace(/sha-[0-9a-f]{7}/g, tag) },
      `deploy: ${tag} [skip ci]`,
    );
  };

  test('follows a new commit after the sync delay, and is Degraded when an image is missing', async () => {
    const before = await app();
    const sha = await setTag('sha-1111111');
    await sleep(150);
    let a = await app();
    expect(a.status.sync).toMatchObject({ status: 'OutOfSync', revision: sha });
    expect(a.status.health.status).toBe('Progressing');
    expect(a.status.operationState.phase).toBe('Running');
    expect(a.status.operationState.syncResult.revision).toBe(sha);
    expect(a.status.summary).toEqual(before.status.summary); // nothing deployed yet
    await sleep(400);
    a = await app('?refresh=normal');
    expect(a.status.sync).toMatchObject({ status: 'Synced', revision: sha });
    expect(a.status.health.status).toBe('Healthy');
    expect(a.status.operationState).toMatchObject({ phase: 'Succeeded', syncResult: { revision: sha } });
    expect(Date.parse(a.status.reconciledAt)).toBeGreaterThanOrEqual(Date.parse(a.status.operationState.finishedAt));
    expect(a.status.summary.images).toContain('reg.example.io/yt-summarizer-workers:sha-1111111');

    missing.add('sha-2222222');
    const bad = await setTag('sha-2222222');
    await sleep(600);
    a = await app();
    expect(a.status.sync).toMatchObject({ status: 'Synced', revision: bad });
    expect(a.status.health.status).toBe('Degraded');
    expect(a.status.health.message).toContain('reg.example.io/yt-summarizer-api:sha-2222222');
    expect(a.status.resources[0].health.status).toBe('Degraded');
    const tree = (await (await get('/api/v1/applications/yt-prod/resource-tree')).json()) as any;
    expect(tree.nodes.find((n: any) => n.kind === 'Pod').health.message).toMatch(
      /^Back-off pulling image "reg\.example\.io\/yt-summarizer-api:sha-2222222"$/,
    );
    expect(seen).toContainEqual({
      name: 'yt-summarizer-api',
      newName: 'reg.example.io/yt-summarizer-api',
      newTag: 'sha-2222222',
    });

    argo.forceHealth('Healthy');
    expect((await app()).status.health).toEqual({ status: 'Healthy' });
    argo.clearForce();
    expect((await app()).status.health.status).toBe('Degraded');
  });

  test('auth and unknown-app errors use grpc-gateway bodies', async () => {
    const bad = await get(undefined, 'wrong');
    expect(bad.status).toBe(401);
    expect(await bad.json()).toMatchObject({ code: 16, error: expect.stringContaining('invalid session') });
    expect((await fetch(`${argo.url}/api/v1/applications/yt-prod`)).status).toBe(401);
    const unknown = await get('/api/v1/applications/nope');
    expect(unknown.status).toBe(403);
    expect(await unknown.json()).toEqual({ error: 'permission denied', code: 7, message: 'permission denied' });
    const notFound = await get('/api/v1/applications/nope?project=default');
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toMatchObject({ code: 5, error: 'applications.argoproj.io "nope" not found' });
    expect(argo.requests.some((r) => r.query.refresh === 'normal')).toBe(true);
  });
  test('a second application tracks its branch, syncs after a push to it, and survives the branch being deleted', async () => {
    const name = 'yt-summarizer-pr-7';
    const overlay = 'k8s/overlays/preview/kustomization.yaml';
    const previewBase = await origin.readAt('main', overlay);
    const preview = (tag: string) => ({ [overlay]: previewBase.replace(/newTag: \S+/g, `newTag: ${tag}`) });
    const mainBefore = await app();
    const first = await commitTo(origin, 'feature/x', ['preview: sha-3333333'], preview('sha-3333333'));
    await argo.addApplication({ name, targetRevision: 'feature/x', overlayPath: 'k8s/overlays/preview' });
    const pr = async () => (await (await get(`/api/v1/applications/${name}`)).json()) as any;
    let a = await pr();
    expect(a.metadata.name).toBe(name);
    expect(a.spec.source).toMatchObject({ path: 'k8s/overlays/preview', targetRevision: 'feature/x' });
    expect(a.spec.destination.namespace).toBe('yt-summarizer-preview');
    expect(a.status.sync).toMatchObject({ status: 'Synced', revision: first });
    expect(a.status.health.status).toBe('Healthy');
    expect(a.status.summary.images).toEqual([
      'reg.example.io/yt-summarizer-api:sha-3333333',
      'reg.example.io/yt-summarizer-workers:sha-3333333',
    ]);

    missing.add('sha-4444444');
    const second = await commitTo(origin, 'feature/x', ['preview: sha-4444444'], preview('sha-4444444'));
    // Read as soon as the stand-in has seen the push (it syncs 300 ms later): a fixed sleep missed that window under load.
    for (let i = 0; i < 200 && a.status.sync.revision !== second; i++) {
      await sleep(10);
      a = await pr();
    }
    expect(a.status.sync).toMatchObject({ status: 'OutOfSync', revision: second });
    expect(a.status.operationState.phase).toBe('Running');
    for (let i = 0; i < 100 && a.status.sync.status !== 'Synced'; i++) {
      await sleep(50);
      a = await pr();
    }
    expect(a.status.sync).toMatchObject({ status: 'Synced', revision: second });
    expect(a.status.health.status).toBe('Degraded');
    const tree = (await (await get(`/api/v1/applications/${name}/resource-tree`)).json()) as any;
    expect(tree.nodes.find((n: any) => n.kind === 'Pod').health.message).toContain('yt-summarizer-api:sha-4444444');
    // The main application is untouched by the branch.
    expect((await app()).status.sync).toEqual(mainBefore.status.sync);

    argo.forceHealth('Healthy', undefined, name);
    expect((await pr()).status.health).toEqual({ status: 'Healthy' });
    expect((await app()).status.health).toEqual(mainBefore.status.health);
    argo.clearForce(name);

    // The PR merged and its branch went away: Argo reports a ComparisonError and keeps the last health.
    await git(origin.workDir, ['push', '-q', 'origin', ':refs/heads/feature/x']);
    await sleep(150);
    a = await pr();
    expect(a.status.sync.status).toBe('Unknown');
    expect(a.status.sync.revision).toBeUndefined();
    expect(a.status.conditions).toEqual([
      expect.objectContaining({
        type: 'ComparisonError',
        message: expect.stringContaining("unable to resolve 'feature/x'"),
      }),
    ]);
    expect(a.status.health.status).toBe('Degraded');

    argo.removeApplication(name);
    expect((await get(`/api/v1/applications/${name}`)).status).toBe(403);
    expect((await get(`/api/v1/applications/${name}?project=default`)).status).toBe(404);
  });
});

describe('GitHub stand-in Deployments, statuses and issue comments via @octokit/rest', () => {
  let origin: Origin;
  let gh: GitHubStandIn;
  let octokit: Octokit;
  let main: string;
  const repo = { owner: 'acme', repo: 'yt' };
  beforeAll(async () => {
    origin = await createOrigin();
    main = await origin.head();
  });
  afterAll(() => origin.cleanup());
  beforeEach(async () => {
    gh = await startGitHubStandIn({ token: TOKEN, originBareDir: origin.bareDir, workflows: [repo] });
    octokit = new Octokit({ auth: TOKEN, baseUrl: gh.url, log: quiet });
  });
  afterEach(() => gh.stop());

  const status = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: { status: number; response?: { data?: { message?: string } } }) =>
        `${e.status} ${e.response?.data?.message ?? ''}`,
    );

  test("createDeployment answers 201 with GitHub's deployment object; get and list read it back", async () => {
    const { status: code, data } = await octokit.rest.repos.createDeployment({
      ...repo,
      ref: main,
      task: 'deploy',
      auto_merge: false,
      required_contexts: [],
      payload: { workflowId: 'deploy-1', tag: 'sha-abc1234' },
      environment: 'production',
      description: 'deploy sha-abc1234',
      production_environment: true,
    });
    expect(code).toBe(201);
    if (!('id' in data)) throw new Error('expected a deployment');
    expect(data.id).toBeGreaterThan(2 ** 31);
    expect(data).toEqual({
      url: `${gh.url}/repos/acme/yt/deployments/${data.id}`,
      id: data.id,
      node_id: expect.stringMatching(/^DE_/),
      task: 'deploy',
      original_environment: 'production',
      environment: 'production',
      description: 'deploy sha-abc1234',
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      updated_at: data.created_at,
      statuses_url: `${gh.url}/repos/acme/yt/deployments/${data.id}/statuses`,
      repository_url: `${gh.url}/repos/acme/yt`,
      creator: expect.objectContaining({ login: 'octocat', type: 'User' }),
      sha: main,
      ref: main,
      payload: { workflowId: 'deploy-1', tag: 'sha-abc1234' },
      transient_environment: false,
      production_environment: true,
      performed_via_github_app: null,
    });
    expect((await octokit.rest.repos.getDeployment({ ...repo, deployment_id: data.id })).data).toEqual(data);
    // A branch is resolved to its commit; GitHub's defaults: task deploy, environment production.
    const byBranch = (await octokit.rest.repos.createDeployment({ ...repo, ref: 'main', required_contexts: [] })).data;
    expect(byBranch).toMatchObject({ ref: 'main', sha: main, environment: 'production', payload: {} });
    const preview = (
      await octokit.rest.repos.createDeployment({
        ...repo,
        ref: main,
        environment: 'pr-7',
        transient_environment: true,
      })
    ).data;
    expect(preview).toMatchObject({ environment: 'pr-7', transient_environment: true, production_environment: false });
  });

  test('listDeployments filters by sha, ref, task and environment, newest first, with a Link header', async () => {
    const ids: number[] = [];
    for (const environment of ['production', 'pr-7', 'production', 'production']) {
      const { data } = await octokit.rest.repos.createDeployment({ ...repo, ref: main, environment });
      ids.push((data as { id: number }).id);
    }
    const list = (q: Record<string, string | number>) => octokit.rest.repos.listDeployments({ ...repo, ...q });
    expect((await list({ sha: main, environment: 'production' })).data.map((d) => d.id)).toEqual([
      ids[3],
      ids[2],
      ids[0],
    ]);
    expect((await list({ environment: 'pr-7' })).data.map((d) => d.id)).toEqual([ids[1]]);
    expect((await list({ ref: main, task: 'deploy' })).data).toHaveLength(4);
    expect((await list({ sha: 'f'.repeat(40) })).data).toEqual([]);
    expect((await list({ task: 'migrate' })).data).toEqual([]);
    const page = await list({ per_page: 3 });
    expect(page.data.map((d) => d.id)).toEqual([ids[3], ids[2], ids[1]]);
    expect(page.headers.link).toContain('rel="next"');
    const all = await octokit.paginate(octokit.rest.repos.listDeployments, { ...repo, per_page: 3 });
    expect(all.map((d) => d.id)).toEqual([...ids].reverse());
  });

  test('createDeployment refuses what GitHub refuses: no ref, a ref the origin lacks, a long description', async () => {
    const create = (body: Record<string, unknown>) =>
      status(octokit.request('POST /repos/{owner}/{repo}/deployments', { ...repo, ...body } as never));
    expect(await create({})).toBe('422 Invalid request.\n\n"ref" wasn\'t supplied.');
    expect(await create({ ref: 'no-such-branch' })).toBe('422 No ref found for: no-such-branch');
    expect(await create({ ref: 'e'.repeat(40) })).toBe(`422 No ref found for: ${'e'.repeat(40)}`);
    expect(await create({ ref: main, description: 'd'.repeat(141) })).toBe('422 Validation Failed');
    expect(await create({ ref: main, required_contexts: 'ci' })).toMatch(/^422 Invalid request/);
    expect(await create({ ref: main, description: 'd'.repeat(140), auto_merge: true })).toBe('ok');
    expect(await status(octokit.rest.repos.createDeployment({ owner: 'acme', repo: 'other', ref: main }))).toBe(
      '404 Not Found',
    );
    expect(await status(octokit.rest.repos.getDeployment({ ...repo, deployment_id: 1 }))).toBe('404 Not Found');
    // Every request is logged with its answer.
    expect(gh.requests.filter((r) => r.method === 'POST').map((r) => r.status)).toEqual([
      422, 422, 422, 422, 422, 201, 404,
    ]);
  });

  test('deployment statuses: created 201, listed newest first, log_url is target_url, validated', async () => {
    const { data } = await octokit.rest.repos.createDeployment({ ...repo, ref: main, environment: 'production' });
    const id = (data as { id: number }).id;
    const post = (body: Record<string, unknown>) =>
      octokit.request('POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', {
        ...repo,
        deployment_id: id,
        ...body,
      } as never) as Promise<{ status: number; data: Record<string, unknown> }>;
    const queued = await post({ state: 'queued', description: 'waiting for CI' });
    expect(queued.status).toBe(201);
    expect(queued.data).toEqual({
      url: `${gh.url}/repos/acme/yt/deployments/${id}/statuses/${queued.data.id}`,
      id: queued.data.id,
      node_id: expect.stringMatching(/^DES_/),
      state: 'queued',
      creator: expect.objectContaining({ login: 'octocat' }),
      description: 'waiting for CI',
      environment: 'production',
      target_url: '',
      created_at: expect.any(String),
      updated_at: queued.data.created_at,
      deployment_url: `${gh.url}/repos/acme/yt/deployments/${id}`,
      repository_url: `${gh.url}/repos/acme/yt`,
      environment_url: '',
      log_url: '',
      performed_via_github_app: null,
    });
    await post({ state: 'in_progress', log_url: 'https://temporal.example.com/w/1' });
    await post({ state: 'success', environment_url: 'https://yt.example.com' });
    const listed = (await octokit.rest.repos.listDeploymentStatuses({ ...repo, deployment_id: id })).data;
    expect(listed.map((s) => [s.state, s.target_url, s.log_url, s.environment_url])).toEqual([
      ['success', '', '', 'https://yt.example.com'],
      ['in_progress', 'https://temporal.example.com/w/1', 'https://temporal.example.com/w/1', ''],
      ['queued', '', '', ''],
    ]);
    expect(await status(post({ state: 'done' }))).toMatch(/^422 Invalid request.*"done" is not one of/s);
    expect(await status(post({}))).toBe('422 Invalid request.\n\n"state" wasn\'t supplied.');
    expect(await status(post({ state: 'failure', description: 'x'.repeat(141) }))).toBe('422 Validation Failed');
    expect(
      await status(octokit.rest.repos.createDeploymentStatus({ ...repo, deployment_id: id + 1000, state: 'success' })),
    ).toBe('404 Not Found');
    expect(gh.deployments()[0]!.statuses.map((s) => s.state)).toEqual(['queued', 'in_progress', 'success']);
  });

  test('auto_inactive: a success retires prior successful deployments of the environment, not production or transient ones', async () => {
    const deploy = async (environment: string, flags: Record<string, boolean> = {}) => {
      const { data } = await octokit.rest.repos.createDeployment({ ...repo, ref: main, environment, ...flags });
      return (data as { id: number }).id;
    };
    const succeed = (id: number, auto_inactive?: boolean) =>
      octokit.rest.repos.createDeploymentStatus({
        ...repo,
        deployment_id: id,
        state: 'success',
        ...(auto_inactive === undefined ? {} : { auto_inactive }),
      });
    const staging1 = await deploy('staging');
    const stagingFailed = await deploy('staging');
    const prod1 = await deploy('production');
    const pr1 = await deploy('pr-7', { transient_environment: true });
    await succeed(staging1);
    await octokit.rest.repos.createDeploymentStatus({ ...repo, deployment_id: stagingFailed, state: 'failure' });
    await succeed(prod1);
    await succeed(pr1);
    // auto_inactive false leaves staging1 alone.
    const staging2 = await deploy('staging');
    await succeed(staging2, false);
    const staging3 = await deploy('staging');
    await succeed(staging3);
    await succeed(await deploy('production'));
    await succeed(await deploy('pr-7', { transient_environment: true }));
    const states = Object.fromEntries(gh.deployments().map((d) => [d.id, d.statuses.map((s) => s.state)]));
    expect(states[staging1]).toEqual(['success', 'inactive']);
    expect(states[staging2]).toEqual(['success', 'inactive']);
    expect(states[stagingFailed]).toEqual(['failure']);
    expect(states[staging3]).toEqual(['success']);
    expect(states[prod1]).toEqual(['success']);
    expect(states[pr1]).toEqual(['success']);
  });

  test('issue comments: created 201, listed oldest first with paging, read and edited in place', async () => {
    await commitTo(origin, 'feature/c', ['feat: c']);
    await gh.addPullRequest({ ...repo, number: 9, headRef: 'feature/c' });
    const first = await octokit.rest.issues.createComment({ ...repo, issue_number: 9, body: 'one' });
    expect(first.status).toBe(201);
    expect(first.data).toMatchObject({
      id: expect.any(Number),
      node_id: expect.stringMatching(/^IC_/),
      url: `${gh.url}/repos/acme/yt/issues/comments/${first.data.id}`,
      html_url: `https://github.com/acme/yt/pull/9#issuecomment-${first.data.id}`,
      issue_url: `${gh.url}/repos/acme/yt/issues/9`,
      body: 'one',
      user: expect.objectContaining({ login: 'octocat' }),
      author_association: 'MEMBER',
      reactions: expect.objectContaining({ total_count: 0 }),
    });
    for (const body of ['two', 'three']) await octokit.rest.issues.createComment({ ...repo, issue_number: 9, body });
    const page = await octokit.rest.issues.listComments({ ...repo, issue_number: 9, per_page: 2 });
    expect(page.data.map((c) => c.body)).toEqual(['one', 'two']);
    expect(page.headers.link).toContain('rel="next"');
    const edited = await octokit.rest.issues.updateComment({ ...repo, comment_id: first.data.id, body: 'one, edited' });
    expect(edited.status).toBe(200);
    expect(edited.data).toMatchObject({ id: first.data.id, body: 'one, edited' });
    expect((await octokit.rest.issues.getComment({ ...repo, comment_id: first.data.id })).data.body).toBe(
      'one, edited',
    );
    const all = await octokit.paginate(octokit.rest.issues.listComments, { ...repo, issue_number: 9, per_page: 2 });
    expect(all.map((c) => c.body)).toEqual(['one, edited', 'two', 'three']);
    expect(gh.comments(9).map((c) => c.body)).toEqual(['one, edited', 'two', 'three']);

    expect(await status(octokit.rest.issues.createComment({ ...repo, issue_number: 404, body: 'x' }))).toBe(
      '404 Not Found',
    );
    expect(await status(octokit.rest.issues.updateComment({ ...repo, comment_id: 1, body: 'x' }))).toBe(
      '404 Not Found',
    );
    expect(
      await status(
        octokit.request('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', {
          ...repo,
          issue_number: 9,
        } as never),
      ),
    ).toBe('422 Invalid request.\n\n"body" wasn\'t supplied.');
    expect(
      await status(octokit.rest.issues.createComment({ ...repo, issue_number: 9, body: 'x'.repeat(65_537) })),
    ).toBe('422 Validation Failed');
  });

  test('a body that is not JSON is 400, as GitHub answers', async () => {
    const res = await fetch(`${gh.url}/repos/acme/yt/deployments`, {
      method: 'POST',
      headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ message: 'Problems parsing JSON' });
    expect(gh.deployments()).toEqual([]);
  });

  test('holdResponse: the request is applied, its answer held until released, and logged', async () => {
    const hold = gh.holdResponse({ method: 'POST', path: /\/deployments$/ });
    let answered = false;
    const creating = octokit.rest.repos.createDeployment({ ...repo, ref: main }).then((r) => {
      answered = true;
      return r;
    });
    await hold.reached;
    // The Deployment exists, but its creator has not learned its id.
    expect(gh.deployments()).toHaveLength(1);
    // Later requests are answered meanwhile; only the one that matched is held.
    expect((await octokit.rest.repos.listDeployments(repo)).data).toHaveLength(1);
    expect((await octokit.rest.repos.createDeployment({ ...repo, ref: main })).status).toBe(201);
    expect(answered).toBe(false);
    hold.release();
    const { status: code, data } = await creating;
    expect(code).toBe(201);
    expect((data as { id: number }).id).toBe(gh.deployments()[0]!.id);
    expect(gh.requests.filter((r) => r.path === '/repos/acme/yt/deployments').map((r) => [r.method, r.status])).toEqual(
      [
        ['POST', 201],
        ['GET', 200],
        ['POST', 201],
      ],
    );
  });

  test('holdResponse: a client that gives up on a held answer leaves the stand-in serving', async () => {
    const hold = gh.holdResponse({ method: 'POST', path: /\/deployments$/ });
    const controller = new AbortController();
    const creating = octokit.rest.repos.createDeployment({
      ...repo,
      ref: main,
      request: { signal: controller.signal },
    });
    await hold.reached;
    controller.abort();
    await expect(creating).rejects.toThrow();
    hold.release();
    expect((await octokit.rest.repos.listDeployments(repo)).data).toHaveLength(1);
  });
});
