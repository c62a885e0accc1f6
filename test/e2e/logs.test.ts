import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { IN_PROCESS_RETRIES } from '../../src/activities/octokit';
import { statusQuery, type DeployPhase, type DeployStatus } from '../../src/contract/deploy';
import { deployWorkflowId, environmentWorkflowId } from '../../src/contract/ids';
import type { Target } from '../../src/contract/target';
import { prTag, shaTag } from '../../src/plan/tags';
import { git } from '../../harness/origin';
import { freePort } from '../../harness/ports';
import {
  deliver,
  pullRequestPayload,
  pushPayload,
  SECRET,
  workflowRunPayload,
  type RunSpec,
} from '../../harness/standins/github-webhooks';
import {
  ARGOCD_TOKEN,
  GITHUB_TOKEN,
  IMAGES,
  INITIAL_TAG,
  OWNER,
  REPO,
  startStack,
  type Stack,
  type WorkerProcess,
} from '../../harness/stack';

// A full run through the real entry points (worker and relay as child processes, their stdout and
// stderr captured, neither a terminal), then every line of both is checked: JSON, with the
// activity's context, the steps' own words, and no secret in any form.

const FULL = `${OWNER}/${REPO}`;
const PRODUCTION: Target = { kind: 'production', name: 'production' };
const PR = 5;
const PREVIEW: Target = { kind: 'preview', pr: PR };
const BRANCH = 'feature/logged';

/** Every form a secret of this run could leak in (git gets the token as a Basic credential). */
const SECRETS = {
  GITHUB_TOKEN,
  'GITHUB_TOKEN as git’s Basic credential': Buffer.from(`x-access-token:${GITHUB_TOKEN}`).toString('base64'),
  'GITHUB_TOKEN in base64': Buffer.from(GITHUB_TOKEN).toString('base64'),
  ARGOCD_TOKEN,
  GITHUB_WEBHOOK_SECRET: SECRET,
};
/** Authorization headers that carry a credential (a masked one reads `Authorization: Bearer ***`); JSON-escaped text. */
function authorizationHeaders(text: string): string[] {
  return [...text.matchAll(/authorization\\?["']?\s*[:=]\s*\\?["']?((?:basic|bearer|token)\s+)?([^\s"',;\\)]+)/gi)]
    .filter((match) => match[2] !== '***')
    .map((match) => match[0]);
}

let stack: Stack;
let worker: WorkerProcess;
let relay: { child: ChildProcess; url: string; output(): string; exit: Promise<number | null> };
const ids = {
  deploy: '',
  production: environmentWorkflowId(FULL, PRODUCTION),
  preview: environmentWorkflowId(FULL, PREVIEW),
  previewDeploy: '',
};

beforeAll(async () => {
  // Ten-minute CI polls: only the relay's ciCompleted signals move the deploys on.
  stack = await startStack({ ci: { timeout: '30m', pollInitial: '10m', pollMax: '10m' } });
  await stack.pushImages(INITIAL_TAG);
  // Debug: the SDK's own lines too, so the scan covers everything the worker can say.
  worker = await stack.startWorker({ env: { LOG_LEVEL: 'debug' } });
  relay = await startRelayProcess();
}, 180_000);
afterAll(async () => {
  if (relay && relay.child.exitCode === null) relay.child.kill('SIGTERM');
  await stack?.stop();
});

