import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { freePort } from './ports';

export type SearchAttributeType = 'Keyword' | 'Text' | 'Int' | 'Datetime' | 'Bool';

export interface DevServer {
  /** host:port of the frontend gRPC service. */
  address: string;
  /** Always undefined: the server runs --headless (no Web UI) to keep startup lean. */
  uiPort?: number;
  stop(): Promise<void>;
}

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set; run the tests through \`npm test\` (scripts/test.mjs sets it)`);
  return v;
}

/** The time-skipping test server binary, for TestWorkflowEnvironment.createTimeSkipping. */
export function timeSkippingServerPath(): string {
  return env('TEMPORAL_TEST_SERVER_PATH');
}

/**
 * Starts `temporal server start-dev` on free ports with a fresh SQLite file
 * (or `dbFile`, to test restarts against the same state).
 */
export async function startDevServer(
  opts: { searchAttributes?: Record<string, SearchAttributeType>; dbFile?: string } = {},
): Promise<DevServer> {
  const cli = env('TEMPORAL_CLI_PATH');
  const port = await freePort();
  const tmp = opts.dbFile ? undefined : mkdtempSync(join(tmpdir(), 'temporal-dev-'));
  const dbFile = opts.dbFile ?? join(tmp!, 'temporal.db');
  const args = ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port),
    '--db-filename', dbFile, '--log-level', 'error'];
  // --http-port and --metrics-port default to random free ports in CLI 1.9.1, so they are left out.
  for (const [name, type] of Object.entries(opts.searchAttributes ?? {})) {
    args.push('--search-attribute', `${name}=${type}`);
  }
  const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-8000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let dead = false;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => (dead = true));

  const stop = async () => {
    if (!dead) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  };

  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (dead) {
      await stop();
      throw new Error(`temporal dev server exited during startup (${args.join(' ')}):\n${output}`);
    }
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      // connect() only proves the port is open; wait until the frontend and "default" namespace serve.
      await conn.workflowService.describeNamespace({ namespace: 'default' });
      await conn.close();
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`temporal dev server at ${address} not ready after 30s: ${String(err)}\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { address, uiPort: undefined, stop };
}
