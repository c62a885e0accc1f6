import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhooks } from '@octokit/webhooks';
import { isGrpcServiceError, type Client } from '@temporalio/client';
import { signalCiCompleted, startDeploy } from '../client/deploys';
import { closePreview, requestPreview, signalPreviewCi } from '../client/previews';
import type { DeployConfig } from '../config/schema';
import { deployWorkflowId } from '../workflows/definitions';
import { decide, PayloadError, type Decision } from './events';

export const WEBHOOK_PATH = '/webhooks/github';
export const DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024;

export interface RelayOptions {
  client: Client;
  config: DeployConfig;
  /** The webhook secret configured on GitHub (GITHUB_WEBHOOK_SECRET). */
  secret: string;
  /** Default 8787; 0 picks a free port. */
  port?: number;
  /** Default 0.0.0.0: GitHub must reach it. */
  host?: string;
  maxBodyBytes?: number;
  /** Bound on each Temporal call; below GitHub's 10 s delivery timeout so it records a 503, not a timeout. */
  temporalTimeoutMs?: number;
  /** One line per delivery; default console.log. */
  log?: (line: string) => void;
}

export interface Relay {
  /** Base URL; the webhook is `${url}/webhooks/github`. */
  url: string;
  server: Server;
  close(): Promise<void>;
}

type Reply = { status: number; body: Record<string, unknown>; note: string };

// gRPC codes meaning "Temporal could not be asked now": CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE.
const RETRY_LATER = new Set([1, 4, 8, 14]);
const TOO_LARGE = Symbol('too large');

/** The gRPC error (in the cause chain) that says Temporal could not be reached, if that is what happened. */
export function temporalUnreachable(err: unknown): Error | undefined {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (isGrpcServiceError(e) && RETRY_LATER.has(e.code)) return e;
  }
  return undefined;
}

/** Header values reach logs and workflow details: keep them short and printable. */
function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text ? text.replace(/[^\w.:=-]/g, '_').slice(0, 80) : undefined;
}

function send(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Resolves to the body, or TOO_LARGE as soon as it passes `limit` (nothing more is buffered). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | typeof TOO_LARGE> {
  if (Number(req.headers['content-length']) > limit) return Promise.resolve(TOO_LARGE);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.off('data', onData);
      resolve(TOO_LARGE);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
    req.once('close', () => (req.complete ? undefined : reject(new Error('the client closed the request early'))));
  });
}

/**
 * The rest of an oversized body is dropped unread-into-memory, up to one more `limit`, so the
 * client gets to read the 413 instead of a connection reset; past that the connection is cut.
 */
function discardRest(req: IncomingMessage, limit: number): void {
  let dropped = 0;
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > limit) req.socket.destroy();
  });
  req.resume();
}

