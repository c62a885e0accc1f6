// `npm run sandbox` as a newcomer uses it: the sandbox program and `sandbox:merge` as child
// processes, on free ports and a temporary data dir, so a developer's own sandbox is untouched.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { readState, statePath, type MergeResult, type SandboxState } from '../sandbox/state';
import type { DeployStatus } from '../src/contract/deploy';
import { environmentWorkflowId } from '../src/contract/ids';
import { git } from '../harness/origin';
import { freePort } from '../harness/ports';

const ROOT = resolve(__dirname, '..');
let dir: string;
let env: NodeJS.ProcessEnv;
let sandbox: ChildProcess;
let exited: Promise<number | null>;
let output = '';
let state: SandboxState;
let connection: Connection | undefined;
let client: Client;

function run(
  args: string[],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      args,
      { cwd: ROOT, env: { ...env, ...extraEnv }, timeout: 60_000 },
      (err, stdout, stderr) => {
        done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

async function merge(...flags: string[]): Promise<MergeResult> {
  const { code, stdout, stderr } = await run(['--import', 'tsx', 'sandbox/merge.ts', ...flags, '--json']);
  if (code !== 0)
    throw new Error(
      `sandbox:merge ${flags.join(' ')} exited ${code}:\n${stdout}${stderr}\n--- sandbox ---\n${output.slice(-3000)}`,
    );
  return JSON.parse(stdout) as MergeResult;
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms: number): Promise<T> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    const value = await probe();
    if (value !== undefined) return value;
  }
  throw new Error(`timed out after ${ms / 1000}s waiting for ${what}\n--- sandbox ---\n${output.slice(-4000)}`);
}

/**
 * The deploy's result, bounded so a stuck deploy fails the test with the sandbox's log. The relay
 * only asks the environment, which starts the deploy a moment after the webhook was answered.
 */
async function deployResult(workflowId: string): Promise<DeployStatus> {
  const handle = client.workflow.getHandle(workflowId);
  await until(
    `${workflowId} to be started by its environment`,
    () =>
      handle.describe().then(
        () => true,
        () => undefined,
      ),
    10_000,
  );
  const result = handle.result() as Promise<DeployStatus>;
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`${workflowId} did not end within 60s\n${output.slice(-4000)}`)), 60_000).unref(),
  );
  return Promise.race([result, timeout]);
}

const portOpen = (address: string) =>
  new Promise<boolean>((done) => {
    const [host, port] = address.split(':') as [string, string];
    const socket = connect({ host, port: Number(port) });
    socket.once('connect', () => (socket.destroy(), done(true))).once('error', () => done(false));
  });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gitops-sandbox-'));
  env = {
    ...process.env,
    SANDBOX_DATA_DIR: dir,
    SANDBOX_TEMPORAL_PORT: String(await freePort()),
    SANDBOX_UI_PORT: String(await freePort()),
    SANDBOX_RELAY_PORT: String(await freePort()),
    SANDBOX_CONTROL_PORT: String(await freePort()),
  };
  // Its own process group, so a failed test can still take down the dev server and registry with it.
  sandbox = spawn(process.execPath, ['--import', 'tsx', 'sandbox/main.ts'], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  sandbox.stdout!.on('data', (d) => (output += d));
  sandbox.stderr!.on('data', (d) => (output += d));
  exited = new Promise((done) => sandbox.once('exit', (code) => done(code)));
  await until(
    'the sandbox to be ready',
    () => {
      if (sandbox.exitCode !== null)
        throw new Error(`the sandbox exited ${sandbox.exitCode} during startup:\n${output}`);
      return output.includes('Ctrl-C stops everything') ? true : undefined;
    },
    100_000,
  );
  state = readState(dir)!;
  connection = await Connection.connect({ address: state.temporalAddress });
  client = new Client({ connection, namespace: state.namespace });
}, 120_000);

