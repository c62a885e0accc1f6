import {
  pauseEnvironment,
  productionTarget,
  resumeEnvironment,
  rollbackEnvironment,
} from '../../src/client/environment';
import type { DeployStatus } from '../../src/contract/deploy';
import { deployWorkflowId, environmentWorkflowId, reportWorkflowId } from '../../src/contract/ids';
import type { ReportResult } from '../../src/contract/report';
import { startRelay, type Relay } from '../../src/relay/server';
import { prTag, shaTag } from '../../src/plan/tags';
import {
  deliver,
  pullRequestPayload,
  pushPayload,
  SECRET,
  workflowRunPayload,
} from '../../harness/standins/github-webhooks';
import { startSinkStandIn, type SinkStandIn } from '../../harness/standins/sink';
import { INITIAL_TAG, OWNER, REPO, startStack, type Stack, type WorkerProcess } from '../../harness/stack';
import { recordHistories } from '../support/histories';
import { eventually } from '../support/wait';

/**
 * Issue 12 end to end: GitHub Deployments, the preview comment and notifications, through the
 * relay, a worker process, the dev server, git over HTTPS, the registry, and the GitHub stand-in's
 * deployments, statuses and issue comments endpoints; two webhook receivers as the sinks.
 */
const REPOSITORY = `${OWNER}/${REPO}`;
const UI = 'https://temporal.example.test';
const APP_URL = 'https://yt.example.test';
/** The sinks' URLs carry their secret in the path, as Slack's do. */
const SECRET_PATH = '/services/T0001/B0001/xoxsecretpathAbC123';

let stack: Stack;
let worker: WorkerProcess;
let relay: Relay;
let chat: SinkStandIn;
let events: SinkStandIn;
let pager: SinkStandIn;
let workerEnv: Record<string, string>;

beforeAll(async () => {
  [chat, events, pager] = await Promise.all([startSinkStandIn(), startSinkStandIn(), startSinkStandIn()]);
  workerEnv = {
    NOTIFY_CHAT_URL: `${chat.url}${SECRET_PATH}`,
    NOTIFY_EVENTS_URL: `${events.url}${SECRET_PATH}`,
    NOTIFY_PAGER_URL: `${pager.url}${SECRET_PATH}`,
  };
  stack = await startStack({
    environment: { githubDeployments: true, url: APP_URL },
    preview: {
      application: 'yt-summarizer-pr-{number}',
      githubDeployments: true,
      comment: true,
      url: 'https://pr-{number}.preview.example.test',
    },
    temporal: { taskQueue: 'gitops-deployer-e2e', uiUrl: UI },
    notifications: [
      { name: 'chat', format: 'slack' },
      {
        name: 'events',
        format: 'cloudevents',
        environments: ['production'],
        on: ['succeeded', 'failed', 'rolled-back', 'held', 'superseded'],
      },
      { name: 'pager', format: 'cloudevents', environments: ['production'], on: ['failed'] },
    ],
  });
  await stack.pushImages(INITIAL_TAG);
  worker = await stack.startWorker({ env: workerEnv });
  relay = await startRelay({ client: stack.client, config: stack.config, secret: SECRET, port: 0, host: '127.0.0.1' });
}, 120_000);
afterAll(async () => {
  await relay?.close();
  await recordHistories(stack, ['deploy', 'environment', 'report']);
  await stack?.stop();
  await Promise.all([chat, events, pager].map((sink) => sink?.stop()));
});

const production = () => productionTarget(stack.config);
const deployId = (commit: string) => deployWorkflowId(REPOSITORY, production(), commit);
const deployOf = (commit: string) => stack.client.workflow.getHandle(deployId(commit));

/** A merge to main, delivered as GitHub's push webhook: the relay asks env-production for its deploy. */
async function merge(files: Record<string, string>, subject: string): Promise<string> {
  const before = await stack.origin.head();
  const commit = await stack.origin.commit(files, subject);
  const push = pushPayload({ repository: REPOSITORY, before, after: commit, commits: [{ message: subject }] });
  expect((await deliver(relay.url, 'push', push)).status).toBe(202);
  return commit;
}

/** CI builds the commit's images (on success) and its run completes; the relay signals the deploy. */
async function ciCompletes(commit: string, conclusion: 'success' | 'failure' = 'success'): Promise<void> {
  if (conclusion === 'success') await stack.pushImages(shaTag(commit));
  const run = stack.github.addRun({ owner: OWNER, repo: REPO, headSha: commit, status: 'completed', conclusion });
  const delivered = await deliver(relay.url, 'workflow_run', workflowRunPayload(REPOSITORY, { ...run, conclusion }));
  expect(delivered.status).toBe(202);
}

