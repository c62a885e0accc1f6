// Stand-in for a notification sink (a Slack incoming webhook, a CloudEvents receiver): records every
// request, answers as scripted, and can go down for good (connections refused, as a removed host).
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface SinkRequest {
  method: string;
  /** Path and query as received. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The body parsed as JSON; `undefined` when it is not JSON (see `text`). */
  body: unknown;
  text: string;
  /** What the stand-in answered. */
  status: number;
  /** The Idempotency-Key header ('' when absent). */
  key: string;
}

/** A scripted answer: a status, or a status with headers and a body (Slack answers plain text). */
export type SinkAnswer = number | { status: number; headers?: Record<string, string>; body?: string };

export interface SinkStandInOptions {
  /** Only this path is the webhook (default: any); others answer 404 `no_service`, as Slack does. */
  path?: string;
}

export interface SinkStandIn {
  /** The webhook's URL (with the path, when one was given). */
  url: string;
  /** host:port */
  host: string;
  requests: SinkRequest[];
  /** The next requests get these answers, in order; after them, 200 `ok`. */
  answer(answers: SinkAnswer[]): void;
  /** Closes the listener and every connection: from now on connections are refused. */
  down(): Promise<void>;
  /** The requests answered 2xx, by Idempotency-Key. */
  accepted(): Record<string, SinkRequest[]>;
  stop(): Promise<void>;
}

export async function startSinkStandIn(opts: SinkStandInOptions = {}): Promise<SinkStandIn> {
  const requests: SinkRequest[] = [];
  const script: SinkAnswer[] = [];
  const sockets = new Set<Socket>();
  let closed = false;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      const path = req.url ?? '/';
      const scripted = script.shift();
      const answer: Exclude<SinkAnswer, number> =
        opts.path !== undefined && path !== opts.path
          ? { status: 404, body: 'no_service' }
          : scripted === undefined
            ? body === undefined
              ? { status: 400, body: 'invalid_payload' }
              : { status: 200, body: 'ok' }
            : typeof scripted === 'number'
              ? { status: scripted, body: scripted < 300 ? 'ok' : `HTTP ${scripted}` }
              : scripted;
      const key = req.headers['idempotency-key'];
      requests.push({
        method: req.method ?? 'GET',
        path,
        headers: req.headers,
        body,
        text,
        status: answer.status,
        key: typeof key === 'string' ? key : '',
      });
      res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
      res.end(answer.body ?? '');
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function down(): Promise<void> {
    if (closed) return;
    closed = true;
    const done = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await done;
  }

  return {
    url: `http://${host}${opts.path ?? '/'}`,
    host,
    requests,
    answer: (answers) => void script.push(...answers),
    down,
    accepted: () => {
      const byKey: Record<string, SinkRequest[]> = {};
      for (const r of requests.filter((r) => r.status >= 200 && r.status < 300)) (byKey[r.key] ??= []).push(r);
      return byKey;
    },
    stop: down,
  };
}