async function startRelayProcess() {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const main = resolve(__dirname, '../../dist/relay/main.js');
  const child = spawn(
    process.execPath,
    [main, '--config', stack.configPath, '--host', '127.0.0.1', '--port', `${port}`],
    {
      // The tokens too: the relay needs neither, and must not print them either.
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: stack.temporal.address,
        GITHUB_WEBHOOK_SECRET: SECRET,
        GITHUB_TOKEN,
        ARGOCD_TOKEN,
        LOG_LEVEL: 'debug',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exit = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  await until('the relay to listen', async () => output.includes(`${url}/webhooks/github`) || undefined);
  return { child, url, output: () => output, exit };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
  }
  throw new Error(`timed out waiting for ${what}\n${worker?.output().slice(-3000)}\n${relay?.output().slice(-2000)}`);
}

const handle = (workflowId: string) => stack.client.workflow.getHandle(workflowId);
const phase = (workflowId: string, wanted: DeployPhase) =>
  until(`${workflowId} to reach ${wanted}`, async () =>
    (await handle(workflowId).query(statusQuery)).phase === wanted ? true : undefined,
  );
const message = async (sha: string) => (await git(stack.origin.bareDir, ['log', '-1', '--format=%B', sha])).trim();

interface Line {
  time: string;
  level: string;
  msg: string;
  component: string;
  [field: string]: unknown;
}
const linesOf = (output: string) => output.split('\n').filter((line) => line.trim() !== '');
const parsed = (output: string) => linesOf(output).map((line) => JSON.parse(line) as Line);

describe('logs of a full run: worker and relay entry points, JSON lines, no secret', () => {
  test('a code merge through the relay: push requested, CI signalled, deployed and healthy', async () => {
    const before = await stack.origin.head();
    const commit = await stack.origin.commit({ 'services/api/main.py': 'print("logged")\n' }, 'feat(api): logged');
    ids.deploy = deployWorkflowId(FULL, PRODUCTION, commit);
    const run = stack.github.addRun({ owner: OWNER, repo: REPO, headSha: commit, status: 'in_progress' });
    // The first CI probe meets 503s whose body echoes the token, more than the client retries in-process:
    // a retried failure, logged without it.
    stack.github.failNext(
      1 + IN_PROCESS_RETRIES,
      503,
      {},
      { message: `upstream rejected ${GITHUB_TOKEN} (Authorization: token ${GITHUB_TOKEN})` },
    );
    const push = pushPayload({
      repository: FULL,
      before,
      after: commit,
      commits: [{ message: await message(commit) }],
    });
    expect(await deliver(relay.url, 'push', push)).toEqual({
      status: 202,
      body: { requested: true, workflowId: ids.deploy },
    });
    await phase(ids.deploy, 'waiting-for-ci');

    await stack.pushImages(shaTag(commit));
    const done = stack.github.setRun(run.id, { status: 'completed', conclusion: 'success' });
    expect(await deliver(relay.url, 'workflow_run', workflowRunPayload(FULL, done as unknown as RunSpec))).toEqual({
      status: 202,
      body: { signalled: true, started: false, workflowId: ids.deploy },
    });
    const result = (await handle(ids.deploy).result()) as DeployStatus;
    expect(result).toMatchObject({ phase: 'succeeded', tag: shaTag(commit) });

    // GitHub sends the push of the deployer's own overlay commit too: the relay ignores it.
    const overlay = result.overlayCommit!;
    const own = pushPayload({
      repository: FULL,
      before: commit,
      after: overlay,
      commits: [{ message: await message(overlay) }],
    });
    expect(await deliver(relay.url, 'push', own)).toMatchObject({ status: 202, body: { ignored: true } });
  });

  test('a preview: opened, CI signalled, deployed onto its branch, closed', async () => {
    const head = await stack.origin.commitOn(BRANCH, { 'services/api/main.py': 'print("preview")\n' }, 'preview me');
    ids.previewDeploy = deployWorkflowId(FULL, PREVIEW, head);
    await stack.github.addPullRequest({ owner: OWNER, repo: REPO, number: PR, headRef: BRANCH });
    await stack.argo.addApplication({
      name: `yt-summarizer-pr-${PR}`,
      targetRevision: BRANCH,
      overlayPath: 'k8s/overlays/preview',
    });
    const run = stack.github.addRun({
      owner: OWNER,
      repo: REPO,
      headSha: head,
      event: 'pull_request',
      branch: BRANCH,
      pullRequests: [PR],
      status: 'in_progress',
    });
    const opened = pullRequestPayload(FULL, 'opened', { number: PR, headSha: head, headRef: BRANCH });
    expect(await deliver(relay.url, 'pull_request', opened)).toMatchObject({ status: 202, body: { forwarded: true } });
    await phase(ids.previewDeploy, 'waiting-for-ci');

    await stack.pushImages(prTag(PR, head));
    const done = stack.github.setRun(run.id, { status: 'completed', conclusion: 'success' });
    expect(await deliver(relay.url, 'workflow_run', workflowRunPayload(FULL, done as unknown as RunSpec))).toEqual({
      status: 202,
      body: { signalled: [PR], requested: [] },
    });
    expect(await handle(ids.previewDeploy).result()).toMatchObject({ phase: 'succeeded', tag: prTag(PR, head) });

    await stack.github.closePullRequest(PR);
    const closed = pullRequestPayload(FULL, 'closed', { number: PR, headSha: head, headRef: BRANCH, state: 'closed' });
    expect(await deliver(relay.url, 'pull_request', closed)).toMatchObject({ status: 202, body: { closed: true } });
    await handle(ids.preview).result();
  });

  test('both processes stop cleanly, so their last lines are in the output too', async () => {
    relay.child.kill('SIGTERM');
    expect(await relay.exit).toBe(0);
    await worker.stop();
    expect(worker.child.exitCode).toBe(0);
  });

  test('every line of both is one JSON object: time, level, msg and component first', () => {
    for (const [component, output] of [
      ['worker', worker.output()],
      ['relay', relay.output()],
    ] as const) {
      const lines = linesOf(output);
      expect(lines.length).toBeGreaterThanOrEqual(component === 'worker' ? 50 : 8); // not vacuous
      for (const line of lines) {
        let entry: Line;
        try {
          entry = JSON.parse(line) as Line;
        } catch {
          throw new Error(`not a JSON line from the ${component}: ${line}`);
        }
        expect(Object.keys(entry).slice(0, 4)).toEqual(['time', 'level', 'msg', 'component']);
        expect(entry.component).toBe(component);
        expect(['trace', 'debug', 'info', 'warn', 'error']).toContain(entry.level);
        expect(new Date(entry.time).toISOString()).toBe(entry.time);
      }
    }
  });

  test('activity lines carry the workflow id, run id, activity type and attempt', () => {
    // The steps' own lines and the SDK's about them (started, completed, failed).
    const activity = parsed(worker.output()).filter((line) => line.activityType !== undefined);
    expect(activity.filter((line) => line.sdkComponent === 'activity').length).toBeGreaterThan(10);
    for (const line of activity) {
      expect(line).toMatchObject({
        workflowId: expect.any(String),
        runId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        activityType: expect.any(String),
        attempt: expect.any(Number),
      });
      expect([ids.deploy, ids.production, ids.preview, ids.previewDeploy]).toContain(line.workflowId);
    }
  });

  test('each step says what it did, at info', () => {
    const info = parsed(worker.output()).filter((line) => line.sdkComponent === 'activity' && line.level === 'info');
    const said = (activityType: string, workflowId: string, msg: RegExp) =>
      expect(info).toContainEqual(
        expect.objectContaining({ activityType, workflowId, msg: expect.stringMatching(msg) }),
      );
    const deployed = /deploy-\S+-([0-9a-f]{40})$/.exec(ids.deploy)![1]!.slice(0, 7);
    const previewed = /-([0-9a-f]{40})$/.exec(ids.previewDeploy)![1]!.slice(0, 7);
    const host = stack.registry.host.replace(/[.]/g, '\\.');

    said(
      'detect',
      ids.deploy,
      new RegExp(`^push to production: compared [0-9a-f]{7}\\.\\.${deployed}, 1 file changed \\(code 1\\): code, `),
    );
    // (production's one CI probe met the 503 below; the signal carried the run)
    said(
      'validateImages',
      ids.deploy,
      new RegExp(`^validated ${IMAGES.length} images at sha-${deployed} in ${host}: ${IMAGES[0]} sha256:[0-9a-f]{12}…`),
    );
    said('updateOverlay', ids.production, new RegExp(`^fetched main to ${deployed}$`));
    said(
      'updateOverlay',
      ids.production,
      new RegExp(`^committed [0-9a-f]{7}: deploy: production to sha-${deployed} \\[skip ci\\]$`),
    );
    said('updateOverlay', ids.production, /^pushed [0-9a-f]{7} to main$/);
    said(
      'observeArgoApp',
      ids.production,
      /^Argo CD yt-summarizer-prod: Synced at [0-9a-f]{7} \((ours|contains [0-9a-f]{7})\), Healthy/,
    );

    said(
      'readPullRequest',
      ids.previewDeploy,
      new RegExp(`^pull request #${PR}: open, head ${previewed} on ${BRANCH}, base main$`),
    );
    said(
      'detect',
      ids.previewDeploy,
      new RegExp(`^pull request #${PR}: compared [0-9a-f]{7}\\.\\.${previewed}, 1 file changed \\(code 1\\): code`),
    );
    said('findCiRun', ids.previewDeploy, new RegExp(`^CI run \\d+ of ${previewed} \\(ci\\.yml, pull_request\\): `));
    said('updateOverlay', ids.preview, new RegExp(`^pushed [0-9a-f]{7} to ${BRANCH}$`));
    said('observeArgoApp', ids.preview, new RegExp(`^Argo CD yt-summarizer-pr-${PR}: Synced .*Healthy`));
  });

  test('a failed attempt says how it is retried, at warn', () => {
    const failed = parsed(worker.output()).filter((line) => line.activityType === 'findCiRun' && line.level === 'warn');
    expect(failed).toContainEqual(
      expect.objectContaining({
        sdkComponent: 'activity',
        workflowId: ids.deploy,
        classification: 'retry',
        failureType: 'Unavailable',
        msg: expect.stringMatching(
          /^findCiRun failed, retryable with backoff \(Unavailable\): GitHub at \S+ failed \(HTTP 503: /,
        ),
      }),
    );
    // The SDK's own line about it, with the error (and its stack), is there too.
    expect(failed).toContainEqual(expect.objectContaining({ sdkComponent: 'worker', msg: 'Activity failed' }));
    // Before that, each in-process retry of the client (src/activities/octokit.ts), once, in the step's context.
    const inProcess = failed.filter((line) => / retried in-process in /.test(line.msg));
    expect(inProcess.map((line) => line.workflowId)).toEqual(Array(IN_PROCESS_RETRIES).fill(ids.deploy));
    // (the worker's log redaction takes the rest of the echoed Authorization header with it)
    expect(inProcess[0]!.msg).toMatch(
      /^GitHub at \S+ failed \(HTTP 503: upstream rejected .*GET \/repos\/\{owner\}\/\{repo\}\/actions\/workflows\/\{workflow_id\}\/runs retried in-process in 250 ms \(1 of 2\)$/,
    );
  });

  test('the relay logs every delivery: event, delivery id, and what it started, signalled or ignored', () => {
    const deliveries = parsed(relay.output()).filter((line) => typeof line.delivery === 'string');
    const actions = deliveries.map((line) => `${String(line.event)} ${String(line.action)}`);
    expect(actions).toEqual([
      'push requested',
      'workflow_run signalled',
      'push ignored',
      'pull_request forwarded',
      'workflow_run signalled',
      'pull_request closed',
    ]);
    expect(deliveries[0]).toMatchObject({ level: 'info', status: 202, workflowId: ids.deploy });
    expect(deliveries[0]!.msg).toMatch(/^push delivery [0-9a-f-]{36} -> 202 requested deploy-/);
    expect(deliveries[4]).toMatchObject({ signalledPrs: [PR] });
    const all = parsed(relay.output()).map((line) => line.msg);
    expect(all).toContainEqual(
      expect.stringMatching(new RegExp(`^webhook relay listening: ${relay.url}/webhooks/github`)),
    );
    expect(all).toContainEqual('webhook relay stopping: finishing in-flight deliveries');
  });

  test('no line of either contains a token, the webhook secret or an Authorization header', () => {
    const output = `${worker.output()}\n${relay.output()}`;
    for (const [name, value] of Object.entries(SECRETS)) {
      if (output.includes(value)) throw new Error(`the logs contain ${name}`);
    }
    expect(authorizationHeaders(output)).toEqual([]);
    expect(authorizationHeaders('"authorization":"***" Authorization: Bearer *** x Authorization: token abc')).toEqual([
      'Authorization: token abc',
    ]); // the check itself
    expect(output).not.toMatch(/x-access-token:(?!\*\*\*)/);
  });
});
