// Temporal going away and coming back, on real parts: the dev server (stopped and started again on
// the same port and SQLite file), and the relay's and the worker's real entry points as processes.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { stringify } from 'yaml';
import { deployWorkflowId } from '../../src/contract/ids';
import { SEARCH_ATTRIBUTES } from '../../src/contract/search-attributes';
import { startDevServer, type DevServer } from '../../src/temporal/devserver';
import { deliver, pushPayload, randomSha, SECRET, type Delivered } from '../../harness/standins/github-webhooks';
import { freePort } from '../../harness/ports';

const FULL = 'yt-summarizer-org/yt-summarizer';
const dir = mkdtempSync(join(tmpdir(), 'temporal-outage-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The relay and the worker read nothing but Temporal at start; the other endpoints are never called here. */
function writeConfig(name: string, temporal: Record<string, unknown> = {}): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    stringify({
      repository: { owner: 'yt-summarizer-org', name: 'yt-summarizer' },
      ci: { workflow: 'ci.yml' },
      registry: { endpoint: 'https://127.0.0.1:9' }, // never called: a closed port, not a placeholder
      images: [{ name: 'yt-summarizer-api', repository: 'yt-summarizer-api' }],
      argocd: { server: 'https://127.0.0.1:9', application: 'yt-summarizer-prod' },
      git: { cacheDir: join(dir, 'cache') },
      temporal: { taskQueue: 'temporal-outage', ...temporal },
    }),
  );
  return path;
}

interface Child {
  exit: Promise<number | null>;
  output(): string;
  stop(): Promise<void>;
}

function run(entry: 'relay' | 'worker', args: string[], env: Record<string, string>): Child {
  const child = spawn(process.execPath, [resolve(__dirname, `../../dist/${entry}/main.js`), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exit = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return {
    exit,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exit;
    },
  };
}

/** Polls every 50 ms; fails after 30 s naming what it waited for. */
async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = Date.now();
  const value = await work();
  return [value, Date.now() - started];
}

const push = (after = randomSha()) => pushPayload({ repository: FULL, before: randomSha(), after });
const deployId = (commit: string) => deployWorkflowId(FULL, { kind: 'production', name: 'production' }, commit);

async function withClient<T>(address: string, use: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address });
  try {
    return await use(new Client({ connection }));
  } finally {
    await connection.close();
  }
}

/** The commits env-production was asked to deploy by the relay's deployRequested signals, in order. */
async function requestedCommits(client: Client): Promise<string[]> {
  const events = (await client.workflow.getHandle('env-production').fetchHistory()).events ?? [];
  return events
    .map((e) => e.workflowExecutionSignaledEventAttributes)
    .filter((a) => a?.signalName === 'deployRequested')
    .map((a) => JSON.parse(Buffer.from(a!.input!.payloads![0]!.data!).toString('utf8')).commit as string);
}

