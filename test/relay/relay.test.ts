import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { Client } from '@temporalio/client';
import { prTag, shaTag } from '../../src/plan/tags';
import { startRelay, type Relay } from '../../src/relay/server';
import { connectClient, temporalTarget } from '../../src/temporal/connection';
import type { DeployStatus } from '../../src/contract/deploy';
import { deployWorkflowId as deployIdFor, environmentWorkflowId } from '../../src/contract/ids';
import type { Target } from '../../src/contract/target';
import { git } from '../../harness/origin';
import { freePort } from '../../harness/ports';
import { OWNER, REPO, startRunningStack, type Stack, type WorkerProcess } from '../../harness/stack';
import { startDevServer } from '../../harness/temporal';
import {
  deliver,
  pullRequestPayload,
  pushPayload,
  randomSha,
  SECRET,
  sign,
  workflowRunPayload,
  type RunSpec,
} from '../../harness/standins/github-webhooks';

const FULL = `${OWNER}/${REPO}`;
let stack: Stack;
let worker: WorkerProcess;
let relay: Relay;
const logs: string[] = [];

beforeAll(async () => {
  // Ten-minute CI polls: within a test, only the ciCompleted signal can move a waiting deploy on.
  ({ stack, worker } = await startRunningStack({ ci: { timeout: '30m', pollInitial: '10m', pollMax: '10m' } }));
  relay = await startRelay({
    client: stack.client,
    config: stack.config,
    secret: SECRET,
    port: 0,
    host: '127.0.0.1',
    log: (line) => logs.push(line),
  });
}, 120_000);
afterAll(async () => {
  await relay?.close();
  await stack?.stop();
});

const PRODUCTION: Target = { kind: 'production', name: 'production' };
const deployWorkflowId = (repository: string, commit: string) => deployIdFor(repository, PRODUCTION, commit);
const ENV_ID = environmentWorkflowId(FULL, PRODUCTION);
const handleOf = (commit: string) => stack.client.workflow.getHandle(deployWorkflowId(FULL, commit));
const expectNoDeploy = (commit: string) =>
  expect(handleOf(commit).describe()).rejects.toMatchObject({ name: 'WorkflowNotFoundError' });
const message = async (sha: string) => (await git(stack.origin.bareDir, ['log', '-1', '--format=%B', sha])).trim();

/** A merge to main in the origin, and the push event GitHub would deliver for it. */
async function merge(files: Record<string, string>, subject: string) {
  const before = await stack.origin.head();
  const commit = await stack.origin.commit(files, subject);
  return {
    before,
    commit,
    push: pushPayload({
      repository: FULL,
      before,
      after: commit,
      commits: [{ message: await message(commit), modified: Object.keys(files) }],
    }),
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
  }
  throw new Error(`timed out waiting for ${what}\n${worker.output().slice(-2000)}`);
}

/** The relay only asks the environment; it starts the deploy a moment later. Resolves to its description. */
const startedDeploy = (commit: string) =>
  until(`the deploy of ${commit.slice(0, 7)} to start`, () => handleOf(commit).describe());

/**
 * How the environment answered each of its starts of `workflowId` as a child, oldest first, once
 * `count` of them are answered: 'started', or 'exists' (running or ran already: nothing new started).
 */
function childStarts(workflowId: string, count: number, environment = ENV_ID): Promise<string[]> {
  return until(`${environment} to answer ${count} starts of ${workflowId}`, async () => {
    const events = (await stack.client.workflow.getHandle(environment).fetchHistory()).events ?? [];
    const initiated = events
      .filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId === workflowId)
      .map((e) => Number(e.eventId));
    const answers = new Map<number, string>();
    for (const e of events) {
      const started = e.childWorkflowExecutionStartedEventAttributes;
      const failed = e.startChildWorkflowExecutionFailedEventAttributes;
      if (started) answers.set(Number(started.initiatedEventId), 'started');
      if (failed) answers.set(Number(failed.initiatedEventId), 'exists');
    }
    const answered = initiated.map((id) => answers.get(id));
    return answered.length === count && answered.every(Boolean) ? (answered as string[]) : undefined;
  });
}

