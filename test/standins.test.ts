// The stand-ins are only useful if real clients accept them, so these drive them
// with @octokit/rest and plain fetch exactly as the product does.
import { Octokit } from '@octokit/rest';
import { parse } from 'yaml';
import { createOrigin, git, Origin } from './support/origin';
import { startGitHubStandIn, GitHubStandIn } from './standins/github';
import { startArgoCdStandIn, ArgoCdStandIn, KustomizeImage } from './standins/argocd';

const TOKEN = 'ghp_test_token';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Octokit's request-log plugin console.errors every non-2xx; these tests provoke them on purpose.
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

describe('origin helper', () => {
  let origin: Origin;
  beforeAll(async () => { origin = await createOrigin({ registryHost: 'reg.example.io', initialTag: 'abc1234def' }); });
  afterAll(() => origin.cleanup());

  test('seeds the spec layout with a commented prod overlay', async () => {
    const prod = await origin.readAt('main', 'k8s/overlays/prod/kustomization.yaml');
    expect(prod).toContain('# Production overlay');
    expect(parse(prod).images).toEqual([
      { name: 'yt-summarizer-api', newName: 'reg.example.io/yt-summarizer-api', newTag: 'sha-abc1234' },
      { name: 'yt-summarizer-workers', newName: 'reg.example.io/yt-summarizer-workers', newTag: 'sha-abc1234' },
    ]);
    for (const p of ['services/shared/db/models.py', 'apps/web/Dockerfile', '.github/workflows/ci.yml', 'infra/terraform/main.tf']) {
      await expect(origin.readAt('main', p)).resolves.not.toBe('');
    }
  });

  test('commit pushes to origin, deletes files, and survives a foreign push', async () => {
    const sha = await origin.commit({ 'services/api/main.py': 'print(1)\n', 'docs/api.md': null }, 'feat: api\n\nlonger body');
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
    expect(res.data.workflow_runs[0]).toMatchObject({ id: run.id, status: 'in_progress', conclusion: null, path: '.github/workflows/ci.yml' });

    gh.setRun(run.id, { status: 'completed', conclusion: 'success' });
    res = await octokit.rest.actions.listWorkflowRuns({ ...q, workflow_id: run.workflow_id });
    expect(res.data.workflow_runs[0]).toMatchObject({ status: 'completed', conclusion: 'success', head_branch: 'main', event: 'push' });
    const one = await octokit.rest.actions.getWorkflowRun({ owner: 'acme', repo: 'yt', run_id: run.id });
    expect(one.data.repository.full_name).toBe('acme/yt');
    expect(gh.requests.map((r) => r.query.head_sha)).toContain(sha);
  });

  test('lists newest first and paginates with link headers', async () => {
    const ids = [1, 2, 3].map(() => gh.addRun({ owner: 'acme', repo: 'yt', headSha: sha }).id);
    const all = await octokit.paginate(octokit.rest.actions.listWorkflowRuns, { owner: 'acme', repo: 'yt', workflow_id: 'ci.yml', per_page: 2 });
    expect(all.map((r) => r.id)).toEqual([...ids].reverse());
  });

  test('bad token is a 401 RequestError with GitHub\'s body; unknown workflow is 404', async () => {
    gh.addRun({ owner: 'acme', repo: 'yt', headSha: sha });
    const bad = new Octokit({ auth: 'nope', baseUrl: gh.url, log: quiet });
    const err = await bad.rest.actions.listWorkflowRuns({ owner: 'acme', repo: 'yt', workflow_id: 'ci.yml' }).catch((e) => e);
    expect(err.name).toBe('HttpError'); // @octokit/request-error's RequestError
    expect(err.status).toBe(401);
    expect(err.response.data).toEqual({ message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
    const missing = await octokit.rest.actions.listWorkflowRuns({ owner: 'acme', repo: 'yt', workflow_id: 'deploy.yml' }).catch((e) => e);
    expect(missing.status).toBe(404);
    expect(missing.response.data.message).toBe('Not Found');
  });

  test('failNext injects 429 with retry-after, then recovers', async () => {
    gh.addWorkflow({ owner: 'acme', repo: 'yt' });
    gh.failNext(1, 429, { 'retry-after': '2' });
    const err = await octokit.rest.actions.listWorkflowRuns({ owner: 'acme', repo: 'yt', workflow_id: 'ci.yml' }).catch((e) => e);
    expect(err.status).toBe(429);
    expect(err.response.headers['retry-after']).toBe('2');
    const ok = await octokit.rest.actions.listWorkflowRuns({ owner: 'acme', repo: 'yt', workflow_id: 'ci.yml' });
    expect(ok.data).toEqual({ total_count: 0, workflow_runs: [] });
    expect(gh.requests.map((r) => r.status)).toEqual([429, 200]);
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
      token: 'argo-token', application: 'yt-prod', originBareDir: origin.bareDir,
      overlayPath: 'k8s/overlays/prod/kustomization.yaml', syncDelayMs: 300,
      imageExists: async (i) => { seen.push(i); return !missing.has(i.newTag); },
    });
  });
  afterAll(async () => { await argo.stop(); await origin.cleanup(); });

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
    return origin.commit({ 'k8s/overlays/prod/kustomization.yaml': cur.replace(/sha-[0-9a-f]{7}/g, tag) }, `deploy: ${tag} [skip ci]`);
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
    expect(tree.nodes.find((n: any) => n.kind === 'Pod').health.message).toMatch(/^Back-off pulling image "reg\.example\.io\/yt-summarizer-api:sha-2222222"$/);
    expect(seen).toContainEqual({ name: 'yt-summarizer-api', newName: 'reg.example.io/yt-summarizer-api', newTag: 'sha-2222222' });

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
});
