import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhooks } from '@octokit/webhooks';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { fromPayloadsAtIndex, type LogLevel, type Logger, type LogMetadata } from '@temporalio/common';
import { deployIdOf, requestPreview, signalCiCompleted, startDeploy } from '../client/deploys';
import { closePreview } from '../client/environment';
import type { DeployConfig } from '../config/schema';
import type { CiRun } from '../plan/ci';
import type { DeployInput } from '../contract/deploy';
import { createLogger } from '../observe/log';
import { decide, PayloadError, type Decision } from './events';
import {
  bounded,
  isUnavailable,
  PROBE_DEADLINE_MS,
  TemporalHealth,
  TemporalUnavailable,
  temporalUnreachable,
} from './temporal-health';

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
  /** Bound on the Temporal calls of one delivery; below GitHub's 10 s delivery timeout so it records a 503, not a timeout. */
  temporalTimeoutMs?: number;
  /** Where the relay's lines go (one per delivery, Temporal's health): default JSON lines on stdout (src/observe/log.ts). */
  logger?: Logger;
  /** Plain text lines instead (`relay: push delivery <id> -> 202 …`), for tests and the sandbox; `logger` wins. */
  log?: (line: string) => void;
}

export interface Relay {
  /** Base URL; the webhook is `${url}/webhooks/github`. */
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** The answer to a delivery, the note its line says, and what the line records besides (the action taken, ids). */
type Reply = { status: number; body: Record<string, unknown>; note: string; fields: LogMetadata };

const TOO_LARGE = Symbol('too large');
// Closed deploys a successful CI run starts again. Not CANCELLED or TERMINATED, which the id reuse
// policy would also let through: a person ended those on purpose, and a CI re-run must not overrule them.
const FAILED = new Set(['FAILED', 'TIMED_OUT']);

/** A Logger writing `relay: <message>` lines to a text sink; fields are left out. */
function lineLogger(write: (line: string) => void): Logger {
  const log = (_level: LogLevel, message: string) => write(`relay: ${message}`);
  return {
    log,
    trace: (m) => log('TRACE', m),
    debug: (m) => log('DEBUG', m),
    info: (m) => log('INFO', m),
    warn: (m) => log('WARN', m),
    error: (m) => log('ERROR', m),
  };
}

/** 2xx info; a rejected delivery (4xx) or Temporal away (503) warn; a bug (500) error. */
function levelOf(status: number): LogLevel {
  return status >= 500 && status !== 503 ? 'ERROR' : status >= 400 ? 'WARN' : 'INFO';
}

/** What GitHub computes for a body: HMAC-SHA256 with the webhook secret. */
function signatureMatches(secret: string, body: Buffer, header: string): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Header values reach logs and workflow details: keep them short and printable. */
function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text ? text.replace(/[^\w.:=-]/g, '_').slice(0, 80) : undefined;
}