describe('webhook relay on the real stack (dev server, worker process, git origin, registry, stand-ins)', () => {
  test('a signed push to main starts exactly one deploy; redeliveries start none', async () => {
    const { commit, push } = await merge({ 'docs/api.md': '# API\nrelay\n' }, 'docs: api via relay');
    const delivery = 'f0e1d2c3-0000-11ef-8000-relaytest001';

    const first = await deliver(relay.url, 'push', push, { delivery });
    expect(first).toEqual({ status: 202, body: { requested: true, workflowId: deployWorkflowId(FULL, commit) } });
    const description = await startedDeploy(commit);
    const { runId } = description;
    expect(await description.staticDetails()).toContain(`requested by github push ${delivery}`);
    expect(description.raw.workflowExecutionInfo?.parentExecution?.workflowId).toBe(ENV_ID);

    // A redelivery is asked for again, and the environment finds the deploy running: nothing new starts.
    expect(await deliver(relay.url, 'push', push, { delivery })).toEqual(first);
    expect(await childStarts(first.body.workflowId as string, 2)).toEqual(['started', 'exists']);
    expect(await handleOf(commit).result()).toMatchObject({ phase: 'skipped' });
    // Nor once it ended (skipped is not a failure to retry).
    expect(await deliver(relay.url, 'push', push, { delivery })).toEqual(first);
    expect(await childStarts(first.body.workflowId as string, 3)).toEqual(['started', 'exists', 'exists']);
    expect((await handleOf(commit).describe()).runId).toBe(runId);
    const runs = await until('visibility', async () => {
      const found: string[] = [];
      for await (const info of stack.client.workflow.list({ query: `WorkflowId = "${first.body.workflowId}"` }))
        found.push(info.runId);
      return found.length ? found : undefined;
    });
    expect(runs).toEqual([runId]);
  });

  test('a missing or wrong signature gets 401 and starts nothing', async () => {
    const { commit, push } = await merge({ 'services/api/main.py': 'print("unsigned")\n' }, 'feat(api): unsigned');
    const body = JSON.stringify(push);
    const tampered = body.replace(commit, randomSha());
    for (const signature of [
      null,
      '',
      sign(body, 'not-the-secret'),
      sign(tampered),
      'sha256=',
      'sha1=0123456789abcdef0123456789abcdef01234567',
      sign(body).toUpperCase(),
    ]) {
      const reply = await deliver(relay.url, 'push', body, { signature });
      expect([signature, reply.status]).toEqual([signature, 401]);
      expect(reply.body.error).toMatch(/X-Hub-Signature-256/);
    }
    // A signed body with its commit swapped after signing is not accepted either.
    expect((await deliver(relay.url, 'push', tampered, { signature: sign(body) })).status).toBe(401);
    await expectNoDeploy(commit);
  });

  test('ping answers 200; other events, branches, tags and deletions are acknowledged with 202 and start nothing', async () => {
    expect(
      await deliver(relay.url, 'ping', {
        zen: 'Design for failure.',
        hook_id: 512345678,
        hook: { type: 'Repository', events: ['push', 'workflow_run'] },
      }),
    ).toEqual({ status: 200, body: { pong: true } });
    expect(await deliver(relay.url, 'issues', { action: 'opened', issue: { number: 1 } })).toMatchObject({
      status: 202,
      body: { ignored: true, reason: expect.stringContaining('"issues" is not handled') },
    });
    const sha = randomSha();
    const before = await stack.origin.head();
    for (const [spec, reason] of [
      [{ ref: 'refs/heads/feature/relay' }, /not refs\/heads\/main/],
      [{ ref: 'refs/tags/v1.0.0' }, /tag push/],
      [{ repository: 'someone-else/yt-summarizer' }, /not the configured repository/],
      [{ deleted: true }, /was deleted/],
    ] as const) {
      expect(
        await deliver(relay.url, 'push', pushPayload({ repository: FULL, before, after: sha, ...spec })),
      ).toMatchObject({ status: 202, body: { ignored: true, reason: expect.stringMatching(reason) } });
    }
    await expectNoDeploy(sha);
  });

  let overlayCommit: string | undefined;

  test('a workflow_run completion moves a waiting deploy on at once, without the 10-minute polling fallback', async () => {
    const { commit, push } = await merge({ 'services/api/main.py': 'print("relayed")\n' }, 'feat(api): relayed');
    const run = stack.github.addRun({ owner: OWNER, repo: REPO, headSha: commit, status: 'in_progress' });
    expect(await deliver(relay.url, 'push', push)).toMatchObject({ status: 202, body: { requested: true } });
    const probes = () => stack.github.requests.filter((r) => r.query.head_sha === commit).length;
    await until(
      'the deploy to wait for CI',
      async () =>
        (((await handleOf(commit).query('status')) as DeployStatus).phase === 'waiting-for-ci' && probes() > 0) ||
        undefined,
    );

    await stack.pushImages(shaTag(commit)); // CI builds and pushes...
    stack.github.setRun(run.id, { status: 'completed', conclusion: 'success' }); // ...and GitHub delivers the completion.
    const started = Date.now();
    expect(await deliver(relay.url, 'workflow_run', workflowRunPayload(FULL, run as RunSpec))).toEqual({
      status: 202,
      body: { signalled: true, started: false, workflowId: deployWorkflowId(FULL, commit) },
    });
    const result = (await handleOf(commit).result()) as DeployStatus;

    expect(result).toMatchObject({
      phase: 'succeeded',
      tag: shaTag(commit),
      ciRun: { id: run.id, conclusion: 'success' },
    });
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(probes()).toBe(1); // the signal, not a poll, carried the outcome
    // A late redelivery finds no running deploy, and the one that ran succeeded: nothing starts; still a 2xx.
    expect(await deliver(relay.url, 'workflow_run', workflowRunPayload(FULL, run as RunSpec))).toEqual({
      status: 202,
      body: { signalled: false, started: false, workflowId: deployWorkflowId(FULL, commit) },
    });
    expect((await handleOf(commit).describe()).status.name).toBe('COMPLETED');
    overlayCommit = result.overlayCommit ?? undefined;
  });

  test('a successful re-run of a failed CI run starts the failed deploy again, for the same push', async () => {
    // A rebase merge: two commits in one push, the code change in the first. Only the push's `before`
    // shows it; the head's parent alone would make the deploy "docs only".
    const before = await stack.origin.head();
    await stack.origin.commit({ 'services/api/main.py': 'print("flaky ci")\n' }, 'feat(api): flaky ci');
    const commit = await stack.origin.commit({ 'docs/flaky.md': '# flaky\n' }, 'docs: flaky ci');
    const push = pushPayload({
      repository: FULL,
      before,
      after: commit,
      commits: [{ message: 'feat(api): flaky ci' }, { message: await message(commit) }],
    });
    const workflowId = deployWorkflowId(FULL, commit);
    const run = stack.github.addRun({ owner: OWNER, repo: REPO, headSha: commit, status: 'in_progress' });
    expect(await deliver(relay.url, 'push', push)).toEqual({ status: 202, body: { requested: true, workflowId } });
    await until(
      'the deploy to wait for CI',
      async () => ((await handleOf(commit).query('status')) as DeployStatus).phase === 'waiting-for-ci' || undefined,
    );

    stack.github.setRun(run.id, { status: 'completed', conclusion: 'failure' });
    expect(await deliver(relay.url, 'workflow_run', workflowRunPayload(FULL, run as RunSpec))).toEqual({
      status: 202,
      body: { signalled: true, started: false, workflowId },
    });
    await expect(handleOf(commit).result()).rejects.toThrow();
    const failed = await handleOf(commit).describe();
    expect(failed.status.name).toBe('FAILED');

    // "Re-run failed jobs": the same run, attempt 2, pushes the images and succeeds.
    await stack.pushImages(shaTag(commit));
    const rerun = stack.github.setRun(run.id, { status: 'completed', conclusion: 'success', run_attempt: 2 });
    const delivery = 'f0e1d2c3-0000-11ef-8000-relayrerun01';
    expect(await deliver(relay.url, 'workflow_run', workflowRunPayload(FULL, rerun as RunSpec), { delivery })).toEqual({
      status: 202,
      body: { signalled: false, started: true, workflowId },
    });
    const restarted = await until('the failed deploy to run again', async () => {
      const info = await handleOf(commit).describe();
      return info.runId !== failed.runId ? info : undefined;
    });
    expect(await restarted.staticDetails()).toContain(
      `(before: ${before.slice(0, 7)}), requested by github workflow_run ${delivery} (CI run ${run.id} succeeded)`,
    );
    expect(await handleOf(commit).result()).toMatchObject({
      phase: 'succeeded',
      path: 'code',
      tag: shaTag(commit),
      ciRun: { id: run.id, conclusion: 'success' },
    });
    expect(
      logs.some((line) =>
        line.includes(
          `delivery ${delivery} -> 202 CI run ${run.id} success: no deploy of ${commit.slice(0, 7)} was running: started ${workflowId}`,
        ),
      ),
    ).toBe(true);

    // Redelivered once the deploy succeeded: nothing runs twice, nor is the environment even asked.
    expect(await deliver(relay.url, 'workflow_run', workflowRunPayload(FULL, rerun as RunSpec))).toEqual({
      status: 202,
      body: { signalled: false, started: false, workflowId },
    });
    expect(await childStarts(workflowId, 2)).toEqual(['started', 'started']);
    expect((await handleOf(commit).describe()).runId).toBe(restarted.runId);
  });

  test('a successful CI run of a merge whose push never arrived starts its deploy; the late push starts nothing', async () => {
    const { commit, push } = await merge(
      { 'services/workers/transcribe.py': 'def transcribe(video_id):\n    return "lost push"\n' },
      'feat(workers): lost push',
    );
    const workflowId = deployWorkflowId(FULL, commit);
    await stack.pushImages(shaTag(commit));
    const run = stack.github.addRun({
      owner: OWNER,
      repo: REPO,
      headSha: commit,
      status: 'completed',
      conclusion: 'success',
    });
    await expectNoDeploy(commit);

    expect(await deliver(relay.url, 'workflow_run', workflowRunPayload(FULL, run as RunSpec))).toEqual({
      status: 202,
      body: { signalled: false, started: true, workflowId },
    });
    const { runId } = await startedDeploy(commit);
    expect(await handleOf(commit).result()).toMatchObject({ phase: 'succeeded', tag: shaTag(commit) });
    // The late push is asked for; the environment finds the deploy done and starts nothing.
    expect(await deliver(relay.url, 'push', push)).toEqual({ status: 202, body: { requested: true, workflowId } });
    expect(await childStarts(workflowId, 2)).toEqual(['started', 'exists']);
    expect((await handleOf(commit).describe()).runId).toBe(runId);
  });

  test('a CI run that needs no deploy starts none, and does not even ask the environment', async () => {
    // A failed run of a commit with no deploy: nothing to start until a run succeeds.
    const sha = randomSha();
    expect(
      await deliver(
        relay.url,
        'workflow_run',
        workflowRunPayload(FULL, { id: 991, head_sha: sha, conclusion: 'failure' }),
      ),
    ).toEqual({ status: 202, body: { signalled: false, started: false, workflowId: deployWorkflowId(FULL, sha) } });
    await expectNoDeploy(sha);

    // CI runs for a docs-only merge too; its deploy ended `skipped`, which is not a failure to retry.
    const { commit, push } = await merge({ 'docs/ci.md': '# CI\n' }, 'docs: ci');
    expect(await deliver(relay.url, 'push', push)).toMatchObject({ status: 202, body: { requested: true } });
    const { runId } = await startedDeploy(commit);
    expect(await handleOf(commit).result()).toMatchObject({ phase: 'skipped' });
    expect(await deliver(relay.url, 'workflow_run', workflowRunPayload(FULL, { id: 992, head_sha: commit }))).toEqual({
      status: 202,
      body: { signalled: false, started: false, workflowId: deployWorkflowId(FULL, commit) },
    });
    expect((await handleOf(commit).describe()).runId).toBe(runId);
    // The environment's request log (deployctl status --env) holds the push, not every CI run as well.
    // Read from history: a signal is there once the relay's call returned, processed or not.
    const { events } = await stack.client.workflow.getHandle(ENV_ID).fetchHistory();
    const requests = (events ?? [])
      .map((event) => event.workflowExecutionSignaledEventAttributes)
      .filter((signal) => signal?.signalName === 'deployRequested')
      .map((signal) => Buffer.from(signal!.input!.payloads![0]!.data!).toString())
      .filter((request) => request.includes(commit));
    expect(requests).toEqual([expect.stringContaining('github push ')]);
    expect(await childStarts(deployWorkflowId(FULL, commit), 1)).toEqual(['started']);
  });

  test("a pull request's successful CI re-run previews its head again when the first run failed", async () => {
    const pr = 31;
    const branch = 'feature/flaky-preview';
    const head = await stack.origin.commitOn(
      branch,
      { 'services/api/main.py': 'print("flaky preview")\n' },
      'feat(api): flaky preview',
    );
    await stack.github.addPullRequest({ owner: OWNER, repo: REPO, number: pr, headRef: branch });
    await stack.argo.addApplication({
      name: `yt-summarizer-pr-${pr}`,
      targetRevision: branch,
      overlayPath: 'k8s/overlays/preview',
    });
    const run = stack.github.addRun({
      owner: OWNER,
      repo: REPO,
      headSha: head,
      event: 'pull_request',
      branch,
      pullRequests: [pr],
      status: 'completed',
      conclusion: 'failure',
    });
    const previewTarget: Target = { kind: 'preview', pr };
    const preview = stack.client.workflow.getHandle(deployIdFor(FULL, previewTarget, head));

    expect(
      await deliver(
        relay.url,
        'pull_request',
        pullRequestPayload(FULL, 'opened', { number: pr, headSha: head, headRef: branch }),
      ),
    ).toEqual({
      status: 202,
      body: {
        forwarded: true,
        workflowId: environmentWorkflowId(FULL, previewTarget),
        deployWorkflowId: preview.workflowId,
      },
    });
    const failed = await until('the preview deploy to fail on its CI run', async () => {
      const info = await preview.describe();
      return info.status.name === 'FAILED' ? info : undefined;
    });
    expect(await deliver(relay.url, 'workflow_run', workflowRunPayload(FULL, run as RunSpec))).toEqual({
      status: 202,
      body: { signalled: [], requested: [] },
    });

    await stack.pushImages(prTag(pr, head));
    const rerun = stack.github.setRun(run.id, { status: 'completed', conclusion: 'success', run_attempt: 2 });
    expect(await deliver(relay.url, 'workflow_run', workflowRunPayload(FULL, rerun as RunSpec))).toEqual({
      status: 202,
      body: { signalled: [], requested: [pr] },
    });
    const result = await until('the preview deploy to run again and succeed', async () => {
      const info = await preview.describe();
      return info.runId !== failed.runId && info.status.name !== 'RUNNING'
        ? ((await preview.result()) as DeployStatus)
        : undefined;
    });
    expect(result).toMatchObject({
      phase: 'succeeded',
      pr,
      tag: prTag(pr, head),
      ciRun: { id: run.id, conclusion: 'success' },
    });
    expect(await deliver(relay.url, 'workflow_run', workflowRunPayload(FULL, rerun as RunSpec))).toEqual({
      status: 202,
      body: { signalled: [], requested: [] },
    });
  });

  test("the push of the deployer's own overlay commit starts nothing (no deploy loop)", async () => {
    expect(overlayCommit).toBeDefined(); // made by the deploy in the test above
    const [head, parent] = [
      overlayCommit!,
      (await git(stack.origin.bareDir, ['rev-parse', `${overlayCommit}^`])).trim(),
    ];
    const push = pushPayload({
      repository: FULL,
      before: parent,
      after: head,
      commits: [{ message: await message(head), modified: ['k8s/overlays/prod/kustomization.yaml'] }],
    });
    expect(await deliver(relay.url, 'push', push)).toMatchObject({
      status: 202,
      body: { ignored: true, reason: expect.stringMatching(/deployer's own overlay commit/) },
    });
    await expectNoDeploy(head);
  });

  test('an oversized body gets 413 before any of it is trusted, and the relay keeps serving', async () => {
    const sha = randomSha();
    const payload = pushPayload({ repository: FULL, before: randomSha(), after: sha });
    const big = JSON.stringify({ ...payload, padding: 'x'.repeat(5 * 1024 * 1024) });
    expect(await deliver(relay.url, 'push', big)).toMatchObject({
      status: 413,
      body: { error: expect.stringContaining('5242880') },
    });
    await expectNoDeploy(sha);

    // Without a Content-Length (chunked), the limit applies while reading.
    const small = await startRelay({
      client: stack.client,
      config: stack.config,
      secret: SECRET,
      port: 0,
      host: '127.0.0.1',
      maxBodyBytes: 1024,
      log: () => {},
    });
    try {
      const status = await new Promise<number>((done, fail) => {
        const req = request(
          `${small.url}/webhooks/github`,
          { method: 'POST', headers: { 'x-github-event': 'push', 'content-type': 'application/json' } },
          (res) => (res.resume(), done(res.statusCode!)),
        );
        req.on('error', fail);
        for (let i = 0; i < 8; i++) req.write(Buffer.alloc(512, 0x20));
        req.end();
      });
      expect(status).toBe(413);
    } finally {
      await small.close();
    }
    expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
  });

  test('a signed but malformed body gets 400 naming the problem, and starts nothing', async () => {
    expect(await deliver(relay.url, 'push', '{"ref": "refs/heads/main",')).toEqual({
      status: 400,
      body: { error: 'the body is not valid JSON' },
    });
    const sha = randomSha();
    const push = pushPayload({ repository: FULL, before: randomSha(), after: sha });
    const reply = await deliver(relay.url, 'push', { ...push, head_commit: { ...push.head_commit, message: 42 } });
    expect(reply).toMatchObject({
      status: 400,
      body: { field: 'head_commit.message', error: expect.stringContaining('head_commit.message') },
    });
    expect(
      await deliver(relay.url, 'workflow_run', { action: 'completed', repository: { full_name: FULL } }),
    ).toMatchObject({ status: 400, body: { field: 'workflow_run' } });
    expect(
      (
        await deliver(relay.url, 'push', `payload=${encodeURIComponent(JSON.stringify(push))}`, {
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        })
      ).status,
    ).toBe(415);
    await expectNoDeploy(sha);
  });

  test('an empty body: signed, 400 saying so; unsigned or signed for another body or secret, 401', async () => {
    expect(await deliver(relay.url, 'push', '')).toEqual({
      status: 400,
      body: { error: 'empty body: expected the JSON payload of a GitHub event' },
    });
    expect(await deliver(relay.url, 'push', '', { signature: null })).toMatchObject({
      status: 401,
      body: { error: expect.stringMatching(/^missing X-Hub-Signature-256/) },
    });
    for (const signature of [sign('', 'not-the-secret'), sign('{}'), 'sha256=', 'sha256=00']) {
      expect(await deliver(relay.url, 'push', '', { signature })).toMatchObject({
        status: 401,
        body: { error: expect.stringMatching(/does not match/) },
      });
    }
    expect(logs.some((line) => / push delivery \S+ -> 400 rejected: empty body$/.test(line))).toBe(true);
  });

  test('routes: /healthz reports Temporal, unknown paths 404, wrong methods 405', async () => {
    const health = await fetch(`${relay.url}/healthz`);
    expect([health.status, await health.json()]).toEqual([200, { temporal: 'ok' }]);
    expect((await fetch(`${relay.url}/nope`)).status).toBe(404);
    const get = await fetch(`${relay.url}/webhooks/github`);
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
  });

  test('Temporal down: deliveries get 503 within 2 s (GitHub can redeliver) and /healthz says so', async () => {
    const temporal = await startDevServer();
    // The relay's own connection settings (fail fast, reconnect fast), as dist/relay/main.js makes it.
    const connection = await connectClient(temporalTarget({ address: temporal.address }));
    const down = await startRelay({
      client: new Client({ connection }),
      config: stack.config,
      secret: SECRET,
      port: 0,
      host: '127.0.0.1',
      temporalTimeoutMs: 3_000,
      log: () => {},
    });
    try {
      expect((await fetch(`${down.url}/healthz`)).status).toBe(200);
      await temporal.stop();
      const sha = randomSha();
      const started = Date.now();
      const reply = await deliver(down.url, 'push', pushPayload({ repository: FULL, before: randomSha(), after: sha }));
      expect(reply).toMatchObject({ status: 503, body: { error: expect.stringMatching(/Temporal is unreachable/) } });
      expect(Date.now() - started).toBeLessThan(2_000); // GitHub gives up on a delivery after 10 s
      const signal = await deliver(down.url, 'workflow_run', workflowRunPayload(FULL, { id: 77, head_sha: sha }));
      expect(signal.status).toBe(503);
      expect((await fetch(`${down.url}/healthz`)).status).toBe(503);
    } finally {
      await down.close();
      await connection.close();
      await temporal.stop();
    }
  });

  test('one log line per delivery, never the secret or the body', () => {
    // The first test delivered that push three times: one line each.
    const requested = logs.filter((line) =>
      / push delivery f0e1d2c3-0000-11ef-8000-relaytest001 -> 202 requested deploy-\S+$/.test(line),
    );
    expect(requested).toHaveLength(3);
    expect(logs.some((line) => /-> 401 rejected: bad signature/.test(line))).toBe(true);
    const text = logs.join('\n');
    expect(text).not.toContain(SECRET);
    expect(text).not.toMatch(/feat\(api\): relayed|docs: api via relay|xxxxxxxx|"ref"/);
  });
});

describe('relay entry point (node dist/relay/main.js)', () => {
  const main = resolve(__dirname, '../../dist/relay/main.js');
  const run = (env: Record<string, string | undefined>, args: string[] = []) => {
    const child = spawn(process.execPath, [main, '--config', stack.configPath, '--host', '127.0.0.1', ...args], {
      env: { ...process.env, TEMPORAL_ADDRESS: stack.temporal.address, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exit = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    return { child, exit, output: () => output };
  };

  test('refuses to start without GITHUB_WEBHOOK_SECRET (exit 2, saying why)', async () => {
    const relayProcess = run({ GITHUB_WEBHOOK_SECRET: '' });
    expect(await relayProcess.exit).toBe(2);
    expect(relayProcess.output()).toMatch(/GITHUB_WEBHOOK_SECRET is not set/);
  });

  test('prints the webhook URL, serves deliveries, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const relayProcess = run({ GITHUB_WEBHOOK_SECRET: SECRET }, ['--port', String(port)]);
    const url = `http://127.0.0.1:${port}`;
    await until(
      'the relay to listen',
      async () => relayProcess.output().includes(`${url}/webhooks/github`) || undefined,
    );
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(await deliver(url, 'ping', { zen: 'Speak like a human.' })).toEqual({ status: 200, body: { pong: true } });
    relayProcess.child.kill('SIGTERM');
    expect(await relayProcess.exit).toBe(0);
    expect(relayProcess.output()).not.toContain(SECRET);
  });
});
