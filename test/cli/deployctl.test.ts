import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { shaTag } from '../../src/plan/tags';
import { statusQuery, type DeployPhase as Phase } from '../../src/contract/deploy';
import { deployWorkflowId, environmentWorkflowId } from '../../src/contract/ids';
import {
  DeployCommit,
  DeployEnvironment,
  DeployPath,
  DeployPhase,
  ImageTag,
} from '../../src/contract/search-attributes';
import type { Target } from '../../src/contract/target';
import { freePort } from '../../harness/ports';
import { IMAGES, OWNER, REPO, startRunningStack, type Stack } from '../../harness/stack';

const BIN = resolve(__dirname, '../../dist/cli/deployctl.js');
let stack: Stack;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  ({ stack } = await startRunningStack());
}, 120_000);
afterEach(() => children.forEach((child) => child.kill('SIGKILL')));
afterAll(() => stack?.stop());

interface Run {
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  stdout(): string;
}

/** Runs deployctl as a person would: a child process with the stack's config and TEMPORAL_ADDRESS. */
function deployctl(args: string[], config = stack.configPath): Run {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TEMPORAL_')));
  const child = spawn(process.execPath, [BIN, '--config', config, ...args], {
    env: { ...env, TEMPORAL_ADDRESS: stack.temporal.address },
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((ok) =>
    child.once('close', (code) => (children.delete(child), ok({ code, stdout, stderr }))),
  );
  return { done, stdout: () => stdout };
}
const cli = (...args: string[]) => deployctl(args).done;

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    const value = await probe();
    if (value !== undefined) return value;
  }
  throw new Error(`timed out waiting for ${what}`);
}

const PRODUCTION: Target = { kind: 'production', name: 'production' };
const deployIdOf = (commit: string) => deployWorkflowId(`${OWNER}/${REPO}`, PRODUCTION, commit);
const handleOf = (commit: string) => stack.client.workflow.getHandle(deployIdOf(commit));
const phaseOf = (commit: string) =>
  handleOf(commit)
    .query(statusQuery)
    .then(
      (s) => s.phase,
      () => undefined,
    );
const reached = (commit: string, phase: Phase) =>
  until(`${commit} to reach ${phase}`, async () => ((await phaseOf(commit)) === phase ? true : undefined));

/** A code merge with its CI run in progress, as the tests start from. */
async function codeMerge(file: string) {
  const before = await stack.origin.head();
  const commit = await stack.origin.commit({ [file]: `print(${Date.now()})\n` }, `feat: ${file}`);
  const run = stack.github.addRun({ owner: OWNER, repo: REPO, headSha: commit, status: 'in_progress' });
  return { before, commit, run, tag: shaTag(commit) };
}

describe('deployctl usage', () => {
  test('classify prints what a change deploys, as JSON', async () => {
    const { code, stdout } = await cli('classify', 'services/api/main.py', 'docs/api.md', 'k8s/base/deployment.yaml');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      path: 'code',
      reason: 'code changed: services/api/main.py',
      images: IMAGES,
      files: {
        ignored: ['docs/api.md'],
        code: ['services/api/main.py'],
        k8s: ['k8s/base/deployment.yaml'],
        infra: [],
        other: [],
      },
    });
    expect(JSON.parse((await cli('classify', 'docs/api.md')).stdout)).toMatchObject({
      path: 'none',
      reason: 'skipped',
      images: [],
    });
  });

  test.each([
    [['status', '--bogus', 'abc1234']],
    [['status']],
    [['start']],
    [['start', '--sha', 'abc1234']],
    [['list', '--phase', 'sleeping']],
    [['list', '--limit', '0']],
    [['frobnicate']],
    [[]],
  ])('%j is a usage error: exit 2 with a usage line', async (args) => {
    const { code, stdout, stderr } = await cli(...args);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^usage: deployctl/im);
    expect(stdout).toBe('');
  });

  test('--help exits 0', async () => {
    const { code, stdout } = await cli('--help');
    expect(code).toBe(0);
    expect(stdout).toMatch(/Commands:[\s\S]*watch/);
  });

  test('a bad configuration exits 2 naming the field', async () => {
    const bad = join(stack.dir, 'bad.config.yaml');
    writeFileSync(
      bad,
      `repository: { owner: o, name: r }\nci: { workflow: ci.yml }\nregistry: { endpoint: http://plain.example }\nimages: []\nargocd: { server: https://argo.example, application: app }\n`,
    );
    const { code, stderr } = await deployctl(['status', 'abc1234'], bad).done;
    expect(code).toBe(2);
    expect(stderr).toContain('registry.endpoint: expected an https:// URL');
    expect(stderr).toContain('images: list at least one image');
  });

  test('an unreachable Temporal fails fast with exit 1, naming the address', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const t0 = Date.now();
    const { code, stderr } = await cli('--address', address, '--connect-timeout', '1s', 'list');
    expect(code).toBe(1);
    expect(stderr).toContain(`cannot reach Temporal at ${address} within 1s`);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  test('the status of a commit that was never deployed exits 1', async () => {
    const { code, stderr } = await cli('status', 'f'.repeat(40));
    expect(code).toBe(1);
    expect(stderr).toContain(`no deploy of commit ${'f'.repeat(40)} in namespace default`);
  });
});

