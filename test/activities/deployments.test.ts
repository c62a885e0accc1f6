import { Octokit } from '@octokit/rest';
import { ApplicationFailure, type LogLevel } from '@temporalio/common';
import { commentSteps } from '../../src/activities/comments';
import { deploymentSteps, type OpenDeploymentInput } from '../../src/activities/deployments';
import type { GitHubDeps } from '../../src/activities/github';
import { logStepsOutsideActivities } from '../../src/activities/log';
import { previewCommentBody, type PreviewCommentFacts } from '../../src/plan/preview-comment';
import { createOrigin, type Origin } from '../../harness/origin';
import { startGitHubStandIn, type GitHubStandIn } from '../../harness/standins/github';

/**
 * The reporting steps (GitHub Deployments and the preview comment) with the real @octokit/rest
 * client against the GitHub stand-in, which keeps what GitHub would: every Deployment, its
 * statuses, the pull request's comments, and each request made (the API budget).
 */
const TOKEN = 'ghs_test_github_token';
const OWNER = 'acme';
const REPO = 'yt';
// Octokit's request-log plugin console.errors every non-2xx; these tests provoke some on purpose.
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

let origin: Origin;
let gh: GitHubStandIn;
let deps: GitHubDeps;
let commit: string;
let attempt = 1;
const lines: Array<{ level: LogLevel; message: string; meta?: Record<string, unknown> }> = [];

beforeAll(async () => {
  origin = await createOrigin();
  commit = await origin.head();
  logStepsOutsideActivities({
    log: (level, message, meta) => lines.push({ level, message, meta }),
    trace() {},
    debug() {},
    info() {},
    warn() {},
    error() {},
  });
});
afterAll(async () => {
  logStepsOutsideActivities(undefined);
  await origin.cleanup();
});
beforeEach(async () => {
  gh = await startGitHubStandIn({
    token: TOKEN,
    originBareDir: origin.bareDir,
    workflows: [{ owner: OWNER, repo: REPO }],
  });
  deps = {
    octokit: new Octokit({ auth: TOKEN, baseUrl: gh.url, log: quiet }),
    owner: OWNER,
    repo: REPO,
    mainBranch: 'main',
    apiHost: new URL(gh.url).host,
  };
  attempt = 1;
  lines.length = 0;
});
afterEach(async () => {
  // No token in anything a step logged.
  expect(JSON.stringify(lines)).not.toContain(TOKEN);
  await gh.stop();
});

const steps = () => ({ ...deploymentSteps({ ...deps, attempt: () => attempt }), ...commentSteps(deps) });
/** The requests made since `from`, as `METHOD path`. */
const calls = (from = 0) => gh.requests.slice(from).map((r) => `${r.method} ${r.path}`);
const DEPLOYMENTS = `/repos/${OWNER}/${REPO}/deployments`;

const LOG_URL = 'https://temporal.example.com/namespaces/default/workflows/deploy-1/run-1/history';
const open = (patch: Partial<OpenDeploymentInput> = {}): OpenDeploymentInput => ({
  commit,
  environment: 'production',
  workflowId: 'deploy-1',
  tag: 'sha-abc1234',
  kind: 'deploy',
  description: 'deploy sha-abc1234 to production',
  transient: false,
  production: true,
  state: 'queued',
  logUrl: LOG_URL,
  ...patch,
});

async function failure(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect((err as Error).message).not.toContain(TOKEN);
  return err as ApplicationFailure;
}