async function resultOf(commit: string): Promise<{ status: DeployStatus; runId: string }> {
  const handle = deployOf(commit);
  await eventually(`the deploy of ${commit.slice(0, 7)}`, () => handle.describe());
  const status = (await handle
    .result()
    .catch((err: { message?: string; cause?: { message?: string; details?: unknown[] } }) => {
      // A failed deploy's status is its failure's detail; say why it failed for the test that did not expect it.
      const failed = err.cause?.details?.[0] as DeployStatus | undefined;
      if (failed) failed.error ??= err.cause?.message;
      return failed ?? { phase: `no result: ${err.message}\n${worker.output().slice(-3000)}` };
    })) as DeployStatus;
  return { status, runId: (await handle.describe()).runId };
}

const reporterOf = (workflowId: string, runId: string) =>
  stack.client.workflow.getHandle(reportWorkflowId(workflowId, runId));
const reportOf = async (commit: string): Promise<ReportResult> => {
  const { runId } = await deployOf(commit).describe();
  return (await reporterOf(deployId(commit), runId).result()) as ReportResult;
};

const deploymentsOf = (commit: string, environment = 'production') =>
  stack.github.deployments().filter((d) => d.sha === commit && d.environment === environment);
const states = (deployment: { statuses: Array<{ state: string }> }) => deployment.statuses.map((s) => s.state);