export async function startRelay(opts: RelayOptions): Promise<Relay> {
  const { client, config } = opts;
  if (!opts.secret) throw new Error('the webhook relay needs a secret (GITHUB_WEBHOOK_SECRET)');
  const webhooks = new Webhooks({ secret: opts.secret });
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const temporalTimeoutMs = opts.temporalTimeoutMs ?? 8_000;
  const log = opts.log ?? ((line: string) => console.log(line));
  const repository = `${config.repository.owner}/${config.repository.name}`;

  const temporal = <T>(call: () => Promise<T>) => client.withDeadline(Date.now() + temporalTimeoutMs, call);

  async function verified(body: string, signature: string): Promise<boolean> {
    try {
      return await webhooks.verify(body, signature);
    } catch {
      return false; // an empty body or signature: not a signed delivery
    }
  }

  /** Everything after the body is read: authenticate, parse, decide, act. */
  async function delivery(req: IncomingMessage, raw: Buffer, id: string): Promise<Reply> {
    const signature = headerValue(req, 'x-hub-signature-256');
    if (!signature) return { status: 401, body: { error: 'missing X-Hub-Signature-256: configure the webhook secret on GitHub' }, note: 'rejected: unsigned' };
    if (!(await verified(raw.toString('utf8'), req.headers['x-hub-signature-256'] as string))) {
      return { status: 401, body: { error: 'X-Hub-Signature-256 does not match this body and the configured secret' }, note: 'rejected: bad signature' };
    }
    const event = headerValue(req, 'x-github-event');
    if (!event) return { status: 400, body: { error: 'missing X-GitHub-Event header' }, note: 'rejected: no event name' };
    if (/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')) {
      return { status: 415, body: { error: 'set the webhook content type to application/json' }, note: 'rejected: form-encoded' };
    }
    let payload: unknown;
    try {
      payload = JSON.parse(raw.toString('utf8'));
    } catch {
      return { status: 400, body: { error: 'the body is not valid JSON' }, note: 'rejected: malformed JSON' };
    }
    let decision: Decision;
    try {
      decision = decide(event, payload, config);
    } catch (err) {
      if (!(err instanceof PayloadError)) throw err;
      return { status: 400, body: { error: err.message, field: err.field }, note: `rejected: ${err.field} malformed` };
    }
    return act(decision, id);
  }

  async function act(decision: Decision, id: string): Promise<Reply> {
    switch (decision.kind) {
      case 'pong':
        return { status: 200, body: { pong: true }, note: 'pong' };
      case 'ignore':
        return { status: 202, body: { ignored: true, reason: decision.reason }, note: `ignored: ${decision.reason}` };
      case 'start': {
        const { started, workflowId } = await temporal(() => startDeploy(client, config, { commit: decision.commit, before: decision.before, requestedBy: `github push ${id}` }));
        return { status: 202, body: { started, workflowId }, note: `${started ? 'started' : 'already started'} ${workflowId}` };
      }
      case 'signal': {
        const { run } = decision;
        const signalled = await temporal(() => signalCiCompleted(client, config, run));
        const workflowId = deployWorkflowId(repository, run.headSha);
        // false: no deploy of that commit is running (docs-only merge, or it finished): nothing to do.
        return { status: 202, body: { signalled, workflowId }, note: `CI run ${run.id} ${run.conclusion}: ${signalled ? `signalled ${workflowId}` : `no deploy of ${run.headSha.slice(0, 7)} is running`}` };
      }
      case 'preview': {
        const { pr, commit, before } = decision;
        const requested = await temporal(() => requestPreview(client, config, pr, { commit, before, requestedBy: `github pull_request ${id}` }));
        return { status: 202, body: { forwarded: true, ...requested }, note: `preview of #${pr} at ${commit.slice(0, 7)} forwarded to ${requested.workflowId}` };
      }
      case 'preview-closed': {
        const { pr, merged } = decision;
        const closed = await temporal(() => closePreview(client, config, pr, { by: `github pull_request ${id}`, merged }));
        return { status: 202, body: { closed }, note: closed ? `#${pr} ${merged ? 'merged' : 'closed'}: its preview ends` : `#${pr} closed: it had no preview` };
      }
      case 'preview-ci': {
        const { run, pullRequests } = decision;
        const signalled = await temporal(() => Promise.all(pullRequests.map((pr) => signalPreviewCi(client, config, pr, run))));
        const hits = pullRequests.filter((_, i) => signalled[i]);
        return { status: 202, body: { signalled: hits }, note: `CI run ${run.id} ${run.conclusion} for ${run.headSha.slice(0, 7)}: ${hits.length ? `signalled the preview of #${hits.join(', #')}` : 'no preview deploy of it is running'}` };
      }
    }
  }

  async function webhook(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const id = headerValue(req, 'x-github-delivery') ?? 'unknown';
    const event = headerValue(req, 'x-github-event') ?? '-';
    let reply: Reply;
    const raw = await readBody(req, maxBodyBytes);
    if (raw === TOO_LARGE) {
      reply = { status: 413, body: { error: `the body exceeds ${maxBodyBytes} bytes` }, note: 'rejected: body too large' };
      discardRest(req, maxBodyBytes);
    } else {
      try {
        reply = await delivery(req, raw, id);
      } catch (err) {
        // 5xx: GitHub records a failed delivery that can be redelivered once Temporal is back.
        const down = temporalUnreachable(err);
        reply = down
          ? { status: 503, body: { error: `Temporal is unreachable, redeliver later: ${down.message}` }, note: `failed, Temporal unreachable: ${down.message}` }
          : { status: 500, body: { error: 'internal error' }, note: `failed: ${(err as Error).message}` };
      }
    }
    send(res, reply.status, reply.body);
    // Notes may quote payload fields (a ref, a workflow name): one line, whatever they hold.
    log(`relay: ${event} delivery ${id} -> ${reply.status} ${reply.note.replace(/[\x00-\x1f\x7f]+/g, ' ')}`);
  }

  async function health(res: ServerResponse): Promise<void> {
    try {
      // The frontend answering a cheap call is what a start or signal needs.
      await client.withDeadline(Date.now() + 3_000, () => client.workflowService.getSystemInfo({}));
      send(res, 200, { temporal: 'ok' });
    } catch (err) {
      send(res, 503, { temporal: 'unreachable', error: (err as Error).message });
    }
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://relay').pathname;
    const route =
      path === WEBHOOK_PATH ? (req.method === 'POST' ? webhook(req, res) : notAllowed(res, 'POST'))
      : path === '/healthz' ? (req.method === 'GET' ? health(res) : notAllowed(res, 'GET'))
      : send(res, 404, { error: `not found; the webhook is POST ${WEBHOOK_PATH}` });
    Promise.resolve(route).catch((err: unknown) => {
      log(`relay: ${req.method} ${path} failed: ${(err as Error).message}`);
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  // Bound slow or stalled clients; a real delivery is small and quick.
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8787, opts.host ?? '0.0.0.0', () => (server.off('error', reject), resolve()));
  });
  const { address, port } = server.address() as AddressInfo;
  const shown = address === '0.0.0.0' || address === '::' ? 'localhost' : address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${shown}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        // In-flight deliveries finish (each bounded by temporalTimeoutMs); idle keep-alives close now.
        const force = setTimeout(() => server.closeAllConnections(), temporalTimeoutMs + 2_000).unref();
        server.close((err) => (clearTimeout(force), err ? reject(err) : resolve()));
        server.closeIdleConnections();
      }),
  };
}

function notAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('allow', allow);
  send(res, 405, { error: `method not allowed; use ${allow}` });
}
