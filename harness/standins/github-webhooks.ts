// GitHub webhook deliveries as GitHub sends them (trimmed to realistic size), and a client
// that signs them the way GitHub does: HMAC-SHA256 of the exact body bytes.
import { createHmac, randomBytes, randomUUID } from 'node:crypto';

export const SECRET = 'whsec-test-3c1f9a7e5d';
export const ZERO = '0'.repeat(40);

export const randomSha = () => randomBytes(20).toString('hex');

/** Computed independently of @octokit, so a bug there cannot make both sides agree. */
export function sign(body: string | Buffer, secret = SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

const user = (login: string) => ({
  login,
  id: 583231,
  node_id: 'MDQ6VXNlcjU4MzIzMQ==',
  type: 'User',
  site_admin: false,
  html_url: `https://github.com/${login}`,
});

function repository(fullName: string) {
  const [owner, name] = fullName.split('/') as [string, string];
  return {
    id: 1296269,
    node_id: 'MDEwOlJlcG9zaXRvcnkxMjk2MjY5',
    name,
    full_name: fullName,
    private: true,
    owner: user(owner),
    html_url: `https://github.com/${fullName}`,
    clone_url: `https://github.com/${fullName}.git`,
    default_branch: 'main',
    master_branch: 'main',
  };
}

export interface CommitSpec {
  id?: string;
  message: string;
  /** Paths the commit touched, for realism only: the relay never reads them. */
  modified?: string[];
}

function commitJson(fullName: string, c: CommitSpec & { id: string }) {
  return {
    id: c.id,
    tree_id: randomSha(),
    distinct: true,
    message: c.message,
    timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    url: `https://github.com/${fullName}/commit/${c.id}`,
    author: { name: 'Test Author', email: 'author@example.com', username: 'test-author' },
    committer: { name: 'GitHub', email: 'noreply@github.com', username: 'web-flow' },
    added: [],
    removed: [],
    modified: c.modified ?? ['services/api/main.py'],
  };
}

export interface PushSpec {
  repository: string;
  ref?: string;
  before: string;
  after: string;
  /** Oldest first, as GitHub lists them; the last is head_commit. Default: one commit `after`. */
  commits?: CommitSpec[];
  created?: boolean;
  deleted?: boolean;
  forced?: boolean;
}

/** A `push` event body. */
export function pushPayload(spec: PushSpec) {
  const deleted = spec.deleted ?? false;
  const commits = deleted
    ? []
    : (spec.commits ?? [{ message: 'Merge pull request #42 from yt-summarizer-org/feat/api\n\nfeat(api): v2' }]).map(
        (c, i, all) =>
          commitJson(spec.repository, { ...c, id: c.id ?? (i === all.length - 1 ? spec.after : randomSha()) }),
      );
  return {
    ref: spec.ref ?? 'refs/heads/main',
    before: spec.before,
    after: deleted ? ZERO : spec.after,
    repository: repository(spec.repository),
    pusher: { name: 'test-author', email: 'author@example.com' },
    sender: user('test-author'),
    created: spec.created ?? false,
    deleted,
    forced: spec.forced ?? false,
    base_ref: null,
    compare: `https://github.com/${spec.repository}/compare/${spec.before.slice(0, 12)}...${spec.after.slice(0, 12)}`,
    commits,
    head_commit: commits.at(-1) ?? null,
  };
}

export interface RunSpec {
  id: number;
  name?: string;
  path?: string;
  head_sha: string;
  head_branch?: string;
  event?: string;
  status?: string;
  conclusion?: string | null;
  html_url?: string;
  run_attempt?: number;
  workflow_id?: number;
  [more: string]: unknown;
}

/** A `workflow_run` event body; `run` may be a GitHub run object (the stand-in's are) or a few fields. */
export function workflowRunPayload(fullName: string, run: RunSpec, action = 'completed') {
  const path = run.path ?? '.github/workflows/ci.yml';
  const workflowRun = {
    name: 'CI',
    path,
    head_branch: 'main',
    event: 'push',
    status: action === 'completed' ? 'completed' : 'in_progress',
    conclusion: action === 'completed' ? 'success' : null,
    html_url: `https://github.com/${fullName}/actions/runs/${run.id}`,
    run_attempt: 1,
    workflow_id: 61000001,
    display_title: 'feat(api): v2',
    run_number: 7,
    ...run,
  };
  return {
    action,
    workflow_run: workflowRun,
    workflow: {
      id: workflowRun.workflow_id,
      name: workflowRun.name,
      path,
      state: 'active',
      html_url: `https://github.com/${fullName}/blob/main/${path}`,
    },
    repository: repository(fullName),
    sender: user('test-author'),
  };
}

export interface PullSpec {
  number: number;
  headSha: string;
  headRef?: string;
  /** owner/name of the head repository when it is a fork. */
  fork?: string;
  merged?: boolean;
  state?: 'open' | 'closed';
  [more: string]: unknown;
}

/**
 * A `pull_request` event body. `pr` may be a pull request object (the GitHub stand-in's are) or
 * a few fields. synchronize carries `before` and `after` and, like GitHub's, no commit messages.
 */
export function pullRequestPayload(
  fullName: string,
  action: string,
  pr: PullSpec | Record<string, any>,
  push?: { before: string; after: string },
) {
  const spec = pr as PullSpec;
  const base = repository(fullName);
  const pullRequest =
    'head' in pr
      ? pr
      : {
          url: `https://api.github.com/repos/${fullName}/pulls/${spec.number}`,
          number: spec.number,
          state: spec.state ?? 'open',
          title: 'feat: preview me',
          user: user('test-author'),
          merged: spec.merged ?? false,
          draft: false,
          head: {
            label: `${(spec.fork ?? fullName).split('/')[0]}:${spec.headRef ?? 'feature/x'}`,
            ref: spec.headRef ?? 'feature/x',
            sha: spec.headSha,
            user: user((spec.fork ?? fullName).split('/')[0]!),
            repo: spec.fork ? { ...repository(spec.fork), fork: true } : base,
          },
          base: {
            label: `${fullName.split('/')[0]}:main`,
            ref: 'main',
            sha: randomSha(),
            user: user(fullName.split('/')[0]!),
            repo: base,
          },
        };
  return {
    action,
    number: pullRequest.number,
    pull_request: pullRequest,
    ...(push ?? {}),
    repository: base,
    sender: user('test-author'),
  };
}

export interface Delivered {
  status: number;
  body: Record<string, any>;
}

export interface DeliverOptions {
  /** A given header value; null leaves the header out. Default: signed with `secret`. */
  signature?: string | null;
  secret?: string;
  delivery?: string;
  headers?: Record<string, string>;
}

/** POSTs one delivery with GitHub's headers. `body` is sent byte for byte when it is a string. */
export async function deliver(
  url: string,
  event: string,
  body: unknown,
  opts: DeliverOptions = {},
): Promise<Delivered> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const signature = opts.signature === undefined ? sign(text, opts.secret) : opts.signature;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'GitHub-Hookshot/5e1b7a1',
    'x-github-event': event,
    'x-github-delivery': opts.delivery ?? randomUUID(),
    'x-github-hook-id': '512345678',
    ...(signature === null ? {} : { 'x-hub-signature-256': signature }),
    ...opts.headers,
  };
  const res = await fetch(`${url}/webhooks/github`, { method: 'POST', headers, body: text });
  const reply = await res.text();
  return { status: res.status, body: reply ? JSON.parse(reply) : {} };
}
