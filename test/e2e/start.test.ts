import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../../harness/ports';
import { startStack, type Stack } from '../../harness/stack';

/**
 * `npm start`'s program (dist/main.js) on the embedded dev server: the Web UI, the relay and the
 * worker come up in one process, and Ctrl-C (SIGINT to the process group) drains the worker and
 * stops the dev server after it.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack(); // only its config, registry and stand-ins are used here
}, 120_000);
afterAll(() => stack?.stop());

const portOpen = (port: number) =>
  new Promise<boolean>((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), done(true)));
    socket.once('error', () => done(false));
  });

test('the local stack starts with UI, relay and worker, and Ctrl-C stops all three cleanly', async () => {
  const [temporalPort, uiPort, relayPort] = [await freePort(), await freePort(), await freePort()];
  const dataDir = mkdtempSync(join(tmpdir(), 'gitops-start-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GITHUB_WEBHOOK_SECRET: 'start-test-secret',
    GITHUB_TOKEN: 'ghs_test_github_token',
    ARGOCD_TOKEN: 'argocd-test-token',
  };
  delete env.TEMPORAL_ADDRESS;
  const args = [
    resolve(__dirname, '../../dist/main.js'),
    '--config',
    stack.configPath,
    '--data-dir',
    dataDir,
    '--temporal-port',
    String(temporalPort),
    '--ui-port',
    String(uiPort),
    '--relay-port',
    String(relayPort),
    // npm start serves metrics and health on fixed local ports by default; tests run side by side.
    '--metrics-address',
    'off',
    '--health-address',
    'off',
  ];
  // Its own process group, like a terminal's foreground job, so the SIGINT reaches the group.
  const child = spawn(process.execPath, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  try {
    for (let i = 0; i < 600 && !output.includes('Worker:'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(output).toContain(`Temporal Web UI:  http://localhost:${uiPort}/namespaces/default/workflows`);
    expect(output).toContain(`Webhook relay:    http://localhost:${relayPort}/webhooks/github`);

    const health = await fetch(`http://127.0.0.1:${relayPort}/healthz`);
    expect(health.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${uiPort}/`)).status).toBe(200);

    process.kill(-child.pid!, 'SIGINT');
    expect(await exited).toBe(0);
    expect(output).toMatch(/"msg":"Worker state changed".*"state":"STOPPED"/);
    expect(await portOpen(temporalPort)).toBe(false);
    expect(await portOpen(relayPort)).toBe(false);
    expect(output).not.toContain('start-test-secret');
  } finally {
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});
