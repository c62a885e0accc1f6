import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import { overlayCommitMessage } from '../../src/activities/overlay';
import { requestDeploy, requestPreview, startDeploy } from '../../src/client/deploys';
import {
  environmentHandle,
  inspectEnvironment,
  listTargets,
  pauseEnvironment,
  productionTarget,
  resumeEnvironment,
  rollbackEnvironment,
  signalEnvironment,
} from '../../src/client/environment';
import { ConfigError, loadConfig, parseConfigText } from '../../src/config/load';
import type { DeployInput } from '../../src/contract/deploy';
import {
  deployRequestedSignal,
  rollbackSignal,
  type DeployRequest,
  type Outcome,
  type RollbackRequest,
} from '../../src/contract/environment';
import { deployWorkflowId, environmentWorkflowId } from '../../src/contract/ids';
import { shaTag } from '../../src/plan/tags';
import { startRelay, type Relay } from '../../src/relay/server';
import {
  deliver,
  pullRequestPayload,
  pushPayload,
  randomSha,
  SECRET,
  sign,
  workflowRunPayload,
  type Delivered,
} from '../../harness/standins/github-webhooks';
import {
  failedWorkflowIds,
  overlaySnapshot,
  runNode,
  stepFailures,
  type OverlaySnapshot,
  type StepFailure,
} from '../support/inspect';
import { git } from '../../harness/origin';
import { freePort } from '../../harness/ports';
import { APP, GITHUB_TOKEN, OWNER, REPO, startRunningStack, type Stack, type WorkerProcess } from '../../harness/stack';
import { eventually } from '../support/wait';

/**
 * Bad input on five surfaces of one running stack (Temporal dev server, the worker's real entry
 * point, git over HTTPS, the HTTPS registry, GitHub and Argo CD stand-ins): webhook deliveries,
 * configuration files, deployctl's command line, the gateway's Updates (refused by the environment's
 * validators, the words reaching the caller), and runtime faults met by the real workflows.
 * Every case checks (a) the answer, (b) the words a person reads, (c) that the production overlay
 * on origin's main is byte for byte what it was, and (d) that nothing was lost: env-production
 * still runs, no workflow failed that should not have, and good input afterwards still deploys.
 */
const FULL = `${OWNER}/${REPO}`;
const OVERLAY = 'k8s/overlays/prod/kustomization.yaml';
const WORKER_MAIN = resolve(__dirname, '../../dist/worker/main.js');
const DEPLOYCTL = resolve(__dirname, '../../dist/cli/deployctl.js');
const CLONE_TOKEN = 'ghp_16C7e42F292c6912E7710c838347Ae178B4a';

let stack: Stack;
let worker: WorkerProcess;
let relay: Relay;
const relayLog: string[] = [];
/** Workflows this file made fail on purpose; any other failed workflow is a lost deploy. */
const failedOnPurpose = new Set<string>();

beforeAll(async () => {
  // Short waits keep the runtime cases quick; the workflow tests cover the production policy.
  ({ stack, worker } = await startRunningStack({
    ci: { timeout: '2m', pollInitial: '500ms', pollMax: '1s' },
    argocd: { syncTimeout: '30s' },
  }));
  relay = await startRelay({
    client: stack.client,
    config: stack.config,
    secret: SECRET,
    port: 0,
    host: '127.0.0.1',
    temporalTimeoutMs: 5_000,
    log: (line) => relayLog.push(line),
  });
  // env-production starts with the first request; a docs-only merge is one that deploys nothing.
  const commit = await stack.origin.commit({ 'docs/bad-input.md': '# Bad input\n' }, 'docs: bad input matrix');
  await startDeploy(stack.client, stack.config, { commit, requestedBy: 'bad-input test setup' });
  expect(await handleOf(commit).result()).toMatchObject({ phase: 'skipped' });
}, 180_000);

afterAll(async () => {
  await relay?.close();
  await stack?.stop();
});

const idOf = (commit: string) => deployWorkflowId(FULL, productionTarget(stack.config), commit);
const handleOf = (commitOrId: string) =>
  stack.client.workflow.getHandle(commitOrId.startsWith('deploy-') ? commitOrId : idOf(commitOrId));
const overlayNow = (): Promise<OverlaySnapshot> => overlaySnapshot(stack.origin.bareDir, OVERLAY);
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const expectNoDeploy = (commit: string) =>
  expect(handleOf(commit).describe()).rejects.toMatchObject({ name: 'WorkflowNotFoundError' });

/** (d): env-production still runs, and every failed workflow is one a case failed on purpose. */
async function expectNothingLost(): Promise<void> {
  expect((await environmentHandle(stack.client, stack.config).describe()).status.name).toBe('RUNNING');
  // Visibility lags a moment behind: a failure made on purpose must show up; no other may.
  const failed = await eventually('visibility to list the failures made on purpose', async () => {
    const ids = await failedWorkflowIds(stack.client);
    return [...failedOnPurpose].every((id) => ids.includes(id)) ? ids : undefined;
  });
  expect(failed).toEqual([...failedOnPurpose].sort());
}

/** The environment's record of requests and outcomes: what a rejected command must not have added to. */
async function environmentRecord() {
  const view = (await inspectEnvironment(stack.client, stack.config))!.view;
  return {
    outcomes: view.outcomes,
    pendingRollbacks: view.pendingRollbacks,
    paused: view.paused,
    held: view.held,
    requests: view.requests.length,
  };
}

