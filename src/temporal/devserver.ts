import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, dirname, join } from 'node:path';

export interface DevServer {
  address: string;
  uiUrl: string;
  stop(): Promise<void>;
}

/** TEMPORAL_CLI_PATH (`npm start` sets it after `npm run tools`), else `temporal` on PATH. */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.TEMPORAL_CLI_PATH) return env.TEMPORAL_CLI_PATH;
  return (env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'temporal')).find((file) => existsSync(file));
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), done(true)));
    socket.once('error', () => done(false));
  });
}

/**
 * Starts `temporal server start-dev` persisted to a SQLite file, so in-flight deploys survive a
 * restart of the whole stack, with the Web UI on `uiPort`.
 */
export async function startDevServer(options: { cli: string; dbFile: string; port?: number; uiPort?: number; searchAttributes?: Record<string, string> }): Promise<DevServer> {
  const port = options.port ?? 7233;
  const uiPort = options.uiPort ?? 8233;
  if (await portOpen(port)) throw new Error(`port ${port} is in use: another Temporal server? Set TEMPORAL_ADDRESS to use it instead.`);
  mkdirSync(dirname(options.dbFile), { recursive: true });
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort), '--db-filename', options.dbFile, '--log-level', 'warn'];
  for (const [name, type] of Object.entries(options.searchAttributes ?? {})) args.push('--search-attribute', `${name}=${type}`);
  const child: ChildProcess = spawn(options.cli, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  for (let waited = 0; !(await portOpen(port)); waited += 200) {
    if (child.exitCode !== null || waited > 60_000) {
      child.kill('SIGKILL');
      throw new Error(`temporal server start-dev did not come up on port ${port} (exit code ${child.exitCode})`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    address: `127.0.0.1:${port}`,
    uiUrl: `http://localhost:${uiPort}`,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