function send(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
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
  const logger = opts.logger ?? (opts.log ? lineLogger(opts.log) : createLogger({ component: 'relay' }));
  // Every Temporal call, including those no one waits for any more (the SDK may still be retrying
  // them): close() lets them end, so the caller can close the connection under none of them.
  const calls = new Set<Promise<unknown>>();
  const tracked = <T>(call: Promise<T>): Promise<T> => {
    calls.add(call);
    call.then(
      () => calls.delete(call),
      () => calls.delete(call),
    );
    return call;
  };
  const health = new TemporalHealth(
    () => tracked(client.withDeadline(Date.now() + PROBE_DEADLINE_MS, () => client.workflowService.getSystemInfo({}))),
    logger,
  );

  /**
   * The Temporal calls of one delivery, answered within temporalTimeoutMs whatever the SDK's retries
   * do, and at once while Temporal is known to be down. If it goes down mid-call, the delivery stops
   * waiting: the call may still land, which is fine, since every action is idempotent on redelivery.
   */
  async function temporal<T>(call: () => Promise<T>): Promise<T> {
    const known = health.down;
    if (known) throw new TemporalUnavailable(known.message);
    const startedAt = Date.now();
    const abort = new AbortController();
    const unsubscribe = health.whenDown((err) => abort.abort(new TemporalUnavailable(err.message)));
    try {
      const work = tracked(
        client.withAbortSignal(abort.signal, () => client.withDeadline(startedAt + temporalTimeoutMs, call)),
      );
      const result = await bounded(
        work,
        temporalTimeoutMs,
        () => new TemporalUnavailable(`no answer within ${temporalTimeoutMs / 1000}s`),
        abort.signal,
      );
      health.observe(startedAt, undefined);
      return result;
    } catch (err) {
      const down = temporalUnreachable(err);
      // Only "unavailable" marks Temporal down for every delivery; one slow or throttled call does not.
      if (down && !(down instanceof TemporalUnavailable) && isUnavailable(down)) health.observe(startedAt, down);
      throw err;
    } finally {
      unsubscribe();
      abort.abort(); // cancels what is left of a call no one waits for any more
    }
  }

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
    if (!signature)
      return {
        status: 401,
        body: { error: 'missing X-Hub-Signature-256: configure the webhook secret on GitHub' },
        note: 'rejected: unsigned',
        fields: { action: 'rejected' },
      };
    // @octokit/webhooks refuses to verify an empty payload; a correctly signed one is a broken sender, not a forgery.
    if (raw.length === 0 && signatureMatches(opts.secret, raw, req.headers['x-hub-signature-256'] as string)) {
      return {
        status: 400,
        body: { error: 'empty body: expected the JSON payload of a GitHub event' },
        note: 'rejected: empty body',
        fields: { action: 'rejected' },
      };
    }
    if (!(await verified(raw.toString('utf8'), req.headers['x-hub-signature-256'] as string))) {
      return {
        status: 401,
        body: { error: 'X-Hub-Signature-256 does not match this body and the configured secret' },
        note: 'rejected: bad signature',
        fields: { action: 'rejected' },
      };
    }
    const event = headerValue(req, 'x-github-event');
    if (!event)
      return {
        status: 400,
        body: { error: 'missing X-GitHub-Event header' },
        note: 'rejected: no event name',
        fields: { action: 'rejected' },
      };
    if (/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')) {
      return {
        status: 415,
        body: { error: 'set the webhook content type to application/json' },
        note: 'rejected: form-encoded',
        fields: { action: 'rejected' },
      };
    }
    let payload: unknown;
    try {
      payload = JSON.parse(raw.toString('utf8'));
    } catch {
      return {
        status: 400,
        body: { error: 'the body is not valid JSON' },
        note: 'rejected: malformed JSON',
        fields: { action: 'rejected' },
      };
    }
    let decision: Decision;
    try {
      decision = decide(event, payload, config);
    } catch (err) {
      if (!(err instanceof PayloadError)) throw err;
      return {
        status: 400,
        body: { error: err.message, field: err.field },
        note: `rejected: ${err.field} malformed`,
        fields: { action: 'rejected', field: err.field },
      };
    }
    return act(decision, id);
  }

  async function act(decision: Decision, id: string): Promise<Reply> {
    switch (decision.kind) {
      case 'pong':
        return { status: 200, body: { pong: true }, note: 'pong', fields: { action: 'pong' } };
      case 'ignore':
        return {
          status: 202,
          body: { ignored: true, reason: decision.reason },
          note: `ignored: ${decision.reason}`,
          fields: { action: 'ignored', reason: decision.reason },
        };
      case 'start': {
        // Signal-with-start: durable at once, even while no worker runs; the environment starts the deploy.
        const { workflowId } = await temporal(() =>
          startDeploy(
            client,
            config,
            { commit: decision.commit, before: decision.before, requestedBy: `github push ${id}` },
            { wait: false },
          ),
        );
        return {
          status: 202,
          body: { requested: true, workflowId },
          note: `requested ${workflowId}`,
          fields: { action: 'requested', commit: decision.commit, workflowId },
        };
      }
      case 'signal': {
        const { run } = decision;
        const workflowId = deployIdOf(config, run.headSha);
        const { signalled, started } = await temporal(() => ciCompleted(run, id));
        const outcome = signalled
          ? `signalled ${workflowId}`
          : started
            ? `no deploy of ${run.headSha.slice(0, 7)} was running: started ${workflowId}`
            : `no deploy of ${run.headSha.slice(0, 7)} is running${run.conclusion === 'success' ? ' and it needs none (it succeeded, or runs already)' : ''}`;
        return {
          status: 202,
          body: { signalled, started, workflowId },
          note: `CI run ${run.id} ${run.conclusion}: ${outcome}`,
          fields: {
            action: signalled ? 'signalled' : started ? 'started' : 'none',
            commit: run.headSha,
            workflowId,
            ciRun: { id: run.id, conclusion: run.conclusion, attempt: run.attempt },
          },
        };
      }
      case 'preview': {
        const { pr, commit, before } = decision;
        const requested = await temporal(() =>
          requestPreview(
            client,
            config,
            pr,
            { commit, before, requestedBy: `github pull_request ${id}` },
            { wait: false },
          ),
        );
        return {
          status: 202,
          body: {
            forwarded: true,
            workflowId: requested.environmentWorkflowId,
            deployWorkflowId: requested.workflowId,
          },
          note: `preview of #${pr} at ${commit.slice(0, 7)} forwarded to ${requested.environmentWorkflowId}`,
          fields: {
            action: 'forwarded',
            pr,
            commit,
            workflowId: requested.environmentWorkflowId,
            deployWorkflowId: requested.workflowId,
          },
        };
      }
      case 'preview-closed': {
        const { pr, merged } = decision;
        const closed = await temporal(() =>
          closePreview(client, config, pr, { by: `github pull_request ${id}`, merged }),
        );
        return {
          status: 202,
          body: { closed },
          note: closed
            ? `#${pr} ${merged ? 'merged' : 'closed'}: its preview ends`
            : `#${pr} closed: it had no preview`,
          fields: { action: closed ? 'closed' : 'none', pr, merged },
        };
      }
      case 'preview-ci': {
        const { run, pullRequests } = decision;
        const results = await temporal(() => Promise.all(pullRequests.map((pr) => previewCiCompleted(pr, run, id))));
        const hits = pullRequests.filter((_, i) => results[i] === 'signalled');
        const requested = pullRequests.filter((_, i) => results[i] === 'requested');
        const outcome = [
          hits.length ? `signalled the preview of #${hits.join(', #')}` : '',
          requested.length
            ? `no preview deploy of it was running: requested the preview of #${requested.join(', #')} again`
            : '',
        ]
          .filter(Boolean)
          .join('; ');
        return {
          status: 202,
          body: { signalled: hits, requested },
          note: `CI run ${run.id} ${run.conclusion} for ${run.headSha.slice(0, 7)}: ${outcome || 'no preview deploy of it is running'}`,
          fields: {
            action: hits.length ? 'signalled' : requested.length ? 'requested' : 'none',
            commit: run.headSha,
            ciRun: { id: run.id, conclusion: run.conclusion, attempt: run.attempt },
            signalledPrs: hits,
            requestedPrs: requested,
          },
        };
      }
    }
  }

  /**
   * A deploy may need starting when a successful run finds none waiting: it failed because an earlier
   * run failed ("Re-run failed jobs" passed later), or its push was never delivered. Not one that ran
   * (succeeded, skipped, superseded) or runs: those are left alone, and the environment's request log
   * is not filled with every merge's CI run.
   */
  async function needsStart(workflowId: string): Promise<{ needed: boolean; before?: string }> {
    try {
      const { status } = await client.workflow.getHandle(workflowId).describe();
      return FAILED.has(status.name) ? { needed: true, before: await startedWith(workflowId) } : { needed: false };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { needed: true };
      throw err;
    }
  }

  /** The failed deploy's `before`, so the new run compares the same push (a rebase merge brings several commits). */
  async function startedWith(workflowId: string): Promise<string | undefined> {
    try {
      const { history } = await client.workflowService.getWorkflowExecutionHistory({
        namespace: client.options.namespace,
        execution: { workflowId },
        maximumPageSize: 1,
      });
      const input = history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads;
      return fromPayloadsAtIndex<DeployInput>(client.options.loadedDataConverter.payloadConverter, 0, input)?.before;
    } catch (err) {
      if (temporalUnreachable(err)) throw err;
      return undefined; // unreadable: the commit's parent is compared, like a push without `before`
    }
  }

  async function ciCompleted(run: CiRun, id: string): Promise<{ signalled: boolean; started: boolean }> {
    if (await signalCiCompleted(client, config, run)) return { signalled: true, started: false };
    if (run.conclusion !== 'success') return { signalled: false, started: false };
    const { needed, before } = await needsStart(deployIdOf(config, run.headSha));
    if (!needed) return { signalled: false, started: false };
    // Idempotent: a start racing this one (the push arriving now) makes this a no-op.
    await startDeploy(
      client,
      config,
      { commit: run.headSha, before, requestedBy: `github workflow_run ${id} (CI run ${run.id} succeeded)` },
      { wait: false },
    );
    return { signalled: false, started: true };
  }

  /** The same for a pull request's run: its preview is requested again, and the PR's workflow decides (head, closed). */
  async function previewCiCompleted(pr: number, run: CiRun, id: string): Promise<'signalled' | 'requested' | 'none'> {
    if (await signalCiCompleted(client, config, run, pr)) return 'signalled';
    if (run.conclusion !== 'success' || !(await needsStart(deployIdOf(config, run.headSha, pr))).needed) return 'none';
    await requestPreview(
      client,
      config,
      pr,
      { commit: run.headSha, requestedBy: `github workflow_run ${id} (CI run ${run.id} succeeded)` },
      { wait: false },
    );
    return 'requested';
  }

  async function webhook(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = Date.now();
    const id = headerValue(req, 'x-github-delivery') ?? 'unknown';
    const event = headerValue(req, 'x-github-event') ?? '-';
    let reply: Reply;
    const raw = await readBody(req, maxBodyBytes);
    if (raw === TOO_LARGE) {
      reply = {
        status: 413,
        body: { error: `the body exceeds ${maxBodyBytes} bytes` },
        note: 'rejected: body too large',
        fields: { action: 'rejected' },
      };
      discardRest(req, maxBodyBytes);
    } else {
      try {
        reply = await delivery(req, raw, id);
      } catch (err) {
        // 5xx: GitHub records a failed delivery that can be redelivered once Temporal is back.
        const down = temporalUnreachable(err);
        reply = down
          ? {
              status: 503,
              body: { error: `Temporal is unreachable, redeliver later: ${down.message}` },
              note: `failed, Temporal unreachable: ${down.message}`,
              fields: { action: 'failed', temporal: 'unreachable' },
            }
          : {
              status: 500,
              body: { error: 'internal error' },
              note: `failed: ${(err as Error).message}`,
              fields: { action: 'failed', error: err },
            };
      }
    }
    send(res, reply.status, reply.body);
    // Notes may quote payload fields (a ref, a workflow name): one line, whatever they hold.
    // eslint-disable-next-line no-control-regex -- matching control characters is the point here
    const note = reply.note.replace(/[\x00-\x1f\x7f]+/g, ' ');
    logger.log(levelOf(reply.status), `${event} delivery ${id} -> ${reply.status} ${note}`, {
      event,
      delivery: id,
      status: reply.status,
      ...reply.fields,
      durationMs: Date.now() - startedAt,
    });
  }

  async function healthz(res: ServerResponse): Promise<void> {
    // The background probe's last word (at most a second old): /healthz adds no load on Temporal.
    const down = health.down;
    if (down) send(res, 503, { temporal: 'unreachable', error: down.message });
    else send(res, 200, { temporal: 'ok' });
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://relay').pathname;
    const route =
      path === WEBHOOK_PATH
        ? req.method === 'POST'
          ? webhook(req, res)
          : notAllowed(res, 'POST')
        : path === '/healthz'
          ? req.method === 'GET'
            ? healthz(res)
            : notAllowed(res, 'GET')
          : send(res, 404, { error: `not found; the webhook is POST ${WEBHOOK_PATH}` });
    Promise.resolve(route).catch((err: unknown) => {
      logger.error(`${req.method} ${path} failed: ${(err as Error).message}`, { error: err });
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
  health.start();
  const { address, port } = server.address() as AddressInfo;
  const shown =
    address === '0.0.0.0' || address === '::' ? 'localhost' : address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${shown}:${port}`,
    server,
    async close() {
      health.stop();
      await new Promise<void>((resolve, reject) => {
        // In-flight deliveries finish (each bounded by temporalTimeoutMs); idle keep-alives close now.
        const force = setTimeout(() => server.closeAllConnections(), temporalTimeoutMs + 2_000).unref();
        server.close((err) => (clearTimeout(force), err ? reject(err) : resolve()));
        server.closeIdleConnections();
      });
      let timer: NodeJS.Timeout | undefined;
      const cap = new Promise<void>((resolve) => (timer = setTimeout(resolve, temporalTimeoutMs + 2_000).unref()));
      await Promise.race([Promise.allSettled([...calls]), cap]);
      clearTimeout(timer);
    },
  };
}

function notAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('allow', allow);
  send(res, 405, { error: `method not allowed; use ${allow}` });
}