/** A merge to main in the origin, and the push event GitHub would deliver for it. */
async function merge(files: Record<string, string>, subject: string) {
  const before = await stack.origin.head();
  const commit = await stack.origin.commit(files, subject);
  const message = (await git(stack.origin.bareDir, ['log', '-1', '--format=%B', commit])).trim();
  return {
    before,
    commit,
    push: pushPayload({
      repository: FULL,
      before,
      after: commit,
      commits: [{ message, modified: Object.keys(files) }],
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// 1. Webhook deliveries, to the relay started in this process against the stack's Temporal.
// ---------------------------------------------------------------------------------------------

type Merge = Awaited<ReturnType<typeof merge>>;
interface WebhookCase {
  name: string;
  send(m: Merge): Promise<Delivered & { allow?: string | null }>;
  status: number;
  /** The reply's body; the error or reason is the text a person reads in GitHub's delivery log. */
  body: (m: Merge) => Record<string, unknown>;
}

const signedPost =
  (path: string, body: string, headers: Record<string, string> = {}) =>
  async (): Promise<Delivered & { allow: string | null }> => {
    const res = await fetch(`${relay.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-hub-signature-256': sign(body),
        ...headers,
      },
      body,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, allow: res.headers.get('allow') };
  };

const webhookCases: WebhookCase[] = [
  {
    name: 'an unsigned push',
    send: (m) => deliver(relay.url, 'push', m.push, { signature: null }),
    status: 401,
    body: () => ({ error: 'missing X-Hub-Signature-256: configure the webhook secret on GitHub' }),
  },
  {
    name: 'a push signed with another secret',
    send: (m) => deliver(relay.url, 'push', m.push, { secret: 'not-the-webhook-secret' }),
    status: 401,
    body: () => ({ error: 'X-Hub-Signature-256 does not match this body and the configured secret' }),
  },
  {
    name: 'a push whose commit was swapped after signing',
    send: (m) =>
      deliver(relay.url, 'push', JSON.stringify(m.push).replace(m.commit, randomSha()), {
        signature: sign(JSON.stringify(m.push)),
      }),
    status: 401,
    body: () => ({ error: 'X-Hub-Signature-256 does not match this body and the configured secret' }),
  },
  {
    name: 'a signed empty body',
    send: () => deliver(relay.url, 'push', ''),
    status: 400,
    body: () => ({ error: 'empty body: expected the JSON payload of a GitHub event' }),
  },
  {
    name: 'signed malformed JSON',
    send: (m) => deliver(relay.url, 'push', JSON.stringify(m.push).slice(0, 200)),
    status: 400,
    body: () => ({ error: 'the body is not valid JSON' }),
  },
  {
    name: 'a form-encoded delivery (webhook content type left at its default)',
    send: (m) =>
      deliver(relay.url, 'push', `payload=${encodeURIComponent(JSON.stringify(m.push))}`, {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
    status: 415,
    body: () => ({ error: 'set the webhook content type to application/json' }),
  },
  {
    name: 'a delivery without X-GitHub-Event',
    send: (m) => deliver(relay.url, 'push', m.push, { headers: { 'x-github-event': '' } }),
    status: 400,
    body: () => ({ error: 'missing X-GitHub-Event header' }),
  },
  {
    name: 'a push whose `after` is not a 40-hex commit id',
    send: (m) => deliver(relay.url, 'push', { ...m.push, after: m.commit.slice(0, 7) }),
    status: 400,
    body: () => ({ field: 'after', error: 'push payload: after: expected a 40-character commit id' }),
  },
  {
    name: 'a push whose head commit message is not text',
    send: (m) => deliver(relay.url, 'push', { ...m.push, head_commit: { ...m.push.head_commit, message: 42 } }),
    status: 400,
    body: () => ({
      field: 'head_commit.message',
      error: expect.stringMatching(/^push payload: head_commit\.message: /),
    }),
  },
  {
    name: 'a push to another repository',
    send: (m) =>
      deliver(
        relay.url,
        'push',
        pushPayload({ repository: 'someone-else/yt-summarizer', before: m.before, after: m.commit }),
      ),
    status: 202,
    body: () => ({ ignored: true, reason: 'push to someone-else/yt-summarizer, not the configured repository' }),
  },
  {
    name: 'a push to another branch',
    send: (m) =>
      deliver(
        relay.url,
        'push',
        pushPayload({ repository: FULL, ref: 'refs/heads/feature/bad-input', before: m.before, after: m.commit }),
      ),
    status: 202,
    body: () => ({ ignored: true, reason: 'push to refs/heads/feature/bad-input, not refs/heads/main' }),
  },
  {
    name: 'a tag push',
    send: (m) =>
      deliver(
        relay.url,
        'push',
        pushPayload({ repository: FULL, ref: 'refs/tags/v1.2.3', before: m.before, after: m.commit }),
      ),
    status: 202,
    body: () => ({ ignored: true, reason: 'tag push refs/tags/v1.2.3' }),
  },
  {
    name: 'the deletion of main',
    send: (m) =>
      deliver(relay.url, 'push', pushPayload({ repository: FULL, before: m.commit, after: m.commit, deleted: true })),
    status: 202,
    body: () => ({ ignored: true, reason: 'refs/heads/main was deleted' }),
  },
  {
    name: "the deployer's own overlay commit (recognised by its trailers)",
    send: (m) => {
      const message = overlayCommitMessage({
        kind: 'deploy',
        tag: shaTag(m.commit),
        commit: m.commit,
        workflowId: idOf(m.commit),
      });
      return deliver(
        relay.url,
        'push',
        pushPayload({
          repository: FULL,
          before: m.before,
          after: m.commit,
          commits: [{ message, modified: [OVERLAY] }],
        }),
      );
    },
    status: 202,
    body: (m) => ({
      ignored: true,
      reason: `the deployer's own overlay commit ${m.commit.slice(0, 7)} (Deploy-Workflow-Id trailer)`,
    }),
  },
  {
    name: 'a successful workflow_run of another workflow',
    send: (m) =>
      deliver(
        relay.url,
        'workflow_run',
        workflowRunPayload(FULL, { id: 881, head_sha: m.commit, name: 'Lint', path: '.github/workflows/lint.yml' }),
      ),
    status: 202,
    body: () => ({ ignored: true, reason: 'workflow "Lint" is not the CI workflow ci.yml' }),
  },
  {
    name: 'a workflow_run still in progress',
    send: (m) =>
      deliver(relay.url, 'workflow_run', workflowRunPayload(FULL, { id: 882, head_sha: m.commit }, 'in_progress')),
    status: 202,
    body: () => ({ ignored: true, reason: 'workflow_run in_progress: only completed runs matter' }),
  },
  {
    name: 'a workflow_run without head_sha',
    send: (m) => {
      const payload = workflowRunPayload(FULL, { id: 883, head_sha: m.commit });
      delete (payload.workflow_run as { head_sha?: string }).head_sha;
      return deliver(relay.url, 'workflow_run', payload);
    },
    status: 400,
    body: () => ({
      field: 'workflow_run.head_sha',
      error: expect.stringMatching(/^workflow_run payload: workflow_run\.head_sha: /),
    }),
  },
  {
    name: 'a pull_request whose number is not a number',
    send: (m) =>
      deliver(relay.url, 'pull_request', {
        ...pullRequestPayload(FULL, 'opened', { number: 7, headSha: m.commit }),
        number: 'seven',
      }),
    status: 400,
    body: () => ({ field: 'number', error: expect.stringMatching(/^pull_request payload: number: /) }),
  },
  {
    name: 'a body over 5 MiB',
    send: (m) => deliver(relay.url, 'push', JSON.stringify({ ...m.push, padding: 'x'.repeat(5 * 1024 * 1024) })),
    status: 413,
    body: () => ({ error: 'the body exceeds 5242880 bytes' }),
  },
  {
    name: 'an event the relay does not handle',
    send: () => deliver(relay.url, 'issues', { action: 'opened', issue: { number: 1 } }),
    status: 202,
    body: () => ({
      ignored: true,
      reason: 'event "issues" is not handled (only push, pull_request, workflow_run and ping)',
    }),
  },
  {
    name: 'ping (answered, starts nothing)',
    send: () => deliver(relay.url, 'ping', { zen: 'Anything added dilutes everything else.', hook_id: 512345678 }),
    status: 200,
    body: () => ({ pong: true }),
  },
  {
    name: 'GET on the webhook path',
    send: async () => {
      const res = await fetch(`${relay.url}/webhooks/github`);
      return {
        status: res.status,
        body: (await res.json()) as Record<string, unknown>,
        allow: res.headers.get('allow'),
      };
    },
    status: 405,
    body: () => ({ error: 'method not allowed; use POST' }),
  },
  {
    name: 'a signed push to another path',
    send: (m) => signedPost('/webhook', JSON.stringify(m.push))(),
    status: 404,
    body: () => ({ error: 'not found; the webhook is POST /webhooks/github' }),
  },
];

describe('1. webhook deliveries', () => {
  let m: Merge;
  beforeAll(async () => {
    // A k8s-only merge: every bad delivery below names it, and none may start its deploy.
    m = await merge(
      { 'k8s/base/bad-input-webhook.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad-input\n' },
      'k8s: bad input webhook',
    );
  });

  test.each(webhookCases)('$name: $status', async ({ send, status, body }) => {
    const before = await overlayNow();
    const reply = await send(m);
    expect({ status: reply.status, body: reply.body }).toEqual({ status, body: body(m) });
    if (status === 405) expect(reply.allow).toBe('POST');
    await expectNoDeploy(m.commit);
    expect(await overlayNow()).toEqual(before);
    await expectNothingLost();
  });

  test('after every bad delivery, the valid push starts its deploy, which succeeds; the relay still serves', async () => {
    const before = await overlayNow();
    const reply = await deliver(relay.url, 'push', m.push);
    expect(reply).toEqual({ status: 202, body: { requested: true, workflowId: idOf(m.commit) } });
    // env-production starts the deploy on the relay's signal: it exists a moment later.
    await eventually('env-production to start the deploy', async () => (await handleOf(m.commit).describe()).runId);
    expect(await handleOf(m.commit).result()).toMatchObject({ phase: 'succeeded', path: 'k8s', commit: m.commit });
    expect(await overlayNow()).toEqual(before); // k8s-only: confirmed, not committed
    expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
    // One log line per delivery (every case above and this one), none with the secret.
    // (405 and 404 are answered before the webhook handler, which logs.)
    expect(relayLog.filter((line) => / delivery \S+ -> \d{3} /.test(line)).length).toBe(
      webhookCases.filter((c) => c.status !== 405 && c.status !== 404).length + 1,
    );
    expect(relayLog.join('\n')).not.toContain(SECRET);
    await expectNothingLost();
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Configuration files: the loader, and the worker's entry point refusing to start.
// ---------------------------------------------------------------------------------------------

// A parsed YAML document that each case edits freely (raw.ci.timeout = 60).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Raw = Record<string, any>;
interface ConfigCase {
  name: string;
  /** Changes a valid configuration (the stack's) into the bad one; or `text` gives the file itself. */
  edit?: (raw: Raw) => void;
  text?: (valid: string) => string;
  /** Every problem, in order, exactly (given the file's text). */
  problems: Array<string | RegExp> | ((body: string) => Array<string | RegExp>);
  /** A value that must not be echoed anywhere. */
  secret?: string;
}

const configCases: ConfigCase[] = [
  {
    name: 'a duration without a unit',
    edit: (raw) => (raw.ci.timeout = 60),
    problems: ['ci.timeout: 60 has no unit: add a unit, e.g. 60m or 60s'],
  },
  {
    name: 'a negative duration',
    edit: (raw) => (raw.argocd.syncTimeout = '-5m'),
    problems: ['argocd.syncTimeout: expected a positive duration like "15s", "2m" or "1h", got "-5m"'],
  },
  {
    name: 'poll bounds the wrong way round',
    edit: (raw) => Object.assign(raw.ci, { pollInitial: '5m', pollMax: '1m' }),
    problems: ['ci.pollMax: must be at least ci.pollInitial'],
  },
  {
    name: 'a glob with an unclosed bracket',
    edit: (raw) => (raw.changeRules = { code: ['services/**', 'apps/web/['] }),
    problems: [
      'changeRules.code.1: "apps/web/[" is not a valid glob: "[" is never closed (write \\[ to match the character itself)',
    ],
  },
  {
    name: 'a token in repository.cloneUrl',
    edit: (raw) =>
      (raw.repository.cloneUrl = raw.repository.cloneUrl.replace('https://', `https://x-access-token:${CLONE_TOKEN}@`)),
    problems: [
      /^repository\.cloneUrl: put the token in GITHUB_TOKEN; the URL must not carry credentials \(use https:\/\/127\.0\.0\.1:\d+\/config-case\/yt-summarizer\.git\)$/,
    ],
    secret: CLONE_TOKEN,
  },
  {
    name: 'a secret-looking key beside another mistake',
    edit: (raw) => {
      raw.argocd.authToken = 'argocd-secret-in-the-file';
      raw.images = [];
    },
    problems: [
      'argocd.authToken: secrets are read from the environment (GITHUB_TOKEN, ARGOCD_TOKEN, Azure credentials), never from the config file',
      'images: list at least one image',
    ],
    secret: 'argocd-secret-in-the-file',
  },
  {
    name: 'an unknown (misspelt) field',
    edit: (raw) => (raw.ci.timout = '5m'),
    problems: ['ci.timout: unknown field (this section takes workflow, timeout, pollInitial, pollMax, rerunWindow)'],
  },
  {
    name: 'a missing required field',
    edit: (raw) => delete raw.argocd.application,
    problems: ['argocd.application: required'],
  },
  {
    name: 'a registry over plain http',
    edit: (raw) => (raw.registry.endpoint = raw.registry.endpoint.replace('https://', 'http://')),
    problems: ['registry.endpoint: expected an https:// URL (the registry client refuses plain http)'],
  },
  {
    name: 'an image repository that is not a registry path',
    edit: (raw) => (raw.images[1].repository = 'Team/Workers:latest'),
    problems: ['images.1.repository: expected a registry repository like "team/api"'],
  },
  {
    name: 'the same image twice',
    edit: (raw) => raw.images.push({ ...raw.images[0] }),
    problems: ['images.2.name: duplicate image "yt-summarizer-api"'],
  },
  {
    name: 'preview.overlayPath equal to overlay.path',
    edit: (raw) => (raw.preview.overlayPath = OVERLAY),
    problems: ['preview.overlayPath: must differ from overlay.path: previews never write the production overlay'],
  },
  {
    name: 'preview.application without {number}',
    edit: (raw) => (raw.preview.application = 'yt-summarizer-preview'),
    problems: ['preview.application: must contain {number}, e.g. "yt-summarizer-pr-{number}"'],
  },
  {
    name: 'an environment name that is not a DNS name',
    edit: (raw) => (raw.environment = { name: 'Prod_EU' }),
    problems: ['environment.name: expected a lower-case DNS-style name'],
  },
  {
    name: 'a YAML syntax error (names the line)',
    // The flow sequence and the flow map opened on the last line are never closed: both are named.
    text: (valid) => `${valid}overlay: { path: [k8s/overlays/prod/kustomization.yaml }\n`,
    problems: (body) => {
      // yaml reports where it noticed the problem: the unclosed line, or the one after it.
      const line = body.split('\n').findIndex((l) => l.startsWith('overlay:')) + 1;
      const at = (what: string, close: string) =>
        new RegExp(
          `^Flow ${what} in block collection must be sufficiently indented and end with a \\${close} at line (${line}|${line + 1}), column \\d+:\\s+overlay: \\{ path: \\[`,
        );
      return [at('sequence', ']'), at('map', '}')];
    },
  },
  {
    name: 'an empty file',
    text: () => '',
    problems: ['repository: required', 'ci: required', 'registry: required', 'images: required', 'argocd: required'],
  },
];

describe('2. configuration', () => {
  let valid: Raw;
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(stack.dir, 'config-cases-'));
    valid = parse(readFileSync(stack.configPath, 'utf8'));
    // A repository the worker would clone first of all: it must never be asked for.
    valid.repository.cloneUrl = `${stack.origin.server!.url}/config-case/yt-summarizer.git`;
  });

  test.each(configCases.map((c, i) => [c.name, i, c] as const))(
    '%s',
    async (_name, index, { edit, text, problems, secret }) => {
      const raw: Raw = structuredClone(valid);
      const cacheDir = join(dir, `cache-${index}`);
      raw.git.cacheDir = cacheDir;
      edit?.(raw);
      const body = text ? text(stringify(raw)) : stringify(raw);
      // The line a YAML syntax error names is the line of the file.
      const file = join(dir, `case-${index}.yaml`);
      writeFileSync(file, body);
      const before = await overlayNow();
      const gitRequests = stack.origin.server!.requests.length;

      // (a) a ConfigError, (b) every problem named by field, in plain words.
      const thrown = (() => {
        try {
          parseConfigText(body, 'deploy.config.yaml');
        } catch (err) {
          return err;
        }
        throw new Error('the configuration was accepted');
      })();
      expect(thrown).toBeInstanceOf(ConfigError);
      const expected = typeof problems === 'function' ? problems(body) : problems;
      expect((thrown as ConfigError).problems).toEqual(
        expected.map((p) => (typeof p === 'string' ? p : expect.stringMatching(p))),
      );
      expect(() => loadConfig(file)).toThrow(`invalid configuration in ${file}:\n`);

      // The worker's entry point: exit 2 with the same words, before it touches git or Temporal.
      const ran = await runNode(WORKER_MAIN, ['--config', file], {
        TEMPORAL_ADDRESS: stack.temporal.address,
        GITHUB_TOKEN,
        ARGOCD_TOKEN: 'argocd-test-token',
      });
      expect({ code: ran.code, stdout: ran.stdout }).toEqual({ code: 2, stdout: '' });
      expect(ran.stderr).toContain(`invalid configuration in ${file}:\n`);
      for (const problem of (thrown as ConfigError).problems)
        expect(ran.stderr).toContain(`  - ${problem.split('\n')[0]}`);
      expect(ran.stderr).not.toMatch(/\n\s+at \S+ \(/); // no stack trace
      if (secret) {
        expect((thrown as ConfigError).message).not.toContain(secret);
        expect(ran.stderr).not.toContain(secret);
      }

      // (c) git untouched: no clone, no request for the repository; the overlay as it was.
      expect(existsSync(cacheDir)).toBe(false);
      expect(stack.origin.server!.requests.slice(gitRequests).filter((r) => r.url.includes('/config-case/'))).toEqual(
        [],
      );
      expect(await overlayNow()).toEqual(before);
      // (d) the running worker is still there and env-production still runs.
      expect(worker.child.exitCode).toBeNull();
      await expectNothingLost();
    },
  );
});

// ---------------------------------------------------------------------------------------------
// 3. deployctl as a child process, as a person runs it.
// ---------------------------------------------------------------------------------------------

interface CliCase {
  name: string;
  args: () => string[];
  /** Extra environment (TEMPORAL_ADDRESS defaults to the stack's). */
  env?: () => Promise<Record<string, string>>;
  code: 1 | 2;
  stderr: () => Array<string | RegExp>;
}

const UNKNOWN = 'f00dfeed'.repeat(5);
let unreachable = '';

const cliCases: CliCase[] = [
  {
    name: 'an unknown command',
    args: () => ['frobnicate'],
    code: 2,
    stderr: () => ["error: unknown command 'frobnicate'", /^usage: deployctl /m],
  },
  {
    name: 'start with an abbreviated --sha',
    args: () => ['start', '--sha', 'abc1234'],
    code: 2,
    stderr: () => [
      "error: option '--sha <commit>' argument 'abc1234' is invalid. expected a full 40-character commit id",
      /^usage: deployctl start --sha <commit>/m,
    ],
  },
  {
    name: 'start with a --before that is not a commit',
    args: () => ['start', '--sha', UNKNOWN, '--before', 'HEAD~1'],
    code: 2,
    stderr: () => [
      "error: option '--before <commit>' argument 'HEAD~1' is invalid. expected a full 40-character commit id",
    ],
  },
  {
    name: 'status of another environment',
    args: () => ['status', '--env', 'staging'],
    code: 2,
    stderr: () => [
      'error: --env staging: this configuration deploys the "production" environment (environment.name); use --env production',
    ],
  },
  {
    name: 'rollback of another environment',
    args: () => ['rollback', '--env', 'prod', '--to', 'previous', '--reason', 'errors after deploy'],
    code: 2,
    stderr: () => [
      'error: --env prod: this configuration deploys the "production" environment (environment.name); use --env production',
    ],
  },
  {
    name: 'rollback without --reason',
    args: () => ['rollback', '--env', 'production', '--to', 'previous'],
    code: 2,
    stderr: () => ["error: required option '--reason <text>' not specified", /^usage: deployctl rollback /m],
  },
  {
    name: 'rollback with a blank --reason',
    args: () => ['rollback', '--env', 'production', '--to', 'previous', '--reason', '   '],
    code: 2,
    stderr: () => ['error: a rollback needs a reason'],
  },
  {
    name: 'rollback --to latest',
    args: () => ['rollback', '--env', 'production', '--to', 'latest', '--reason', 'errors after deploy'],
    code: 2,
    stderr: () => ['error: rollback target must be "previous" or a tag like sha-abc1234, got "latest"'],
  },
  {
    name: 'rollback with a two-line --reason',
    args: () => ['rollback', '--env', 'production', '--to', 'previous', '--reason', 'errors\nafter deploy'],
    code: 2,
    stderr: () => ['error: --reason must be one line of at most 500 characters'],
  },
  {
    name: 'pause with a blank --reason',
    args: () => ['pause', '--env', 'production', '--reason', ''],
    code: 2,
    stderr: () => ['error: a pause needs a --reason'],
  },
  {
    name: 'status of a commit that was never deployed',
    args: () => ['status', UNKNOWN],
    code: 1,
    stderr: () => [
      `deployctl: no deploy of commit ${UNKNOWN} in namespace default at ${stack.temporal.address} (looked for workflow ${idOf(UNKNOWN)})`,
    ],
  },
  {
    name: 'watch of something that is not a commit id',
    args: () => ['watch', 'main'],
    code: 2,
    stderr: () => [
      "error: command-argument value 'main' is invalid for argument 'commit'. expected a commit id (at least 4 hex characters)",
    ],
  },
  {
    name: 'status with both a commit and --env',
    args: () => ['status', UNKNOWN, '--env', 'production'],
    code: 2,
    stderr: () => ['error: give a commit, --env <name> or --pr <n>'],
  },
  {
    name: 'a --connect-timeout that is not a duration',
    args: () => ['--connect-timeout', 'soon', 'list'],
    code: 2,
    stderr: () => ['deployctl: --connect-timeout: expected a duration like "5s", got "soon"'],
  },
  {
    name: 'a --connect-timeout without a unit (would be milliseconds)',
    args: () => ['--connect-timeout', '5', 'list'],
    code: 2,
    stderr: () => ['deployctl: --connect-timeout: 5 has no unit: add a unit, e.g. 5s'],
  },
  {
    name: 'a negative --connect-timeout',
    args: () => ['--connect-timeout=-1s', 'list'],
    code: 2,
    stderr: () => ['deployctl: --connect-timeout: expected a duration like "5s", got "-1s"'],
  },
  {
    name: 'TEMPORAL_ADDRESS where no Temporal listens',
    args: () => ['--connect-timeout', '1s', 'list'],
    env: async () => ({ TEMPORAL_ADDRESS: (unreachable = `127.0.0.1:${await freePort()}`) }),
    code: 1,
    stderr: () => [
      new RegExp(
        `^deployctl: cannot reach Temporal at ${escape(unreachable)} within 1s \\(.*\\); set --address or TEMPORAL_ADDRESS$`,
        'm',
      ),
    ],
  },
  {
    name: '--tls-cert without --tls-key',
    args: () => ['--tls-cert', '/nonexistent/client.pem', 'list'],
    code: 2,
    stderr: () => ['deployctl: --tls-cert and --tls-key (TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY) go together'],
  },
  {
    name: 'classify without paths',
    args: () => ['classify'],
    code: 2,
    stderr: () => ["error: missing required argument 'paths'", /^usage: deployctl classify /m],
  },
  {
    name: 'preview --pr 0',
    args: () => ['preview', '--pr', '0'],
    code: 2,
    stderr: () => ["error: option '--pr <n>' argument '0' is invalid. expected a pull request number"],
  },
  {
    name: 'targets --limit 500',
    args: () => ['targets', '--limit', '500'],
    code: 2,
    stderr: () => ["error: option '--limit <n>' argument '500' is invalid. expected a whole number from 1 to 100"],
  },
  {
    name: 'a --config file that does not exist',
    args: () => ['--config', join(stack.dir, 'no-such.config.yaml'), 'status', '--env', 'production'],
    code: 2,
    stderr: () => [
      `deployctl: invalid configuration in ${join(stack.dir, 'no-such.config.yaml')}:\n  - cannot read the file: ENOENT`,
    ],
  },
];

describe('3. deployctl', () => {
  test.each(cliCases)('$name: exit $code', async ({ args, env, code, stderr }) => {
    const before = await overlayNow();
    const record = await environmentRecord();
    const extra = env ? await env() : {};
    const ran = await runNode(DEPLOYCTL, ['--config', stack.configPath, ...args()], {
      TEMPORAL_ADDRESS: stack.temporal.address,
      ...extra,
    });
    expect({ code: ran.code, stdout: ran.stdout }).toEqual({ code, stdout: '' });
    for (const words of stderr())
      expect(ran.stderr).toEqual(
        typeof words === 'string' ? expect.stringContaining(words) : expect.stringMatching(words),
      );
    expect(ran.stderr).not.toMatch(/\n\s+at \S+ \(/); // no stack trace
    expect(ran.ms).toBeLessThan(15_000);
    // Nothing was sent: the environment recorded no request, rollback, pause or outcome.
    expect(await environmentRecord()).toEqual(record);
    expect(await overlayNow()).toEqual(before);
    await expectNothingLost();
  });
});

// ---------------------------------------------------------------------------------------------
// 4. The gateway's Updates (what deployctl, the bench and any other client call), past deployctl's
//    own checks: the environment's validators refuse them, and their words reach the caller.
// ---------------------------------------------------------------------------------------------

interface UpdateCase {
  name: string;
  send: () => Promise<unknown>;
  /** The whole message the caller gets: the validator's words, naming the field. */
  error: string;
  /** A workflow the refused request must not have started. */
  notStarted?: () => string;
}

const ABBREVIATED = 'abc1234';
const BAD_PR = 31;

const updateCases: UpdateCase[] = [
  {
    name: 'requestDeploy with an abbreviated commit',
    send: () => startDeploy(stack.client, stack.config, { commit: ABBREVIATED, requestedBy: 'bad-input test' }),
    error: `commit must be a full 40-character commit SHA, got "${ABBREVIATED}"`,
    notStarted: () => idOf(ABBREVIATED),
  },
  {
    name: 'requestDeploy without a commit (production names its commit)',
    send: () => requestDeploy(stack.client, stack.config, productionTarget(stack.config), { requestedBy: 'bad-input' }),
    error: 'commit must be a full 40-character commit SHA, got undefined',
  },
  {
    name: 'requestDeploy with a before that is not a commit',
    send: () =>
      startDeploy(stack.client, stack.config, { commit: UNKNOWN, before: 'HEAD~1', requestedBy: 'bad-input test' }),
    error: 'before must be a full 40-character commit SHA, got "HEAD~1"',
    notStarted: () => idOf(UNKNOWN),
  },
  {
    name: 'requestDeploy with a two-line requestedBy',
    send: () => startDeploy(stack.client, stack.config, { commit: UNKNOWN, requestedBy: 'ana\nSigned-off-by: bo' }),
    error: 'requestedBy must be one line of at most 200 characters',
    notStarted: () => idOf(UNKNOWN),
  },
  {
    name: 'a preview request with an abbreviated commit',
    send: () => requestPreview(stack.client, stack.config, BAD_PR, { commit: ABBREVIATED, requestedBy: 'bad-input' }),
    error: `commit must be a full 40-character commit SHA, got "${ABBREVIATED}"`,
    notStarted: () => environmentWorkflowId(FULL, { kind: 'preview', pr: BAD_PR }),
  },
  {
    name: 'rollback with a blank reason',
    send: () => rollback({ to: 'previous', reason: '   ', requestedBy: 'bad-input-update' }),
    error: 'a rollback needs a reason',
  },
  {
    name: "rollback to 'latest'",
    send: () => rollback({ to: 'latest', reason: 'bad input', requestedBy: 'bad-input-update' }),
    error: 'rollback target must be "previous" or a tag like sha-abc1234, got "latest"',
  },
  {
    name: 'rollback with a multi-line reason (it would forge commit trailers)',
    send: () =>
      rollback({ to: 'previous', reason: 'line one\n\nSigned-off-by: someone', requestedBy: 'bad-input-update' }),
    error: 'the rollback reason must be one line of at most 500 characters',
  },
  {
    name: 'rollback without requestedBy',
    send: () => rollback({ to: 'previous', reason: 'bad input', requestedBy: '' }),
    error: 'a rollback needs requestedBy',
  },
  {
    name: 'pause with a blank reason',
    send: () => pauseEnvironment(stack.client, stack.config, { reason: ' ', by: 'bad-input' }),
    error: 'a pause needs a reason: one line of at most 500 characters',
  },
  {
    name: 'pause without by',
    send: () => pauseEnvironment(stack.client, stack.config, { reason: 'bad input', by: '' }),
    error: 'by must be one line of at most 200 characters',
  },
  {
    name: 'resume with a two-line by',
    send: () => resumeEnvironment(stack.client, stack.config, { by: 'ops\nops' }),
    error: 'by must be one line of at most 200 characters',
  },
  {
    name: 'targets with a limit of 500',
    send: () => listTargets(stack.client, stack.config, 500),
    error: 'targets: limit must be an integer from 1 to 100',
  },
];

describe('4. Updates refused by their validators', () => {
  test.each(updateCases)('$name', async ({ send, error, notStarted }) => {
    const before = await overlayNow();
    const record = await environmentRecord();
    const started = Date.now();
    const refused = await send().then(
      (answer) => ({ answer }),
      (err: unknown) => err,
    );
    // (a) refused at once, (b) in the validator's words, naming the field, not the SDK's wrapper.
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toBe(error);
    expect(Date.now() - started).toBeLessThan(10_000);
    // Nothing was carried out or recorded: no request, rollback, pause or outcome; no workflow started.
    expect(await environmentRecord()).toEqual(record);
    if (notStarted)
      await expect(stack.client.workflow.getHandle(notStarted()).describe()).rejects.toMatchObject({
        name: 'WorkflowNotFoundError',
      });
    // (c) the overlay untouched, (d) nothing lost.
    expect(await overlayNow()).toEqual(before);
    await expectNothingLost();
  });
});

// ---------------------------------------------------------------------------------------------
// 5. Runtime faults, met by the real worker and workflows.
// ---------------------------------------------------------------------------------------------

interface Seen {
  /** The deploy that must fail, or the rollback's recorded outcome. */
  workflowId?: string;
  outcome?: Outcome;
  words: Array<string | RegExp>;
}
interface RuntimeCase {
  name: string;
  /** The bad state someone made by hand (taken before the overlay snapshot), if any. */
  prepare?: () => Promise<void>;
  act: () => Promise<Seen>;
  /** The deploy's failure, or the rollback's outcome. */
  answer: Record<string, unknown>;
  /** The step that failed, in the deploy's history or env-production's; none: no step failed at all. */
  step?: { in: 'deploy' | 'environment'; activity: string; type: string };
  cleanup?: () => Promise<void>;
}

const DEPLOY_FAILED = { type: 'DeployFailed', nonRetryable: true };
const REFUSED = { outcome: 'rollback-refused', held: false };

let fileCounter = 0;
/** A code merge, with its CI run in the given state (none: no run yet). */
async function codeMerge(conclusion?: 'success' | 'failure' | 'timed_out', subject = 'feat(api): bad input') {
  const commit = await stack.origin.commit(
    { [`services/api/bad_input_${++fileCounter}.py`]: `print(${fileCounter})\n` },
    subject,
  );
  const run = conclusion
    ? stack.github.addRun({ owner: OWNER, repo: REPO, headSha: commit, status: 'completed', conclusion })
    : undefined;
  return { commit, run, tag: shaTag(commit) };
}
const k8sMerge = (subject: string) =>
  stack.origin.commit(
    {
      [`k8s/base/bad-input-${++fileCounter}.yaml`]: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad-input-${fileCounter}\n`,
    },
    subject,
  );
/** The requestDeploy Update (deployctl start): env-production starts the deploy and names it. */
async function deploy(commit: string): Promise<string> {
  const started = await startDeploy(stack.client, stack.config, { commit, requestedBy: 'bad-input test' });
  expect(started).toMatchObject({ workflowId: idOf(commit), started: true });
  return started.workflowId!;
}
/** The rollback Update (deployctl rollback): answered with the rollback's outcome. */
const rollback = (request: RollbackRequest) =>
  rollbackEnvironment(stack.client, stack.config, request, { wait: true }).then((outcome) => outcome!);
/** A deploy request by the relay's signal, past the Update's validator: the environment records why it ignored it. */
async function requestSignalled(request: DeployRequest): Promise<Outcome> {
  const before = (await environmentRecord()).outcomes.length;
  await signalEnvironment(stack.client, stack.config, deployRequestedSignal, request);
  return eventually('the ignored request', async () =>
    (await environmentRecord()).outcomes
      .slice(before)
      .find((o) => o.kind === 'ignored' && o.message.includes(JSON.stringify(request.commit))),
  );
}

/** Sends the rollback signal itself (as the Web UI does), past deployctl's checks and the Update's validator. */
async function rollbackSignalled(request: RollbackRequest): Promise<Outcome> {
  const before = (await environmentRecord()).outcomes.length;
  await signalEnvironment(stack.client, stack.config, rollbackSignal, request);
  return eventually('the rollback outcome', async () =>
    (await environmentRecord()).outcomes
      .slice(before)
      .find((o) => o.kind.startsWith('rollback') && o.by === request.requestedBy),
  );
}

let handEdited = '';
/** Someone edits the production overlay on main by hand (a k8s-only merge). */
async function editOverlay(change: (text: string) => string, subject: string): Promise<string> {
  handEdited = (await overlayNow()).text;
  return stack.origin.commit({ [OVERLAY]: change(handEdited) }, subject);
}
const restoreOverlay = () => stack.origin.commit({ [OVERLAY]: handEdited }, 'k8s: restore the production overlay');

/** The deploy's failure, waited for at most `ms`: a deploy still retrying after that is a failed case, saying what it retries. */
async function failureOf(workflowId: string, ms = 60_000): Promise<ApplicationFailure> {
  const handle = handleOf(workflowId);
  // The long poll for the result is cancelled when the wait gives up, so none outlives the case.
  const abort = new AbortController();
  const result = stack.client.withAbortSignal(abort.signal, () => handle.result());
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'still running'>((done) => (timer = setTimeout(() => done('still running'), ms)));
  const ended = await Promise.race([
    result.then(
      () => 'succeeded' as const,
      (err: unknown) => err,
    ),
    gaveUp,
  ]).finally(() => clearTimeout(timer));
  if (ended === 'still running') {
    abort.abort();
    // What is being retried: the deploy's own step, or the environment's step applying it.
    const retrying = [handle, environmentHandle(stack.client, stack.config)].map(async (h) =>
      ((await h.describe()).raw.pendingActivities ?? []).map(
        (p) =>
          `${h.workflowId}: ${p.activityType?.name} attempt ${p.attempt}: ${p.lastFailure?.message ?? 'no failure yet'}`,
      ),
    );
    const steps = (await Promise.all(retrying)).flat().join('; ');
    throw new Error(
      `${workflowId} still runs after ${ms / 1000}s instead of failing at once: ${steps || 'no pending step'}`,
    );
  }
  if (ended === 'succeeded') throw new Error(`${workflowId} succeeded`);
  expect(ended).toBeInstanceOf(WorkflowFailedError);
  return (ended as WorkflowFailedError).cause as ApplicationFailure;
}

const runtimeCases: RuntimeCase[] = [
  {
    name: 'a merge whose images CI never pushed',
    act: async () => {
      const { commit, tag } = await codeMerge('success');
      const host = escape(stack.registry.host);
      return {
        workflowId: await deploy(commit),
        words: [
          new RegExp(`^image not found: ${host}/yt-summarizer-api:${tag}, ${host}/yt-summarizer-workers:${tag}\\.`),
        ],
      };
    },
    answer: DEPLOY_FAILED,
    step: { in: 'deploy', activity: 'validateImages', type: 'ImageNotFound' },
  },
  {
    name: 'a merge whose CI run failed',
    act: async () => {
      const { commit, run } = await codeMerge('failure');
      return {
        workflowId: await deploy(commit),
        words: [
          `CI run failure for ${commit.slice(0, 7)}: ${run!.html_url}. The overlay was not changed`,
          `deployctl start --sha ${commit}`,
        ],
      };
    },
    answer: DEPLOY_FAILED,
  },
  {
    name: 'a merge whose CI run timed out',
    act: async () => {
      const { commit, run } = await codeMerge('timed_out');
      return {
        workflowId: await deploy(commit),
        words: [`CI run timed_out for ${commit.slice(0, 7)}: ${run!.html_url}. The overlay was not changed`],
      };
    },
    answer: DEPLOY_FAILED,
  },
  {
    name: 'a code merge whose message tells GitHub to skip CI',
    act: async () => {
      const { commit } = await codeMerge(undefined, 'feat(api): squashed preview [skip ci]');
      return {
        workflowId: await deploy(commit),
        words: [
          `CI does not run for ${commit.slice(0, 7)}: its commit message contains "[skip ci]"`,
          'The overlay was not changed',
        ],
      };
    },
    answer: DEPLOY_FAILED,
  },
  {
    name: "a k8s-only merge while the overlay runs 'latest' (edited by hand)",
    prepare: async () =>
      void (latestCommit = await editOverlay(
        (text) => text.replace(/newTag: sha-[0-9a-f]{7}/g, 'newTag: latest'),
        'k8s: pin production to latest',
      )),
    act: async () => ({
      workflowId: await deploy(latestCommit),
      words: [
        "Production using 'latest' tag for yt-summarizer-api",
        'Cause: manual edit to the kustomization outside the deployer',
        'Fix: update newTag to a specific SHA tag from the registry',
        "never use 'latest' in production",
      ],
    }),
    answer: DEPLOY_FAILED,
    step: { in: 'deploy', activity: 'readRunningTag', type: 'InvalidProductionTag' },
    cleanup: async () => void (await restoreOverlay()),
  },
  {
    name: 'deployctl start --sha of a commit that does not exist',
    act: async () => {
      const sha = randomSha();
      const started = await runNode(DEPLOYCTL, ['--config', stack.configPath, 'start', '--sha', sha], {
        TEMPORAL_ADDRESS: stack.temporal.address,
      });
      expect({ code: started.code, stderr: started.stderr }).toEqual({ code: 0, stderr: '' });
      expect(started.stdout).toContain(`started ${idOf(sha)}`);
      const workflowId = idOf(sha);
      await failureOf(workflowId);
      // deployctl status says why, with exit 1.
      const status = await runNode(DEPLOYCTL, ['--config', stack.configPath, 'status', sha], {
        TEMPORAL_ADDRESS: stack.temporal.address,
      });
      expect(status.code).toBe(1);
      expect(status.stdout).toMatch(new RegExp(`^error +commit ${sha} does not exist in `, 'm'));
      return { workflowId, words: [`commit ${sha} does not exist in ${stack.origin.httpsUrl}`] };
    },
    answer: DEPLOY_FAILED,
    step: { in: 'deploy', activity: 'detect', type: 'CommitNotFound' },
  },
  {
    name: 'a deploy workflow started directly through the Temporal API with a branch name for a commit',
    act: async () => {
      // Past the environment, which refuses such a request (section 4): the step checks its input too.
      const input: DeployInput = {
        repository: FULL,
        target: productionTarget(stack.config),
        commit: 'main',
        requestedBy: 'bad-input test',
        environmentWorkflowId: 'env-production',
        searchAttributes: stack.config.temporal.searchAttributes,
      };
      const handle = await stack.client.workflow.start('deploy', {
        taskQueue: stack.config.temporal.taskQueue,
        workflowId: idOf('main'),
        args: [input],
      });
      return {
        workflowId: handle.workflowId,
        words: ['detect: bad input: commit: expected a full 40-character commit id'],
      };
    },
    answer: DEPLOY_FAILED,
    step: { in: 'deploy', activity: 'detect', type: 'BadInput' },
  },
  {
    name: "a deploy request signal (the relay's) with a branch name for a commit",
    act: async () => ({
      outcome: await requestSignalled({ commit: 'main', requestedBy: 'bad-input test' }),
      words: ['a deploy request was ignored: commit must be a full 40-character commit SHA, got "main"'],
    }),
    answer: { outcome: 'ignored', held: false },
  },
  {
    name: 'GitHub answering 401 to the CI lookup',
    act: async () => {
      const { commit } = await codeMerge();
      stack.github.failNext(
        1,
        401,
        {},
        { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' },
      );
      return {
        workflowId: await deploy(commit),
        words: [
          `GitHub refused GITHUB_TOKEN reading the CI runs of ci.yml in ${FULL} (HTTP 401: Bad credentials): the token is missing, wrong, expired or revoked`,
          'Set GITHUB_TOKEN to a token with contents: write and actions: read on the repository',
        ],
      };
    },
    answer: DEPLOY_FAILED,
    step: { in: 'deploy', activity: 'findCiRun', type: 'Unauthorized' },
  },
  {
    name: 'a k8s-only merge when Argo CD has no production application',
    prepare: async () => stack.argo.removeApplication(APP),
    act: async () => ({
      workflowId: await deploy(await k8sMerge('k8s: while the application is gone')),
      words: [
        new RegExp(
          `^Argo CD at 127\\.0\\.0\\.1:\\d+: no application "${APP}", or ARGOCD_TOKEN may not read it \\(HTTP 403; Argo CD answers 403 for both\\)\\. Check argocd\\.application`,
        ),
      ],
    }),
    answer: DEPLOY_FAILED,
    step: { in: 'environment', activity: 'observeArgoApp', type: 'ApplicationNotFound' },
    cleanup: () => stack.argo.addApplication({ name: APP, targetRevision: 'main', overlayPath: OVERLAY }),
  },
  {
    name: 'a rollback to a tag whose images retention removed',
    act: async () => {
      const tag = 'sha-0dead00';
      await stack.pushImages(tag);
      await stack.registry.deleteImage('yt-summarizer-workers', tag);
      const outcome = await rollback({ to: tag, reason: 'bad input: images gone', requestedBy: 'bad-input-test' });
      return {
        outcome,
        words: [
          `rollback to ${tag} refused, the overlay is untouched: image not found: ${stack.registry.host}/yt-summarizer-workers:${tag}.`,
        ],
      };
    },
    answer: REFUSED,
    step: { in: 'environment', activity: 'validateImages', type: 'ImageNotFound' },
  },
  {
    name: 'a rollback signal with an empty reason',
    act: async () => ({
      outcome: await rollbackSignalled({ to: 'previous', reason: ' ', requestedBy: 'bad-input-empty-reason' }),
      words: ['a rollback needs a reason'],
    }),
    answer: REFUSED,
  },
  {
    name: "a rollback signal to 'latest'",
    act: async () => ({
      outcome: await rollbackSignalled({ to: 'latest', reason: 'bad input', requestedBy: 'bad-input-latest' }),
      words: ['rollback target must be "previous" or a tag like sha-abc1234, got "latest"'],
    }),
    answer: REFUSED,
  },
  {
    name: 'a rollback signal with a multi-line reason',
    act: async () => ({
      outcome: await rollbackSignalled({
        to: 'previous',
        reason: 'line one\n\nSigned-off-by: someone',
        requestedBy: 'bad-input-multiline',
      }),
      words: ['the rollback reason must be one line of at most 500 characters'],
    }),
    answer: REFUSED,
  },
];
let latestCommit = '';

describe('5. runtime faults', () => {
  test.each(runtimeCases)('$name', async ({ prepare, act, answer, step, cleanup }) => {
    await prepare?.();
    const before = await overlayNow();
    const environmentFailures = (await stepFailures(environmentHandle(stack.client, stack.config))).length;
    try {
      const seen = await act();
      let message: string;
      let failures: StepFailure[];
      if (seen.workflowId) {
        const failure = await failureOf(seen.workflowId);
        failedOnPurpose.add(seen.workflowId);
        // (a) the deploy failed for good, its status saying why.
        expect({ type: failure.type, nonRetryable: failure.nonRetryable }).toEqual(answer);
        expect((await handleOf(seen.workflowId).describe()).status.name).toBe('FAILED');
        message = failure.message;
        expect((failure.details?.[0] as { phase?: string; error?: string }) ?? {}).toMatchObject({
          phase: 'failed',
          error: message,
        });
        failures = await stepFailures(handleOf(seen.workflowId));
      } else {
        const view = (await inspectEnvironment(stack.client, stack.config))!.view;
        expect({ outcome: seen.outcome!.kind, held: view.held !== undefined }).toEqual(answer);
        message = seen.outcome!.message;
        failures = [];
      }
      // The step that failed did so once, permanently: no retries before the answer.
      const environment = (await stepFailures(environmentHandle(stack.client, stack.config))).slice(
        environmentFailures,
      );
      if (step) {
        const found = (step.in === 'deploy' ? failures : environment)
          .filter((f) => f.activity === step.activity)
          .at(-1);
        expect(found).toMatchObject({ type: step.type, nonRetryable: true, attempt: 1 });
      } else {
        expect(failures).toEqual([]);
      }
      // (b) the words a person reads.
      for (const words of seen.words)
        expect(message).toEqual(
          typeof words === 'string' ? expect.stringContaining(words) : expect.stringMatching(words),
        );
      for (const secret of [GITHUB_TOKEN, 'argocd-test-token']) expect(message).not.toContain(secret);
      // (c) the production overlay on main is what it was.
      expect(await overlayNow()).toEqual(before);
      // (d) env-production runs on; only the deploys failed on purpose failed.
      await expectNothingLost();
    } finally {
      await cleanup?.();
    }
  });

  test('after every fault, a good merge still deploys and env-production keeps its order', async () => {
    const { commit, tag } = await codeMerge('success', 'feat(api): good after bad');
    await stack.pushImages(tag);
    const before = await overlayNow();
    const status = await handleOf(await deploy(commit)).result();
    expect(status).toMatchObject({ phase: 'succeeded', path: 'code', tag });
    const after = await overlayNow();
    expect(after.commit).toBe(status.overlayCommit);
    expect(after.text).toBe(before.text.replace(/newTag: sha-[0-9a-f]{7}/g, `newTag: ${tag}`));
    const view = (await inspectEnvironment(stack.client, stack.config))!.view;
    expect(view).toMatchObject({ current: { tag, commit }, queue: [], pendingRollbacks: [] });
    expect(view.held).toBeUndefined();
    await expectNothingLost();
  });
});

// ---------------------------------------------------------------------------------------------
// Last, since it stays in the overlay's history: a production overlay someone broke by hand.
// ---------------------------------------------------------------------------------------------

interface BrokenCase {
  name: string;
  act: () => Promise<{ answer: Record<string, unknown>; message: string; step?: StepFailure; workflowId?: string }>;
  answer: Record<string, unknown>;
}

const BROKEN_WITHIN_MS = 15_000;
let brokenCommit = '';
let brokenLine = 0;

/** The deploy fails within BROKEN_WITHIN_MS (or the case fails saying what it still retries). */
async function brokenDeploy(workflowId: string) {
  const failure = await failureOf(workflowId, BROKEN_WITHIN_MS);
  failedOnPurpose.add(workflowId);
  const failures = [
    ...(await stepFailures(handleOf(workflowId))),
    ...(await stepFailures(environmentHandle(stack.client, stack.config))),
  ];
  return {
    answer: { type: failure.type, nonRetryable: failure.nonRetryable },
    message: failure.message,
    step: failures.at(-1),
    workflowId,
  };
}

const brokenCases: BrokenCase[] = [
  {
    name: 'the k8s-only merge that broke it',
    act: async () => brokenDeploy(await deploy(brokenCommit)),
    answer: DEPLOY_FAILED,
  },
  {
    name: 'a code merge after it',
    act: async () => {
      const { commit, tag } = await codeMerge('success', 'feat(api): merged while the overlay is broken');
      await stack.pushImages(tag);
      return brokenDeploy(await deploy(commit));
    },
    answer: DEPLOY_FAILED,
  },
  {
    name: 'deployctl targets',
    act: async () => {
      const ran = await runNode(
        DEPLOYCTL,
        ['--config', stack.configPath, 'targets', '--env', 'production'],
        { TEMPORAL_ADDRESS: stack.temporal.address },
        BROKEN_WITHIN_MS,
      );
      return {
        answer: { code: ran.killed ? `still waiting after ${BROKEN_WITHIN_MS / 1000}s` : ran.code, stdout: ran.stdout },
        message: ran.stderr,
      };
    },
    answer: { code: 1, stdout: '' },
  },
];

describe('6. a production overlay broken by hand on main', () => {
  beforeAll(async () => {
    // An unclosed flow sequence on the first newTag line: kustomize, Argo CD and the deployer cannot read it.
    const text = (await overlayNow()).text;
    brokenLine = text.split('\n').findIndex((line) => /newTag: /.test(line)) + 1;
    brokenCommit = await editOverlay(
      (t) => t.replace(/newTag: (sha-[0-9a-f]{7})/, 'newTag: [$1'),
      'k8s: edit the production overlay by hand',
    );
  });
  afterAll(async () => {
    await restoreOverlay();
  });

  test.each(brokenCases)('$name: fails at once, naming the file and the line', async ({ act, answer }) => {
    const before = await overlayNow();
    const seen = await act();
    expect(seen.answer).toEqual(answer);
    expect(seen.message).toContain(OVERLAY);
    expect(seen.message).toMatch(/not valid YAML/);
    const line = Number(/\bline (\d+)\b/.exec(seen.message)?.[1]);
    expect([brokenLine, brokenLine + 1]).toContain(line);
    if (seen.workflowId) expect(seen.step).toMatchObject({ nonRetryable: true, attempt: 1 });
    expect(await overlayNow()).toEqual(before);
    const view = (await inspectEnvironment(stack.client, stack.config))!.view;
    expect(view.applying).toBeUndefined(); // the environment is not stuck retrying it
    await expectNothingLost();
  });
});