describe('openDeployment', () => {
  test('the first attempt creates the Deployment and posts its first status: two calls', async () => {
    const opened = await steps().openDeployment(open());
    expect(opened).toEqual({ deploymentId: expect.any(Number), created: true });
    expect(calls()).toEqual([`POST ${DEPLOYMENTS}`, `POST ${DEPLOYMENTS}/${opened.deploymentId}/statuses`]);
    const [d] = gh.deployments();
    expect(d).toMatchObject({
      id: opened.deploymentId,
      ref: commit,
      sha: commit,
      task: 'deploy',
      environment: 'production',
      description: 'deploy sha-abc1234 to production',
      payload: { workflowId: 'deploy-1', tag: 'sha-abc1234', kind: 'deploy' },
      transient_environment: false,
      production_environment: true,
    });
    expect(d!.statuses.map((s) => [s.state, s.description, s.log_url])).toEqual([
      ['queued', 'deploy sha-abc1234 to production', LOG_URL],
    ]);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'INFO', message: expect.stringContaining(`deployment ${d!.id}`) }),
    );
  });

  test('a preview: transient, not production, its environment pr-<n>; a long description is cut to 140', async () => {
    await steps().openDeployment(
      open({ environment: 'pr-7', transient: true, production: false, description: `deploy ${'x'.repeat(200)}` }),
    );
    const [d] = gh.deployments();
    expect(d).toMatchObject({ environment: 'pr-7', transient_environment: true, production_environment: false });
    expect(d!.description).toHaveLength(140);
  });

  test('a retry after the worker died holding an unread Deployment finds it: still exactly one', async () => {
    // Attempt 1 creates the Deployment, then its worker dies before the answer arrives.
    const hold = gh.holdResponse({ method: 'POST', path: /\/deployments$/ });
    const died = new AbortController();
    const dying = deploymentSteps({
      ...deps,
      octokit: new Octokit({ auth: TOKEN, baseUrl: gh.url, log: quiet, request: { signal: died.signal } }),
    }).openDeployment(open());
    await hold.reached;
    died.abort();
    await expect(dying).rejects.toThrow();
    hold.release();
    expect(gh.deployments()).toHaveLength(1);

    attempt = 2;
    const from = gh.requests.length;
    const opened = await steps().openDeployment(open());
    const [d] = gh.deployments();
    expect(gh.deployments()).toHaveLength(1);
    expect(opened).toEqual({ deploymentId: d!.id, created: false });
    expect(d!.statuses.map((s) => s.state)).toEqual(['queued']);
    expect(calls(from)).toEqual([
      `GET ${DEPLOYMENTS}`,
      `GET ${DEPLOYMENTS}/${d!.id}/statuses`,
      `POST ${DEPLOYMENTS}/${d!.id}/statuses`,
    ]);
    expect(gh.requests[from]!.query).toMatchObject({ sha: commit, environment: 'production' });

    // Died again after the status: the next retry posts nothing more.
    attempt = 3;
    expect(await steps().openDeployment(open())).toEqual({ deploymentId: d!.id, created: false });
    expect(gh.deployments()).toHaveLength(1);
    expect(gh.deployments()[0]!.statuses.map((s) => s.state)).toEqual(['queued']);
  });

  test("a retry finds only its own workflow's Deployment: another deploy of the same commit is not it", async () => {
    const other = await steps().openDeployment(open({ workflowId: 'rollback-9', kind: 'rollback' }));
    attempt = 2; // attempt 1 failed before it created anything
    const mine = await steps().openDeployment(open());
    expect(mine.created).toBe(true);
    expect(mine.deploymentId).not.toBe(other.deploymentId);
    expect(gh.deployments().map((d) => d.payload)).toEqual([
      { workflowId: 'rollback-9', tag: 'sha-abc1234', kind: 'rollback' },
      { workflowId: 'deploy-1', tag: 'sha-abc1234', kind: 'deploy' },
    ]);
  });

  test('bad input is refused for good before any call', async () => {
    const err = await failure(steps().openDeployment(open({ commit: 'main' })));
    expect(err).toMatchObject({ type: 'BadInput', nonRetryable: true });
    expect(err.message).toContain('commit: expected a full 40-character commit id');
    await failure(steps().openDeployment(open({ logUrl: 'not a url' })));
    expect(gh.requests).toEqual([]);
  });

  test('a commit GitHub does not have: permanent, with its words', async () => {
    const err = await failure(steps().openDeployment(open({ commit: 'e'.repeat(40) })));
    expect(err).toMatchObject({ type: 'BadRequest', nonRetryable: true });
    expect(err.message).toContain(`No ref found for: ${'e'.repeat(40)}`);
  });

  test('a token without deployments: write is told so', async () => {
    gh.failNext(
      1,
      403,
      {},
      { message: 'Resource not accessible by integration', documentation_url: 'https://docs.github.com/rest' },
    );
    const err = await failure(steps().openDeployment(open()));
    expect(err).toMatchObject({ type: 'Forbidden', nonRetryable: true });
    expect(err.message).toContain('Resource not accessible by integration');
    expect(err.message).toContain('deployments: write');
    expect(err.message).toContain('environment.githubDeployments');
  });

  test("a server error is retried with the step's backoff", async () => {
    gh.failNext(1, 502);
    const err = await steps()
      .openDeployment(open())
      .catch((e: unknown) => e);
    expect((err as Error).name).toBe('Unavailable');
    expect(gh.deployments()).toEqual([]);
  });
});

