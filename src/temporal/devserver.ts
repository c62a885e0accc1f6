import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { Connection } from '@temporalio/client';

export interface DevServerOptions {
  cli: string;
  /** SQLite file: in-flight deploys survive a restart of the whole stack. */
  dbFile: string;
  port: number;
  /** Web UI port; omit for a headless server (tests). */
  uiPort?: number;
  searchAttributes?: Record<string, string>;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Show the server's own output (npm start) or keep it for error messages only (tests). */
  output?: 'inherit' | 'capture';
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  stop(): Promise<void>;
}

/** TEMPORAL_CLI_PATH (`npm start` sets it after `npm run tools`), else `temporal` on PATH. */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.TEMPORAL_CLI_PATH) return env.TEMPORAL_CLI_PATH;
  return (env.PATH ?? '')
    .split(delimiter)
    .map((dir) => join(dir, 'temporal'))
    .find((file) => existsSync(file));
}

/** Starts `temporal server start-dev` and resolves once the default namespace answers. */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  mkdirSync(dirname(options.dbFile), { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--db-filename',
    options.dbFile,
    '--log-level',
    options.logLevel ?? 'warn',
  ];
  args.push(...(options.uiPort === undefined ? ['--headless'] : ['--ui-port', String(options.uiPort)]));
  for (const [name, type] of Object.entries(options.searchAttributes ?? {}))
    args.push('--search-attribute', `${name}=${type}`);
  const capture = options.output !== 'inherit';
  // Its own process group: a Ctrl-C in the terminal must not stop the server before the worker
  // drained; `stop()` ends it last. If this process dies first, take the server with it.
  const child = spawn(options.cli, args, {
    stdio: ['ignore', capture ? 'pipe' : 'inherit', capture ? 'pipe' : 'inherit'],
    detached: true,
  });
  const orphan = () => child.kill('SIGKILL');
  process.once('exit', orphan);
  let output = '';
  const keep = (data: Buffer) => (output = (output + data.toString()).slice(-8000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const alive = () => child.exitCode === null && child.signalCode === null;

  const stop = async () => {
    if (alive()) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    process.removeListener('exit', orphan);
  };

  const address = `127.0.0.1:${options.port}`;
  for (const deadline = Date.now() + 60_000; ;) {
    if (!alive())
      throw new Error(`temporal server start-dev exited during startup (is port ${options.port} in use?):\n${output}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      // connect() only proves the port is open; the namespace answering proves the server serves.
      await connection.workflowService.describeNamespace({ namespace: 'default' }).finally(() => connection.close());
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`temporal dev server at ${address} not ready after 60 s: ${(err as Error).message}\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { address, uiUrl: options.uiPort === undefined ? undefined : `http://localhost:${options.uiPort}`, stop };
}