afterAll(async () => {
  await connection?.close();
  if (sandbox && sandbox.exitCode === null && sandbox.signalCode === null) {
    process.kill(-sandbox.pid!, 'SIGKILL');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('npm run sandbox', () => {
  test('prints the Web UI, the relay and how to merge, on the ports it was given', () => {
    expect(output).toContain(`Temporal Web UI  http://localhost:${env.SANDBOX_UI_PORT}/namespaces/default/workflows`);
    expect(output).toContain(`http://127.0.0.1:${env.SANDBOX_RELAY_PORT}/webhooks/github`);
    expect(output).toContain('npm run sandbox:merge -- --code');
    expect(state).toMatchObject({
      temporalAddress: `127.0.0.1:${env.SANDBOX_TEMPORAL_PORT}`,
      controlUrl: `http://127.0.0.1:${env.SANDBOX_CONTROL_PORT}`,
    });
  });

  test('a code merge goes through CI and the signed webhooks to a succeeded deploy with one [skip ci] overlay commit', async () => {
    const merged = await merge('--code', '--ci-seconds', '1');
    expect(merged).toMatchObject({
      kind: 'code',
      files: ['services/api/main.py'],
      push: { status: 202, body: { requested: true, workflowId: merged.workflowId } },
      ci: { conclusion: 'success', seconds: 1 },
    });

    const result = await deployResult(merged.workflowId);
    expect(result).toMatchObject({
      phase: 'succeeded',
      path: 'code',
      tag: `sha-${merged.sha.slice(0, 7)}`,
      ciRun: { id: merged.ci!.runId, conclusion: 'success' },
    });
    expect(await git(state.originDir, ['rev-list', '--count', `${merged.sha}..main`])).toBe('1\n');
    const [overlay, subject] = (await git(state.originDir, ['log', '-1', '--format=%H%x1f%s', 'main']))
      .trim()
      .split('\x1f');
    expect(overlay).toBe(result.overlayCommit);
    expect(subject).toMatch(/\[skip ci\]$/);
    // GitHub sends a push for the deployer's own commit too; the relay must let it be.
    await until(
      'the relay to ignore the overlay push',
      () => (output.includes(`ignored: the deployer's own overlay commit ${overlay!.slice(0, 7)}`) ? true : undefined),
      10_000,
    );

    // The command `sandbox:merge` prints to watch it works against the sandbox as printed.
    const status = await run(
      ['dist/cli/deployctl.js', '--config', state.configPath, 'status', merged.sha.slice(0, 7)],
      { TEMPORAL_ADDRESS: state.temporalAddress },
    );
    expect(status).toMatchObject({ code: 0 });
    expect(status.stdout).toMatch(/phase\s+succeeded/);
  });

  test('a docs merge ends skipped without touching the overlay', async () => {
    const merged = await merge('--docs');
    expect(merged.ci).toBeUndefined();
    expect(await deployResult(merged.workflowId)).toMatchObject({ phase: 'skipped', path: 'none' });
    expect((await git(state.originDir, ['rev-parse', 'main'])).trim()).toBe(merged.sha);
  });

  test("a push to a pull request opens it and deploys its preview; the deployer's own push comes back and starts nothing", async () => {
    const pushed = await merge('--pr', '3', '--code', '--ci-seconds', '1');
    expect(pushed).toMatchObject({
      pr: 3,
      branch: 'sandbox/pr-3',
      push: {
        status: 202,
        body: {
          forwarded: true,
          workflowId: environmentWorkflowId(state.repository, { kind: 'preview', pr: 3 }),
          deployWorkflowId: pushed.workflowId,
        },
      },
      ci: { conclusion: 'success', tag: `pr-3-${pushed.sha.slice(0, 7)}` },
    });
    // The PR's environment starts the deploy a moment after the webhook (deployResult waits for it).
    const result = await deployResult(pushed.workflowId);
    expect(result).toMatchObject({ phase: 'succeeded', pr: 3, rule: 'ci', tag: `pr-3-${pushed.sha.slice(0, 7)}` });
    expect((await git(state.originDir, ['rev-parse', 'refs/heads/sandbox/pr-3'])).trim()).toBe(result.overlayCommit);
    // GitHub's synchronize for the overlay push reaches the PR's workflow, which recognises its own commit.
    await until(
      'the own push to be ignored',
      () =>
        output.includes(`#3 head ${result.overlayCommit!.slice(0, 7)} -> pull_request synchronize`) ? true : undefined,
      10_000,
    );
    const status = await run(['dist/cli/deployctl.js', '--config', state.configPath, 'status', '--pr', '3'], {
      TEMPORAL_ADDRESS: state.temporalAddress,
    });
    expect(status.stdout).toMatch(/runs\s+pr-3-\w{7} \(rule ci/);
    await until(
      'the ignored outcome',
      async () => {
        const again = await run(
          ['dist/cli/deployctl.js', '--config', state.configPath, '--json', 'status', '--pr', '3'],
          { TEMPORAL_ADDRESS: state.temporalAddress },
        );
        return (JSON.parse(again.stdout) as { outcomes: Array<{ kind: string }> }).outcomes.some(
          (o) => o.kind === 'ignored',
        )
          ? true
          : undefined;
      },
      10_000,
    );
  });

  test('Ctrl-C stops everything and exits 0', async () => {
    await connection!.close();
    connection = undefined;
    sandbox.kill('SIGINT');
    const timeout = new Promise<string>((done) => setTimeout(() => done('still running after 30s'), 30_000).unref());
    expect(await Promise.race([exited, timeout])).toBe(0);
    expect(output).toContain('sandbox: stopped.');
    expect(existsSync(statePath(dir))).toBe(false);
    expect(await portOpen(state.temporalAddress)).toBe(false);
  }, 40_000);
});