describe('deployctl against a running deploy', () => {
  test('start, then status, list and the Web UI fields show a deploy waiting for CI; terminated it exits 1', async () => {
    const { before, commit, tag } = await codeMerge('services/api/waiting.py');
    const sha7 = commit.slice(0, 7);
    const started = await cli('start', '--sha', commit, '--before', before);
    expect(started).toMatchObject({ code: 0, stderr: '' });
    expect(started.stdout).toContain(`started ${deployIdOf(commit)}`);
    // The environment started it as its child before answering: it exists once start returns.
    const { runId } = await handleOf(commit).describe();
    // Asked again: the environment answers that the deploy runs already, and starts nothing.
    expect(JSON.parse((await cli('--json', 'start', '--sha', commit)).stdout)).toEqual({
      environmentWorkflowId: environmentWorkflowId(`${OWNER}/${REPO}`, PRODUCTION),
      workflowId: deployIdOf(commit),
      started: false,
      note: expect.stringContaining('is running or has run already'),
    });
    const again = await cli('start', '--sha', commit);
    expect(again.stdout).toContain(`a deploy of ${sha7} is already running or succeeded: ${deployIdOf(commit)}`);
    expect((await handleOf(commit).describe()).runId).toBe(runId);
    await reached(commit, 'waiting-for-ci');

    const status = await cli('status', sha7); // an abbreviation, looked up through DeployCommit
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^phase +waiting-for-ci since \d\d:\d\d:\d\d$/m);
    expect(status.stdout).toMatch(new RegExp(`^tag +${tag} \\(once CI passes\\)$`, 'm'));
    expect(status.stdout).toMatch(/^workflow +deploy-\S+ \(running\)$/m);
    expect(JSON.parse((await cli('status', commit, '--json')).stdout)).toMatchObject({
      execution: 'RUNNING',
      phase: 'waiting-for-ci',
      path: 'code',
      commit,
      ciRun: { conclusion: null },
    });

    // Visibility is eventually consistent: the upserted phase shows up a moment after it is entered.
    const table = await until('list to show the waiting deploy', async () => {
      const { stdout } = await cli('list', '--running', '--phase', 'waiting-for-ci');
      return stdout.includes(sha7) ? stdout : undefined;
    });
    expect(table.split('\n')[0]).toMatch(/^ENV +COMMIT +PHASE +PATH +TAG +STATUS +AGE$/);
    expect(table).toMatch(new RegExp(`^production +${sha7} +waiting-for-ci +code +${tag} +running +\\d+[smh]`, 'm'));
    const rows = JSON.parse((await cli('--json', 'list', '--running', '--phase', 'waiting-for-ci')).stdout);
    expect(rows).toEqual([
      expect.objectContaining({ commit, phase: 'waiting-for-ci', path: 'code', tag, execution: 'RUNNING' }),
    ]);
    expect(JSON.parse((await cli('--json', 'list', '--running', '--path', 'k8s')).stdout)).toEqual([]);

    // What the Web UI shows: search attributes, the static summary and details, and current details.
    const description = await handleOf(commit).describe();
    const attributes = description.typedSearchAttributes;
    expect(attributes.get(DeployEnvironment)).toBe('production');
    expect(attributes.get(DeployCommit)).toBe(commit);
    expect(attributes.get(DeployPhase)).toBe('waiting-for-ci');
    expect(attributes.get(DeployPath)).toBe('code');
    expect(attributes.get(ImageTag)).toBe(tag);
    expect(await description.staticSummary()).toBe(`deploy ${OWNER}/${REPO}@${sha7} to production`);
    expect(await description.staticDetails()).toContain(
      `Commit ${commit} (before: ${before.slice(0, 7)}), requested by deployctl`,
    );
    // Started by the environment, which owns the overlay.
    expect(description.raw.workflowExecutionInfo?.parentExecution?.workflowId).toBe(
      environmentWorkflowId(`${OWNER}/${REPO}`, PRODUCTION),
    );
    expect(description.type).toBe('deploy');
    expect(description.raw.executionConfig?.userMetadata?.summary).toBeTruthy();
    const metadata = await handleOf(commit).query<{ currentDetails: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toMatch(
      new RegExp(
        `^\\*\\*waiting-for-ci\\*\\*: deploy sha-${sha7} to production \\(code changed: services/api/waiting.py\\)`,
      ),
    );
    expect(metadata.currentDetails).toContain('in progress');

    await handleOf(commit).terminate('test: abandon the deploy');
    const closed = await cli('status', commit);
    expect(closed.code).toBe(1);
    expect(closed.stdout).toMatch(/^workflow +\S+ \(terminated\)$/m);
    const watched = await cli('watch', commit);
    expect(watched.code).toBe(1);
    expect(watched.stdout).toMatch(/ended +workflow terminated/);
  });

  test('watch prints each step as it happens and exits 0 when the deploy succeeds', async () => {
    const { before, commit, run, tag } = await codeMerge('services/api/watched.py');
    expect((await cli('start', '--sha', commit, '--before', before)).code).toBe(0);
    const watch = deployctl(['watch', commit, '--interval', '300ms']);
    await until('watch to show waiting-for-ci', async () =>
      watch.stdout().includes('waiting-for-ci') ? true : undefined,
    );

    await stack.pushImages(tag); // CI builds and pushes once...
    stack.github.setRun(run.id, { status: 'completed', conclusion: 'success' }); // ...then completes.
    const { code, stdout, stderr } = await watch.done;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const labels = stdout
      .trim()
      .split('\n')
      .map((line) => /^\d\d:\d\d:\d\d {2}(\S+(?: cd)?)/.exec(line)?.[1]);
    // Each phase once, in order; CI, overlay and Argo CD lines after the phase they belong to.
    const order = [
      'detecting',
      'plan',
      'waiting-for-ci',
      'ci',
      'validating',
      'queued',
      'committing',
      'overlay',
      'syncing',
      'argo cd',
      'succeeded',
    ];
    expect(labels.filter((label, i) => labels.indexOf(label) === i)).toEqual(order);
    expect(stdout).toContain(`run ${run.id} success  ${run.html_url}`);
    expect(stdout).toMatch(new RegExp(`validating +images at ${tag}`));

    const status = await cli('status', commit);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^phase +succeeded/m);
    expect(status.stdout).toMatch(
      /^digests +yt-summarizer-api +sha256:[0-9a-f]{64}\n +yt-summarizer-workers +sha256:/m,
    );
    await until('list to show it succeeded', async () => {
      const rows: Array<{ commit: string; phase: string; execution: string }> = JSON.parse(
        (await cli('--json', 'list', '--limit', '5')).stdout,
      );
      return rows.find((row) => row.commit === commit && row.phase === 'succeeded' && row.execution === 'COMPLETED');
    });
  });

  test('watch --json streams one JSON event per line and exits 1 when CI fails', async () => {
    const { before, commit, run } = await codeMerge('services/workers/broken.py');
    expect((await cli('start', '--sha', commit, '--before', before)).code).toBe(0);
    const watch = deployctl(['--json', 'watch', commit.slice(0, 10), '--interval', '300ms']);
    await until('watch to show waiting-for-ci', async () =>
      watch.stdout().includes('"waiting-for-ci"') ? true : undefined,
    );
    stack.github.setRun(run.id, { status: 'completed', conclusion: 'failure' });

    const { code, stdout } = await watch.done;
    expect(code).toBe(1);
    const events = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(events.filter((e) => e.event === 'phase').map((e) => e.phase)).toEqual([
      'detecting',
      'waiting-for-ci',
      'failed',
    ]);
    expect(events.find((e) => e.event === 'error').message).toContain(run.html_url);
    expect(events.at(-1)).toMatchObject({
      event: 'end',
      execution: 'FAILED',
      phase: 'failed',
      status: { commit, phase: 'failed' },
    });

    const status = await cli('status', commit);
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(
      new RegExp(`^error +CI run failure for ${commit.slice(0, 7)}: ${run.html_url.replace(/[.]/g, '\\.')}`, 'm'),
    );
  });
});
