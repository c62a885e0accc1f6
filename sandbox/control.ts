// The sandbox's control endpoint (localhost only): `POST /merge` plays a developer merging a pull
// request, so `npm run sandbox:merge` can drive the origin and GitHub stand-in this process owns.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { prTag, shaTag } from '../src/plan/tags';
import { deployWorkflowId } from '../src/contract/ids';
import type { Origin } from '../harness/origin';
import { makeChange } from './changes';
import type { GitHubSide } from './github';
import type { ChangeKind, MergeRequest, MergeResult, SandboxState } from './state';

export interface ControlOptions {
  port: number;
  origin: Origin;
  side: GitHubSide;
  repository: string;
  /** The production environment's name (environment.name of the config). */
  environment: string;
  state(): SandboxState | undefined;
  /** What the ApplicationSet's pull-request generator does for a new PR: an Argo CD application tracking its branch. */
  previewApp(pr: number, branch: string): Promise<void>;
  log(line: string): void;
}

export interface Control {
  url: string;
  close(): Promise<void>;
}

const KINDS: ChangeKind[] = ['code', 'k8s', 'docs'];

class BadRequest extends Error {}

function parseRequest(raw: string): Required<MergeRequest> {
  let body: Partial<MergeRequest>;
  try {
    body = JSON.parse(raw || '{}') as Partial<MergeRequest>;
  } catch {
    throw new BadRequest('the body is not JSON');
  }
  if (!KINDS.includes(body.kind as ChangeKind)) throw new BadRequest(`kind must be one of ${KINDS.join(', ')}`);
  const ciSeconds = body.ciSeconds ?? 20;
  if (typeof ciSeconds !== 'number' || !(ciSeconds >= 0 && ciSeconds <= 3600))
    throw new BadRequest('ciSeconds must be a number from 0 to 3600');
  if (body.pr !== undefined && !(Number.isInteger(body.pr) && body.pr > 0 && body.pr < 100))
    throw new BadRequest('pr must be a pull request number from 1 to 99');
  return { kind: body.kind as ChangeKind, failCi: body.failCi === true, ciSeconds, pr: body.pr ?? 0 };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 10_000) throw new BadRequest('the body is too large');
  }
  return text;
}

export async function startControl(opts: ControlOptions): Promise<Control> {
  const { origin, side, repository, log } = opts;
  let pr = 100;
  // One merge at a time, as a merge queue would: each one's diff is against the last.
  let queue: Promise<unknown> = Promise.resolve();

  const opened = new Set<number>();

  /** A push to pull request N's branch: opens the PR (and its Argo CD application) the first time. */
  async function pushToPull(request: Required<MergeRequest>): Promise<MergeResult> {
    const branch = `sandbox/pr-${request.pr}`;
    const change = await makeChange(
      origin,
      request.kind,
      ++pr,
      opened.has(request.pr) ? `refs/heads/${branch}` : 'main',
    );
    const sha = await origin.commitOn(branch, change.files, change.message.replace(/ \(#\d+\)/, ''));
    const subject = change.message.split('\n')[0]!.replace(/ \(#\d+\)/, '');
    log(`push:    ${request.kind} change ${sha.slice(0, 7)} "${subject}" pushed to ${branch}`);
    let pushed;
    if (opened.has(request.pr)) {
      pushed = await side.pushed(sha);
      if (!pushed) throw new Error(`the push of ${sha} was not seen by the origin's post-receive hook`);
    } else {
      await opts.previewApp(request.pr, branch);
      pushed = await side.openPull(request.pr, branch, sha);
      opened.add(request.pr);
    }
    const result: MergeResult = {
      kind: request.kind,
      pr: request.pr,
      branch,
      sha,
      before: pushed.before,
      subject,
      files: Object.keys(change.files),
      workflowId: deployWorkflowId(repository, { kind: 'preview', pr: request.pr }, sha),
      push: pushed.delivered,
    };
    if (request.kind === 'code') {
      const conclusion = request.failCi ? 'failure' : 'success';
      const runId = side.runCi(
        sha,
        { conclusion, seconds: request.ciSeconds, title: subject },
        { pr: request.pr, branch },
      );
      result.ci = { runId, conclusion, seconds: request.ciSeconds, tag: prTag(request.pr, sha) };
    }
    return result;
  }

  async function merge(request: Required<MergeRequest>): Promise<MergeResult> {
    if (request.pr) return pushToPull(request);
    const change = await makeChange(origin, request.kind, ++pr);
    const sha = await origin.commit(change.files, change.message);
    const subject = change.message.split('\n')[0]!;
    log(`merge:   ${request.kind} change ${sha.slice(0, 7)} "${subject}" pushed to main`);
    const pushed = await side.pushed(sha);
    if (!pushed) throw new Error(`the push of ${sha} was not seen by the origin's post-receive hook`);
    const result: MergeResult = {
      kind: request.kind,
      sha,
      before: pushed.before,
      subject,
      files: Object.keys(change.files),
      workflowId: deployWorkflowId(repository, { kind: 'production', name: opts.environment }, sha),
      push: pushed.delivered,
    };
    if (request.kind === 'code') {
      // GitHub starts CI for the push; only code merges need images built.
      const conclusion = request.failCi ? 'failure' : 'success';
      const runId = side.runCi(sha, { conclusion, seconds: request.ciSeconds, title: subject });
      result.ci = { runId, conclusion, seconds: request.ciSeconds, tag: shaTag(sha) };
    }
    return result;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://control').pathname;
    if (path === '/merge' && req.method === 'POST') {
      const request = parseRequest(await readBody(req));
      const run = queue.then(() => merge(request));
      queue = run.catch(() => undefined);
      return send(res, 200, await run);
    }
    if (path === '/state' && req.method === 'GET') return send(res, 200, opts.state() ?? { starting: true });
    send(res, 404, {
      error:
        'POST /merge {"kind":"code"|"k8s"|"docs","failCi"?:boolean,"ciSeconds"?:number,"pr"?:number} or GET /state',
    });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!(err instanceof BadRequest)) log(`merge:   failed: ${err.stack ?? err.message}`);
      if (!res.headersSent) send(res, err instanceof BadRequest ? 400 : 500, { error: err.message });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => (server.off('error', reject), resolve()));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
