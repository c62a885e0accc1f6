import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@temporalio/common';
import { formatListenAddress, ListenError, type ListenAddress } from './address';

/** The answer of `/readyz`: ready, or why not, in words a person reading a probe failure understands. */
export type Readiness = { ready: true; detail?: Record<string, unknown> } | { ready: false; reason: string };

/**
 * Whether the worker should get traffic (Kubernetes routes none, but a rollout waits for it): the
 * worker polls its task queue (state RUNNING) and a cheap call to Temporal on the worker's own
 * connection answered recently. The call runs in the background, so a probe never waits on Temporal.
 */
export class WorkerReadiness {
  private phase: 'connecting' | 'running' | 'stopping' = 'connecting';
  private workerState?: () => string;
  private lastOk?: number;
  private lastProblem?: string;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly options: {
      /** How often Temporal is asked. */
      intervalMs?: number;
      /** How long one question may take. */
      timeoutMs?: number;
      /** A success older than this no longer counts (the questions stopped being answered or asked). */
      maxAgeMs?: number;
      now?: () => number;
    } = {},
  ) {}

  private get now() {
    return this.options.now?.() ?? Date.now();
  }

  /** Connected: from now on, readiness follows the worker's state and `probe` (rejects when Temporal does not answer). */
  watch(workerState: () => string, probe: (deadline: number) => Promise<unknown>): void {
    if (this.phase === 'stopping') return;
    this.phase = 'running';
    this.workerState = workerState;
    const intervalMs = this.options.intervalMs ?? 3_000;
    const timeoutMs = this.options.timeoutMs ?? 2_000;
    let inFlight = false;
    const ask = async () => {
      if (inFlight) return;
      inFlight = true;
      let timer: NodeJS.Timeout | undefined;
      // The deadline goes to the call, and is enforced here too: a native call that waits on a
      // reconnect can outlive its own deadline, and readiness must not wait with it.
      const timeout = new Promise<never>((_, fail) => {
        timer = setTimeout(() => fail(new Error(`no answer within ${timeoutMs / 1000}s`)), timeoutMs);
      });
      try {
        await Promise.race([probe(this.now + timeoutMs), timeout]);
        this.lastOk = this.now;
        this.lastProblem = undefined;
      } catch (err) {
        this.lastOk = undefined;
        this.lastProblem = (err as Error)?.message?.split('\n')[0] || String(err);
      } finally {
        clearTimeout(timer);
        inFlight = false;
      }
    };
    void ask();
    this.timer = setInterval(() => void ask(), intervalMs);
    this.timer.unref();
  }

  /** SIGTERM: not ready at once, so no rollout counts on a pod that is leaving. */
  stopping(): void {
    this.phase = 'stopping';
    if (this.timer) clearInterval(this.timer);
  }

  check(): Readiness {
    if (this.phase === 'connecting') return { ready: false, reason: 'connecting to Temporal' };
    if (this.phase === 'stopping') return { ready: false, reason: 'shutting down: draining in-flight steps' };
    const state = this.workerState?.() ?? 'unknown';
    if (state !== 'RUNNING') return { ready: false, reason: `worker ${state.toLowerCase()}, not polling` };
    if (this.lastOk === undefined)
      return {
        ready: false,
        reason: this.lastProblem
          ? `Temporal unreachable: ${this.lastProblem}`
          : 'waiting for the first answer of Temporal',
      };
    const maxAgeMs =
      this.options.maxAgeMs ?? 3 * (this.options.intervalMs ?? 3_000) + (this.options.timeoutMs ?? 2_000);
    const ageMs = this.now - this.lastOk;
    if (ageMs > maxAgeMs) return { ready: false, reason: `Temporal has not answered for ${Math.round(ageMs / 1000)}s` };
    return { ready: true, detail: { worker: state, temporalAnsweredSecondsAgo: Math.round(ageMs / 100) / 10 } };
  }
}

export interface HealthServer {
  /** `http://host:port`, the port the system chose when asked for 0. */
  url: string;
  close(): Promise<void>;
}

function answer(res: ServerResponse, status: number, body: Record<string, unknown>, head: boolean) {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(head ? undefined : text);
}

/**
 * `/healthz`: 200 while the process serves (liveness: a Temporal outage must not restart pods).
 * `/readyz`: 200 when `readiness()` says so, else 503 with the reason.
 */
export async function startHealthServer(
  address: ListenAddress,
  readiness: () => Readiness,
  logger?: Logger,
): Promise<HealthServer> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) return answer(res, 405, { error: 'use GET' }, head);
    if (path === '/healthz') return answer(res, 200, { status: 'ok' }, head);
    if (path === '/readyz') {
      const now = readiness();
      return now.ready
        ? answer(res, 200, { status: 'ready', ...now.detail }, head)
        : answer(res, 503, { status: 'not ready', reason: now.reason }, head);
    }
    answer(res, 404, { error: 'not found: GET /healthz or /readyz' }, head);
  });
  // A probe every few seconds should not hold sockets open past the shutdown.
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((listening, fail) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      fail(new ListenError('the health server', address, err.code ?? err.message, '--health-address (HEALTH_ADDRESS)')),
    );
    server.listen(address.port, address.host, () => listening());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${formatListenAddress({ host: address.host, port })}`;
  logger?.info('health endpoints listening', { url, liveness: `${url}/healthz`, readiness: `${url}/readyz` });
  return {
    url,
    close: () =>
      new Promise<void>((closed) => {
        server.close(() => closed());
        server.closeAllConnections();
      }),
  };
}