describe('on GitHub and in chat (dev server, worker, relay, git, registry, GitHub and Argo CD stand-ins, sinks)', () => {
  test('a webhook-driven code merge: one Deployment queued → in_progress → success with its links; each sink gets it once, retries included', async () => {
    chat.answer([500, 500]); // the chat sink fails twice, then takes it
    const mark = stack.github.requests.length;
    const commit = await merge({ 'services/api/main.py': 'print("report v1")\n' }, 'feat(api): report v1');
    await eventually('the deploy to wait for CI', async () =>
      (await deployOf(commit).query<DeployStatus>('status')).phase === 'waiting-for-ci' ? true : undefined,
    );
    await ciCompletes(commit);
    const { status, runId } = await resultOf(commit);
    expect(status).toMatchObject({ phase: 'succeeded', tag: shaTag(commit) });
    const report = await reportOf(commit);
    expect(report).toMatchObject({ statuses: ['queued', 'in_progress', 'success'], notes: [] });
    expect(report.delivered.sort()).toEqual(['chat:succeeded', 'events:succeeded']);

    const [deployment, ...more] = deploymentsOf(commit);
    expect(more).toEqual([]);
    expect(deployment).toMatchObject({
      ref: commit,
      environment: 'production',
      production_environment: true,
      transient_environment: false,
      payload: { workflowId: deployId(commit), tag: shaTag(commit), kind: 'deploy' },
    });
    expect(states(deployment!)).toEqual(['queued', 'in_progress', 'success']);
    const logUrl = `${UI}/namespaces/default/workflows/${deployId(commit)}/${runId}/history`;
    for (const s of deployment!.statuses) expect(s.log_url).toBe(logUrl);
    expect(deployment!.statuses.at(-1)).toMatchObject({ environment_url: APP_URL });

    // Three attempts at the chat sink, one key, one accepted.
    const key = `${reportWorkflowId(deployId(commit), runId)}/succeeded`;
    expect(chat.requests.filter((r) => r.key === key).map((r) => r.status)).toEqual([500, 500, 200]);
    expect(chat.accepted()[key]).toHaveLength(1);
    const slack = chat.accepted()[key]![0]!;
    expect(slack.headers['content-type']).toMatch(/^application\/json/);
    expect(slack.body).toMatchObject({ text: expect.stringContaining(shaTag(commit)), blocks: expect.any(Array) });
    const [cloud] = events.accepted()[key]!;
    expect(cloud!.headers['content-type']).toBe('application/cloudevents+json; charset=utf-8');
    expect(cloud!.body).toMatchObject({
      specversion: '1.0',
      id: key,
      type: expect.stringMatching(/succeeded$/),
      subject: commit,
      data: expect.objectContaining({ outcome: 'succeeded', commit }),
    });

    // The API budget of one webhook-driven code deploy with Deployments on (README, "GitHub API budget").
    const calls = stack.github.requests.slice(mark).map((r) => `${r.method} ${r.path.replace(/\d{3,}/g, ':id')}`);
    console.log(
      `GitHub calls of one webhook-driven code deploy with Deployments on: ${calls.length}\n${calls.join('\n')}`,
    );
    expect(calls.length).toBeLessThanOrEqual(8);
  });

  test('a failed CI run: the Deployment ends failure with the reason, and the pager hears of it', async () => {
    const commit = await merge({ 'services/api/main.py': 'print("broken")\n' }, 'feat(api): broken');
    await eventually('the deploy', () => deployOf(commit).describe());
    await ciCompletes(commit, 'failure');
    const { status } = await resultOf(commit);
    expect(status.phase).toBe('failed');
    const report = await reportOf(commit);
    expect(report.statuses).toEqual(['queued', 'failure']);
    expect(report.delivered.sort()).toEqual(['chat:failed', 'events:failed', 'pager:failed']);
    const [deployment] = deploymentsOf(commit);
    expect(deployment!.statuses.at(-1)).toMatchObject({ state: 'failure', description: expect.stringMatching(/CI/) });
  });

  test('a secondary rate limit (403 with retry-after) on a GitHub call of the deploy is waited out; the deploy succeeds', async () => {
    const commit = await merge({ 'services/api/main.py': 'print("throttled")\n' }, 'feat(api): throttled');
    await eventually('the deploy', () => deployOf(commit).describe());
    const mark = stack.github.requests.length;
    stack.github.failNext(
      1,
      403,
      { 'retry-after': '2' },
      {
        message:
          'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.',
      },
    );
    await ciCompletes(commit);
    const { status } = await resultOf(commit);
    expect([status.phase, status.error]).toEqual(['succeeded', undefined]);
    const after = stack.github.requests.slice(mark);
    const limited = after.findIndex((r) => r.status === 403);
    expect(limited).toBeGreaterThanOrEqual(0);
    // The same call again, answered this time.
    const again = after
      .slice(limited + 1)
      .find((r) => r.path === after[limited]!.path && r.method === after[limited]!.method);
    expect(again?.status).toBeLessThan(300);
    // The reporter ends after the deploy (GitHub's writes are spaced a second apart).
    expect((await reportOf(commit)).statuses).toEqual(['queued', 'in_progress', 'success']);
    expect(states(deploymentsOf(commit)[0]!)).toEqual(['queued', 'in_progress', 'success']);
  });

  test('two merges queued behind a pause: the older ends inactive (superseded, naming the newer), held is notified; the newer retires the Deployment before it', async () => {
    const before = stack.github
      .deployments()
      .filter((d) => d.environment === 'production' && states(d).at(-1) === 'success');
    const running = before.at(-1)!;
    await pauseEnvironment(stack.client, stack.config, { reason: 'release freeze', by: 'alice' });
    const older = await merge({ 'services/api/main.py': 'print("older")\n' }, 'feat(api): older');
    await ciCompletes(older);
    const newer = await merge({ 'services/api/main.py': 'print("newer")\n' }, 'feat(api): newer');
    await ciCompletes(newer);
    await eventually('both deploys to be held', async () => {
      const phases = await Promise.all([older, newer].map((c) => deployOf(c).query<DeployStatus>('status')));
      return phases.every((s) => s.phase === 'held') ? true : undefined;
    });
    await resumeEnvironment(stack.client, stack.config, { by: 'alice' });
    expect((await resultOf(newer)).status.phase).toBe('succeeded');
    expect((await resultOf(older)).status.phase).toBe('superseded');

    const olderReport = await reportOf(older);
    expect(olderReport.statuses).toEqual(['queued', 'inactive']);
    expect(olderReport.delivered.sort()).toEqual(['chat:held', 'events:held', 'events:superseded']);
    expect(deploymentsOf(older)[0]!.statuses.at(-1)).toMatchObject({
      state: 'inactive',
      description: expect.stringContaining(newer.slice(0, 7)),
    });
    expect((await reportOf(newer)).statuses).toEqual(['queued', 'in_progress', 'success']);
    // What ran before the newer one is no longer active.
    await eventually('the replaced Deployment to go inactive', async () => {
      const replaced = stack.github.deployments().find((d) => d.id === running.id)!;
      return states(replaced).at(-1) === 'inactive' ? true : undefined;
    });
  });

  test('a rollback: a Deployment for the commit it goes back to, naming who and why; the one it replaced ends inactive', async () => {
    const current = stack.github
      .deployments()
      .filter((d) => d.environment === 'production' && states(d).at(-1) === 'success')
      .at(-1)!;
    const outcome = await rollbackEnvironment(
      stack.client,
      stack.config,
      { to: 'previous', reason: 'errors after the newer deploy', requestedBy: 'alice' },
      { wait: true },
    );
    expect(outcome).toMatchObject({ kind: 'rolled-back' });
    const envId = environmentWorkflowId(REPOSITORY, production());
    const { runId } = await stack.client.workflow.getHandle(envId).describe();
    const report = (await reporterOf(outcome!.workflowId!, runId).result()) as ReportResult;
    expect(report).toMatchObject({ statuses: ['in_progress', 'success'], notes: [] });
    expect(report.delivered.sort()).toEqual(['chat:rolled-back', 'events:rolled-back']);
    const rollback = stack.github.deployments().find((d) => d.id === report.deploymentId)!;
    expect(rollback).toMatchObject({
      environment: 'production',
      payload: { workflowId: outcome!.workflowId, kind: 'rollback', tag: outcome!.tag },
      description: 'rollback to ' + outcome!.tag + ' by alice: errors after the newer deploy',
    });
    expect(rollback.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(rollback.sha).not.toBe(current.sha);
    expect(states(stack.github.deployments().find((d) => d.id === current.id)!).at(-1)).toBe('inactive');
    await resumeEnvironment(stack.client, stack.config, { by: 'alice' });
  });

  test('a worker SIGKILLed after GitHub created the Deployment but before it learned its id: still exactly one Deployment, ending success', async () => {
    const hold = stack.github.holdResponse({ method: 'POST', path: /\/deployments$/ });
    const commit = await merge({ 'services/api/main.py': 'print("killed")\n' }, 'feat(api): killed mid-report');
    await hold.reached;
    await worker.kill();
    hold.release();
    worker = await stack.startWorker({ env: workerEnv });
    await ciCompletes(commit);
    expect((await resultOf(commit)).status.phase).toBe('succeeded');
    const report = await reportOf(commit);
    const found = deploymentsOf(commit);
    expect(found).toHaveLength(1);
    expect(report.deploymentId).toBe(found[0]!.id);
    expect(states(found[0]!)).toEqual(['queued', 'in_progress', 'success']);
  }, 120_000);

  test('a preview: one comment created, edited in place on the next push, marked removed on close; a fork gets none', async () => {
    const pr = 20;
    const branch = 'feature/report-preview';
    const first = await stack.origin.commitOn(branch, { 'services/api/main.py': 'print("pr 1")\n' }, 'pr change 1');
    await stack.github.addPullRequest({ owner: OWNER, repo: REPO, number: pr, headRef: branch });
    await stack.argo.addApplication({
      name: `yt-summarizer-pr-${pr}`,
      targetRevision: branch,
      overlayPath: 'k8s/overlays/preview',
    });
    const previewId = (commit: string) => deployWorkflowId(REPOSITORY, { kind: 'preview', pr }, commit);
    const ciFor = async (commit: string) => {
      await stack.pushImages(prTag(pr, commit));
      const run = stack.github.addRun({
        owner: OWNER,
        repo: REPO,
        headSha: commit,
        event: 'pull_request',
        branch,
        pullRequests: [pr],
        status: 'completed',
        conclusion: 'success',
      });
      await deliver(
        relay.url,
        'workflow_run',
        workflowRunPayload(REPOSITORY, { ...run, conclusion: 'success', event: 'pull_request', head_branch: branch }),
      );
    };
    const open = pullRequestPayload(REPOSITORY, 'opened', { number: pr, headSha: first, headRef: branch });
    expect((await deliver(relay.url, 'pull_request', open)).status).toBe(202);
    await eventually('the first push to wait for CI', () =>
      stack.client.workflow.getHandle(previewId(first)).describe(),
    );
    await ciFor(first);
    expect(((await stack.client.workflow.getHandle(previewId(first)).result()) as DeployStatus).phase).toBe(
      'succeeded',
    );
    const ready = await eventually('the comment to say ready', async () => {
      const comments = stack.github.comments(pr);
      return comments.length === 1 && /ready/i.test(comments[0]!.body) ? comments[0] : undefined;
    });
    expect(ready.body).toContain(prTag(pr, first));
    expect(ready.body).toContain(`https://pr-${pr}.preview.example.test`);

    const second = await stack.origin.commitOn(branch, { 'services/api/main.py': 'print("pr 2")\n' }, 'pr change 2');
    const sync = pullRequestPayload(REPOSITORY, 'synchronize', { number: pr, headSha: second, headRef: branch });
    expect((await deliver(relay.url, 'pull_request', sync)).status).toBe(202);
    await eventually('the second push', () => stack.client.workflow.getHandle(previewId(second)).describe());
    await ciFor(second);
    expect(((await stack.client.workflow.getHandle(previewId(second)).result()) as DeployStatus).phase).toBe(
      'succeeded',
    );
    const edited = await eventually('the comment to name the second push', async () => {
      const comments = stack.github.comments(pr);
      return comments.length === 1 && comments[0]!.body.includes(prTag(pr, second)) && /ready/i.test(comments[0]!.body)
        ? comments[0]
        : undefined;
    });
    expect(edited.id).toBe(ready.id);
    expect(
      stack.github.requests.filter((r) => r.method === 'POST' && r.path.endsWith(`/issues/${pr}/comments`)),
    ).toHaveLength(1);

    await stack.github.closePullRequest(pr);
    const closed = pullRequestPayload(REPOSITORY, 'closed', {
      number: pr,
      headSha: second,
      headRef: branch,
      state: 'closed',
    });
    expect((await deliver(relay.url, 'pull_request', closed)).status).toBe(202);
    await stack.client.workflow.getHandle(environmentWorkflowId(REPOSITORY, { kind: 'preview', pr })).result();
    const removed = await eventually('the comment to say removed', async () => {
      const comments = stack.github.comments(pr);
      return comments.length === 1 && /removed/i.test(comments[0]!.body) ? comments[0] : undefined;
    });
    expect(removed.id).toBe(ready.id);
    const previews = stack.github.deployments().filter((d) => d.environment === `pr-${pr}`);
    expect(previews.map((d) => d.sha).sort()).toEqual([first, second].sort());
    expect(previews.every((d) => d.transient_environment && !d.production_environment)).toBe(true);
    await eventually('every preview Deployment to be inactive', async () =>
      stack.github
        .deployments()
        .filter((d) => d.environment === `pr-${pr}`)
        .every((d) => states(d).at(-1) === 'inactive')
        ? true
        : undefined,
    );

    // A fork's pull request: skipped before anything is reported.
    const forkHead = 'f1'.repeat(20);
    await stack.github.addPullRequest({
      owner: OWNER,
      repo: REPO,
      number: 21,
      headRef: 'patch-1',
      fork: { fullName: 'someone/yt-summarizer', headSha: forkHead },
    });
    await deliver(
      relay.url,
      'pull_request',
      pullRequestPayload(REPOSITORY, 'opened', {
        number: 21,
        headSha: forkHead,
        headRef: 'patch-1',
        fork: 'someone/yt-summarizer',
      }),
    );
    const skipped = (await eventually('the fork preview to end', () =>
      stack.client.workflow
        .getHandle(deployWorkflowId(REPOSITORY, { kind: 'preview', pr: 21 }, forkHead))
        .result()
        .catch(() => undefined),
    )) as DeployStatus;
    expect(skipped).toMatchObject({ phase: 'skipped', reason: 'fork' });
    expect(stack.github.comments(21)).toEqual([]);
    expect(stack.github.deployments().filter((d) => d.environment === 'pr-21')).toEqual([]);
  }, 120_000);

  test('a sink down for good neither delays nor fails a deploy: it closes while its reporter still retries', async () => {
    await pager.down();
    const commit = await merge({ 'services/api/main.py': 'print("pager down")\n' }, 'feat(api): pager down');
    await eventually('the deploy', () => deployOf(commit).describe());
    await ciCompletes(commit, 'failure'); // the pager only wants failures
    const { status, runId } = await resultOf(commit);
    expect(status.phase).toBe('failed');
    const reporter = reporterOf(deployId(commit), runId);
    await eventually('GitHub and chat to be told', async () => {
      const r = await reporter.query<ReportResult>('report');
      return r.statuses.includes('failure') && r.delivered.includes('chat:failed') ? r : undefined;
    });
    // The deploy has ended; its reporter is still trying the pager, on its own retries.
    expect((await deployOf(commit).describe()).status.name).toBe('FAILED');
    expect((await reporter.describe()).status.name).toBe('RUNNING');
  });

  test("the sinks' secret URLs appear in no workflow input, result or history, and in no log line", async () => {
    const secret = SECRET_PATH.split('/').pop()!;
    expect(worker.output()).not.toContain(secret);
    for await (const execution of stack.client.workflow.list()) {
      const history = await stack.client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
      // Payloads are bytes: read them as the text they encode.
      const text = JSON.stringify(history, (_key, value: unknown) =>
        value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value,
      );
      expect(text).not.toContain(secret);
    }
  });
});