describe('Temporal outage: the relay process answers 503 at once while Temporal is down and recovers at once', () => {
  const cli = process.env.TEMPORAL_CLI_PATH!;
  const dbFile = join(dir, 'temporal.db');
  let port: number;
  let server: DevServer | undefined;
  let relay: Child | undefined;
  let url: string;

  // Same port and SQLite file each time: Temporal comes back where the relay is pointed, with its state.
  const startTemporal = async () =>
    (server = await startDevServer({ cli, dbFile, port, searchAttributes: SEARCH_ATTRIBUTES, logLevel: 'error' }));

  beforeAll(async () => {
    port = await freePort();
    await startTemporal();
    const relayPort = await freePort();
    relay = run('relay', ['--config', writeConfig('relay.yaml'), '--port', String(relayPort), '--host', '127.0.0.1'], {
      TEMPORAL_ADDRESS: server!.address,
      GITHUB_WEBHOOK_SECRET: SECRET,
    });
    url = `http://127.0.0.1:${relayPort}`;
    await until('the relay to listen', async () => relay!.output().includes(`${url}/webhooks/github`) || undefined);
  }, 120_000);
  afterAll(async () => {
    await relay?.stop();
    await server?.stop();
  });

  test('503 within 2 s from the first delivery after Temporal stops, /healthz 503; then 200 and 202 within 2 s of its return', async () => {
    const before = randomSha();
    // Signal-with-start of env-production, durable at once with no worker running (none runs here).
    expect(await deliver(url, 'push', push(before))).toEqual({
      status: 202,
      body: { requested: true, workflowId: deployId(before) },
    });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const { runId } = await withClient(server!.address, async (client) => {
      expect(await requestedCommits(client)).toEqual([before]);
      return client.workflow.getHandle('env-production').describe();
    });

    await server!.stop();
    // The first delivery after the stop, whether or not the background probe noticed already.
    const [first, firstMs] = await timed(() => deliver(url, 'push', push()));
    expect(first).toMatchObject({
      status: 503,
      body: { error: expect.stringMatching(/^Temporal is unreachable, redeliver later: /) },
    });
    expect(firstMs).toBeLessThan(2_000); // GitHub gives up on a delivery after 10 s; it used to take 8-10 s

    // Down for a while, as in a real restart: grpc-js' reconnect backoff used to grow to several seconds by then, so
    // the relay went on answering 503 for seconds after Temporal was back. Meanwhile every delivery and probe answers at once.
    const outageEnds = Date.now() + 20_000;
    while (Date.now() < outageEnds) {
      const [reply, ms] = await timed(() => deliver(url, 'push', push()));
      expect([reply.status, ms < 2_000]).toEqual([503, true]);
      const [health, healthMs] = await timed(() =>
        fetch(`${url}/healthz`).then(async (res) => [res.status, await res.json()] as const),
      );
      expect([health, healthMs < 2_000]).toEqual([[503, { temporal: 'unreachable', error: expect.any(String) }], true]);
      await new Promise((r) => setTimeout(r, 500));
    }
    // Deliveries that need no Temporal are still answered as usual.
    expect(await deliver(url, 'ping', { zen: 'Approachable is better than simple.' })).toEqual({
      status: 200,
      body: { pong: true },
    });
    expect((await deliver(url, 'push', push(), { signature: null })).status).toBe(401);

    await startTemporal(); // resolves once the server answers
    const back = Date.now();
    await until('/healthz 200', async () => (await fetch(`${url}/healthz`)).status === 200 || undefined);
    const after = randomSha();
    const accepted = await until<Delivered>('a delivery accepted', async () => {
      const reply = await deliver(url, 'push', push(after));
      return reply.status === 202 ? reply : undefined;
    });
    expect(Date.now() - back).toBeLessThan(2_000); // it used to stay 503 for up to 13 s more
    expect(accepted.body).toEqual({ requested: true, workflowId: deployId(after) });

    // The same state came back: the run of env-production from before the outage still holds the request
    // made before it, then the one after it; none of the deliveries answered 503 during the outage reached it.
    await withClient(server!.address, async (client) => {
      const described = await client.workflow.getHandle('env-production').describe();
      expect({ runId: described.runId, status: described.status.name }).toEqual({ runId, status: 'RUNNING' });
      // (`after` may land twice: a delivery answered 503 for want of an answer in time may still have landed.)
      expect([...new Set(await requestedCommits(client))]).toEqual([before, after]);
    });
    expect(relay!.output()).toMatch(/Temporal unreachable .*deliveries get 503 until it answers/);
    expect(relay!.output()).toMatch(/Temporal answers again after [\d.]+s: deliveries are accepted/);
  }, 120_000);
});

describe('started while Temporal is unreachable: the entry points name the address and TEMPORAL_ADDRESS, exit 1', () => {
  // Concurrent: each waits out its 10 s connect budget.
  test.concurrent.each<[string, 'relay' | 'worker', Record<string, unknown>]>([
    ['the worker (search-attribute registration first)', 'worker', {}],
    ['the worker without search attributes (the worker connection itself)', 'worker', { searchAttributes: false }],
    ['the relay', 'relay', {}],
  ])(
    '%s',
    async (name, entry, temporal) => {
      const closed = `127.0.0.1:${await freePort()}`; // nothing listens there
      const config = writeConfig(`${name.replace(/\W+/g, '-')}.yaml`, temporal);
      const child = run(entry, ['--config', config, ...(entry === 'relay' ? ['--port', '0'] : [])], {
        TEMPORAL_ADDRESS: closed,
        GITHUB_WEBHOOK_SECRET: SECRET,
        // Past the start checks (secrets present), so the failure is the connection's.
        GITHUB_TOKEN: 'ghs_outage_test_token',
        ARGOCD_TOKEN: 'argocd-outage-test-token',
      });
      expect(await child.exit).toBe(1);
      expect(child.output()).toMatch(
        new RegExp(
          `(^|\n)${entry} failed: cannot reach Temporal at ${closed.replace(/\./g, '\\.')} within 10s \\((connect ECONNREFUSED ${closed.replace(/\./g, '\\.')}|tcp connect error: Connection refused)\\); set TEMPORAL_ADDRESS\\n$`,
        ),
      );
    },
    30_000,
  );
});