describe('setDeploymentStatus', () => {
  test('posts one status, with its URLs, and never auto-inactivates other Deployments', async () => {
    // A non-production environment, where GitHub's auto_inactive would act.
    const staging = { environment: 'staging', production: false };
    const first = await steps().openDeployment(open({ ...staging, workflowId: 'deploy-0' }));
    await steps().setDeploymentStatus({ deploymentId: first.deploymentId, state: 'success', description: 'ok' });
    const second = await steps().openDeployment(open(staging));
    const from = gh.requests.length;
    await steps().setDeploymentStatus({
      deploymentId: second.deploymentId,
      state: 'success',
      description: 'sha-abc1234 is synced and healthy',
      logUrl: LOG_URL,
      environmentUrl: 'https://staging.example.com',
    });
    expect(calls(from)).toEqual([`POST ${DEPLOYMENTS}/${second.deploymentId}/statuses`]);
    const [d0, d1] = gh.deployments();
    expect(d0!.statuses.map((s) => s.state)).toEqual(['queued', 'success']);
    expect(d1!.statuses.at(-1)).toMatchObject({
      state: 'success',
      description: 'sha-abc1234 is synced and healthy',
      log_url: LOG_URL,
      environment_url: 'https://staging.example.com',
    });
  });

  test('a retry reads the latest status first and does not post the same state twice', async () => {
    const { deploymentId } = await steps().openDeployment(open());
    await steps().setDeploymentStatus({ deploymentId, state: 'in_progress', description: 'committing' });
    attempt = 2; // the first attempt's answer was lost
    let from = gh.requests.length;
    await steps().setDeploymentStatus({ deploymentId, state: 'in_progress', description: 'committing' });
    expect(calls(from)).toEqual([`GET ${DEPLOYMENTS}/${deploymentId}/statuses`]);
    from = gh.requests.length;
    await steps().setDeploymentStatus({ deploymentId, state: 'failure', description: 'CI failed' });
    expect(calls(from)).toEqual([
      `GET ${DEPLOYMENTS}/${deploymentId}/statuses`,
      `POST ${DEPLOYMENTS}/${deploymentId}/statuses`,
    ]);
    expect(gh.deployments()[0]!.statuses.map((s) => s.state)).toEqual(['queued', 'in_progress', 'failure']);
  });

  test('an unknown Deployment: permanent, named', async () => {
    const err = await failure(steps().setDeploymentStatus({ deploymentId: 42, state: 'success', description: 'x' }));
    expect(err).toMatchObject({ type: 'NotFound', nonRetryable: true });
    expect(err.message).toContain('a status of deployment 42 not found in acme/yt');
  });
});

describe('retireDeployment', () => {
  test("sets the workflow's Deployment inactive once; a second call posts nothing", async () => {
    const { deploymentId } = await steps().openDeployment(open());
    await steps().setDeploymentStatus({ deploymentId, state: 'success', description: 'ok' });
    const retire = {
      commit,
      environment: 'production',
      workflowId: 'deploy-1',
      description: 'replaced by sha-def5678',
    };
    expect(await steps().retireDeployment({ ...retire, logUrl: LOG_URL })).toEqual({ deploymentId });
    const from = gh.requests.length;
    expect(await steps().retireDeployment(retire)).toEqual({ deploymentId });
    expect(calls(from)).toEqual([`GET ${DEPLOYMENTS}`, `GET ${DEPLOYMENTS}/${deploymentId}/statuses`]);
    expect(gh.deployments()[0]!.statuses.map((s) => [s.state, s.description])).toEqual([
      ['queued', 'deploy sha-abc1234 to production'],
      ['success', 'ok'],
      ['inactive', 'replaced by sha-def5678'],
    ]);
  });

  test('none found (Deployments were off for it, or another environment): nothing done', async () => {
    await steps().openDeployment(open({ environment: 'pr-7', transient: true, production: false }));
    const from = gh.requests.length;
    const retire = { commit, environment: 'production', workflowId: 'deploy-1', description: 'gone' };
    expect(await steps().retireDeployment(retire)).toEqual({});
    expect(calls(from)).toEqual([`GET ${DEPLOYMENTS}`]);
    expect(gh.deployments()[0]!.statuses.map((s) => s.state)).toEqual(['queued']);
  });
});

