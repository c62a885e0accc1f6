import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevServer as startProductDevServer, type DevServer } from '../src/temporal/devserver';
import { freePort } from './ports';

export type { DevServer };

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
 * The product's own dev-server launcher, headless on a free port with a fresh SQLite file
 * (or `dbFile`, to test restarts against the same state).
 */
export async function startDevServer(
  opts: { searchAttributes?: Record<string, string>; dbFile?: string; port?: number } = {},
): Promise<DevServer> {
  // tmpfs where there is one: the dev server syncs SQLite on every write, and on a disk that is
  // most of a test's time. A restart test passes its own dbFile, which survives the server.
  const tmp = opts.dbFile
    ? undefined
    : mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'temporal-dev-'));
  const server = await startProductDevServer({
    cli: env('TEMPORAL_CLI_PATH'),
    dbFile: opts.dbFile ?? join(tmp!, 'temporal.db'),
    port: opts.port ?? (await freePort()),
    searchAttributes: opts.searchAttributes,
    logLevel: 'error',
  });
  return {
    ...server,
    async stop() {
      await server.stop();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    },
  };
}