describe('upsertPreviewComment', () => {
  const PR = 12;
  const facts = (patch: Partial<PreviewCommentFacts> = {}): PreviewCommentFacts => ({
    pr: PR,
    order: '2026-01-02T03:00:00.000Z',
    state: 'waiting-for-ci',
    commit,
    tag: 'pr-12-abc1234',
    rule: 'ci',
    at: '2026-01-02T03:00:01.000Z',
    repositoryUrl: 'https://github.com/acme/yt',
    ...patch,
  });
  const write = (patch: Partial<PreviewCommentFacts> = {}) => {
    const f = facts(patch);
    return steps().upsertPreviewComment({ pr: PR, order: f.order, body: previewCommentBody(f) });
  };
  const COMMENTS = `/repos/${OWNER}/${REPO}/issues/${PR}/comments`;

  beforeEach(async () => {
    await origin.commitOn('preview/comment', { 'services/api/pr.py': 'print(12)\n' }, 'pr: code');
    await gh.addPullRequest({ owner: OWNER, repo: REPO, number: PR, headRef: 'preview/comment' });
    // A person's comment and a reply quoting the marker are not the preview comment.
    await deps.octokit.rest.issues.createComment({ owner: OWNER, repo: REPO, issue_number: PR, body: 'LGTM' });
    await deps.octokit.rest.issues.createComment({
      owner: OWNER,
      repo: REPO,
      issue_number: PR,
      body: '> <!-- gitops-deployer:preview order=2099-01-01T00:00:00Z -->\n> quoted',
    });
  });

  test('created once, then edited in place on every change; the same body is not written again', async () => {
    let from = gh.requests.length;
    const created = await write();
    expect(created).toEqual({ commentId: expect.any(Number), outcome: 'created' });
    expect(calls(from)).toEqual([`GET ${COMMENTS}`, `POST ${COMMENTS}`]);

    from = gh.requests.length;
    expect(await write()).toEqual({ commentId: created.commentId, outcome: 'unchanged' });
    expect(calls(from)).toEqual([`GET ${COMMENTS}`]);

    from = gh.requests.length;
    const ready = facts({ state: 'ready', url: 'https://pr-12.preview.example.com', at: '2026-01-02T03:05:00.000Z' });
    expect(await write(ready)).toEqual({ commentId: created.commentId, outcome: 'edited' });
    expect(calls(from)).toEqual([
      `GET ${COMMENTS}`,
      `PATCH /repos/${OWNER}/${REPO}/issues/comments/${created.commentId}`,
    ]);

    // The next push's deploy (a newer order) takes over the same comment.
    expect(await write({ order: '2026-01-02T04:00:00.000Z', state: 'deploying' })).toMatchObject({ outcome: 'edited' });
    const comments = gh.comments(PR);
    expect(comments.map((c) => c.body.split('\n').find((l) => !l.startsWith('<!--')))).toEqual([
      'LGTM',
      '> <!-- gitops-deployer:preview order=2099-01-01T00:00:00Z -->',
      '### 🚧 Preview: deploying',
    ]);
    expect(comments[2]!.id).toBe(created.commentId);
    expect(lines.filter((l) => l.level === 'INFO').map((l) => l.meta?.commentId)).toEqual([
      created.commentId,
      created.commentId,
      created.commentId,
    ]);
  });

  test("a superseded push's late word is stale: the newer write stands", async () => {
    await write({ order: '2026-01-02T04:00:00.000Z', state: 'ready' });
    const before = gh.comments(PR).at(-1)!.body;
    const from = gh.requests.length;
    expect(await write({ order: '2026-01-02T03:00:00.000Z', state: 'failed', message: 'superseded' })).toMatchObject({
      outcome: 'stale',
    });
    expect(calls(from)).toEqual([`GET ${COMMENTS}`]);
    expect(gh.comments(PR).at(-1)!.body).toBe(before);
  });

  test('the comment is found on a later page of a busy pull request', async () => {
    const { commentId } = await write();
    for (let i = 0; i < 100; i++)
      await deps.octokit.rest.issues.createComment({ owner: OWNER, repo: REPO, issue_number: PR, body: `review ${i}` });
    expect(await write({ state: 'syncing' })).toEqual({ commentId, outcome: 'edited' });
    expect(gh.comments(PR).filter((c) => c.body.startsWith('<!-- gitops-deployer:preview'))).toHaveLength(1);
  });

  test('a body without the marker is refused: the next write could not find it', async () => {
    const err = await failure(steps().upsertPreviewComment({ pr: PR, order: 'x', body: 'hello' }));
    expect(err).toMatchObject({ type: 'BadInput', nonRetryable: true });
  });

  test('a token without pull requests: write is told so; an unknown pull request is named', async () => {
    gh.failNext(
      1,
      403,
      {},
      { message: 'Resource not accessible by integration', documentation_url: 'https://docs.github.com/rest' },
    );
    const err = await failure(write());
    expect(err).toMatchObject({ type: 'Forbidden', nonRetryable: true });
    expect(err.message).toContain('pull requests: write');
    expect(err.message).toContain('preview.comment');
    const missing = await failure(
      steps().upsertPreviewComment({ pr: 404, order: 'x', body: previewCommentBody(facts({ pr: 404 })) }),
    );
    expect(missing).toMatchObject({ type: 'NotFound', nonRetryable: true });
    expect(missing.message).toContain('pull request #404 not found in acme/yt');
  });
});
