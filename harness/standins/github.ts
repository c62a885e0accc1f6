// Stand-in for the slice of GitHub's REST API the deployer uses (Actions runs, pull requests,
// Deployments and their statuses, issue comments; for deployctl doctor also the rate limit, the
// repository, its workflows, a branch's ref and file contents).
// Speaks GitHub's wire format so the real @octokit/rest client can talk to it.
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { git } from '../origin';
import {
  pullCommits as renderCommits,
  pullJson as renderPull,
  ts,
  type Pull,
  type PullContext,
  type PullRequest,
} from './github-pulls';
import {
  readJson,
  reportingApi,
  type DeploymentJson,
  type DeploymentStatusJson,
  type IssueCommentJson,
} from './github-deployments';
import { Holds, type Hold, type HoldMatch } from './holds';

export type { PullRequest };
export type { DeploymentJson, DeploymentStatusJson, IssueCommentJson, Hold, HoldMatch };

export type RunStatus = 'queued' | 'in_progress' | 'completed' | 'requested' | 'waiting' | 'pending';
export type RunConclusion =
  'success' | 'failure' | 'cancelled' | 'timed_out' | 'neutral' | 'skipped' | 'stale' | 'action_required' | null;

export interface AddRunInput {
  owner: string;
  repo: string;
  workflowFile?: string;
  headSha: string;
  branch?: string;
  event?: string;
  status?: RunStatus;
  conclusion?: RunConclusion;
  displayTitle?: string;
  /** PR numbers for `pull_requests`; a pull_request run of an open same-repo PR's head gets its PR unasked. */
  pullRequests?: number[];
}
export interface AddPullRequestInput {
  owner: string;
  repo: string;
  number: number;
  headRef: string;
  baseRef?: string;
  title?: string;
  /** A PR from a fork: its head commit need not exist in the origin. */
  fork?: { fullName: string; headSha: string };
}
export type WorkflowRun = Record<string, any> & {
  id: number;
  head_sha: string;
  head_branch: string;
  event: string;
  status: RunStatus;
  conclusion: RunConclusion;
  workflow_id: number;
  run_number: number;
  run_attempt: number;
  created_at: string;
  updated_at: string;
};
export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
}
export interface GitHubStandIn {
  url: string;
  addWorkflow(input: { owner: string; repo: string; workflowFile?: string; name?: string }): {
    id: number;
    path: string;
  };
  addRun(input: AddRunInput): WorkflowRun;
  setRun(id: number, patch: { status?: RunStatus; conclusion?: RunConclusion; run_attempt?: number }): WorkflowRun;
  runs(): WorkflowRun[];
  /** Needs `originBareDir`: same-repo heads and every base are read from git on each request. */
  addPullRequest(input: AddPullRequestInput): Promise<PullRequest>;
  closePullRequest(number: number, opts?: { merged?: boolean }): Promise<PullRequest>;
  /** Every Deployment, oldest first, each with its statuses oldest first. */
  deployments(): Array<DeploymentJson & { statuses: DeploymentStatusJson[] }>;
  /** The comments on pull request #n, oldest first. */
  comments(number: number): IssueCommentJson[];
  /**
   * Holds the answer to the next request that matches, after the stand-in has applied it (the
   * Deployment exists, the client has not learned its id). The request is logged as usual.
   */
  holdResponse(match: HoldMatch): Hold;
  requests: LoggedRequest[];
  failNext(n: number, status: number, headers?: Record<string, string>, body?: unknown): void;
  stop(): Promise<void>;
}

interface Workflow {
  id: number;
  owner: string;
  repo: string;
  file: string;
  name: string;
  runCount: number;
}

const DOCS = 'https://docs.github.com/rest';
const FAIL_MESSAGES: Record<number, string> = {
  403: 'API rate limit exceeded for user ID 1.',
  429: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
  500: 'Server Error',
  502: 'Server Error',
  503: 'No server is currently available to service your request. Sorry about that. Please try resubmitting your request and contact us if the problem persists.',
};

export async function startGitHubStandIn(opts: {
  token: string;
  workflows?: Array<{ owner: string; repo: string; workflowFile?: string }>;
  /** Bare repo behind every owner/repo: pull request heads, bases and commits come from it. */
  originBareDir?: string;
  /** X-OAuth-Scopes on every answer, as GitHub sends for a classic token (`repo, workflow`); absent: none, as for App tokens. */
  scopes?: string;
}): Promise<GitHubStandIn> {
  const workflows: Workflow[] = [];
  const allRuns: WorkflowRun[] = [];
  const pulls: Pull[] = [];
  // pull_request runs not yet tied to a PR: the PR's head may have moved since we last read git.
  const unlinked: Array<{ run: WorkflowRun; branchGiven: boolean }> = [];
  const requests: LoggedRequest[] = [];
  const failures: Array<{ status: number; headers: Record<string, string>; body?: unknown }> = [];
  const holds = new Holds();
  const held = new WeakMap<ServerResponse, () => Promise<void>>();
  let nextRunId = 10_000_000_001; // real run ids exceed 2^31
  let nextPullId = 2_000_000_001;
  let used = 0;
  let url = '';

  const actor = { login: 'octocat', id: 1, node_id: 'MDQ6VXNlcjE=', type: 'User', site_admin: false };
  const repoJson = (owner: string, repo: string) => ({
    id: 1296269,
    node_id: 'MDEwOlJlcG9zaXRvcnkxMjk2MjY5',
    name: repo,
    full_name: `${owner}/${repo}`,
    private: true,
    owner: { ...actor, login: owner },
    html_url: `https://github.com/${owner}/${repo}`,
    fork: false,
    url: `${url}/repos/${owner}/${repo}`,
  });
  const forkJson = (fullName: string) => {
    const [owner, repo] = fullName.split('/');
    const id = 2_000_000 + (parseInt(createHash('sha1').update(fullName).digest('hex').slice(0, 6), 16) % 1_000_000);
    return {
      ...repoJson(owner, repo),
      id,
      node_id: `R_kgDO${Buffer.from(String(id)).toString('base64url')}`,
      fork: true,
    };
  };
  const headRepo = (pr: Pull) => (pr.fork ? forkJson(pr.fork.fullName) : repoJson(pr.owner, pr.repo));

  function addWorkflow({
    owner,
    repo,
    workflowFile = 'ci.yml',
    name = 'CI',
  }: {
    owner: string;
    repo: string;
    workflowFile?: string;
    name?: string;
  }) {
    let wf = workflows.find((w) => w.owner === owner && w.repo === repo && w.file === workflowFile);
    if (!wf)
      workflows.push(
        (wf = { id: 61_000_000 + workflows.length + 1, owner, repo, file: workflowFile, name, runCount: 0 }),
      );
    return { id: wf.id, path: `.github/workflows/${wf.file}` };
  }
  for (const w of opts.workflows ?? []) addWorkflow(w);

  function addRun(input: AddRunInput): WorkflowRun {
    const { owner, repo, workflowFile = 'ci.yml', headSha, event = 'push', status = 'queued' } = input;
    const given = input.pullRequests?.map((n) => {
      const pr = pulls.find((p) => p.owner === owner && p.repo === repo && p.number === n);
      if (!pr) throw new Error(`no pull request ${owner}/${repo}#${n}`);
      return pr;
    });
    const prs = given ?? (event === 'pull_request' ? matchPulls(owner, repo, headSha) : []);
    const branch = input.branch ?? (event === 'pull_request' && prs[0] ? prs[0].headRef : 'main');
    addWorkflow({ owner, repo, workflowFile });
    const wf = workflows.find((w) => w.owner === owner && w.repo === repo && w.file === workflowFile)!;
    const id = nextRunId++;
    const now = ts();
    const api = `${url}/repos/${owner}/${repo}/actions`;
    const run: WorkflowRun = {
      id,
      name: wf.name,
      node_id: `WFR_kwLO${randomBytes(9).toString('base64url')}`,
      check_suite_id: id + 7,
      check_suite_node_id: `CS_kwDO${randomBytes(9).toString('base64url')}`,
      head_branch: branch,
      head_sha: headSha,
      path: `.github/workflows/${wf.file}`,
      display_title: input.displayTitle ?? wf.name,
      run_number: ++wf.runCount,
      event,
      status,
      conclusion: input.conclusion ?? null,
      workflow_id: wf.id,
      url: `${api}/runs/${id}`,
      html_url: `https://github.com/${owner}/${repo}/actions/runs/${id}`,
      pull_requests: [],
      created_at: now,
      updated_at: now,
      actor,
      run_attempt: 1,
      referenced_workflows: [],
      run_started_at: now,
      triggering_actor: actor,
      jobs_url: `${api}/runs/${id}/jobs`,
      logs_url: `${api}/runs/${id}/logs`,
      check_suite_url: `${url}/repos/${owner}/${repo}/check-suites/${id + 7}`,
      artifacts_url: `${api}/runs/${id}/artifacts`,
      cancel_url: `${api}/runs/${id}/cancel`,
      rerun_url: `${api}/runs/${id}/rerun`,
      previous_attempt_url: null,
      workflow_url: `${api}/workflows/${wf.id}`,
      head_commit: {
        id: headSha,
        tree_id: headSha,
        message: input.displayTitle ?? wf.name,
        timestamp: now,
        author: { name: 'Test Author', email: 'author@example.com' },
        committer: { name: 'Test Committer', email: 'committer@example.com' },
      },
      repository: repoJson(owner, repo),
      head_repository: repoJson(owner, repo),
    };
    allRuns.push(run);
    if (given || prs.length) link(run, prs, !!given, input.branch !== undefined);
    else if (event === 'pull_request') unlinked.push({ run, branchGiven: input.branch !== undefined });
    return run;
  }

  // Open PRs whose head is this commit, as GitHub associates a pull_request run with its PR.
  const matchPulls = (owner: string, repo: string, sha: string) =>
    pulls.filter((p) => p.owner === owner && p.repo === repo && p.state === 'open' && p.headSha === sha);
  function link(run: WorkflowRun, prs: Pull[], explicit: boolean, branchGiven: boolean) {
    const mini = (r: { id: number; url: string; name: string }) => ({ id: r.id, url: r.url, name: r.name });
    // GitHub leaves pull_requests empty for runs from forks (github/docs#22501); only an explicit list overrides that.
    run.pull_requests = prs
      .filter((p) => explicit || !p.fork)
      .map((p) => ({
        url: `${url}/repos/${p.owner}/${p.repo}/pulls/${p.number}`,
        id: p.id,
        number: p.number,
        head: { ref: p.headRef, sha: run.head_sha, repo: mini(headRepo(p)) },
        base: { ref: p.baseRef, sha: p.baseSha, repo: mini(repoJson(p.owner, p.repo)) },
      }));
    if (run.event === 'pull_request' && prs[0]) {
      if (!branchGiven) run.head_branch = prs[0].headRef;
      run.head_repository = headRepo(prs[0]);
    }
  }
  async function linkRuns(owner: string, repo: string) {
    const waiting = unlinked.filter((u) => u.run.repository.full_name === `${owner}/${repo}`);
    if (!waiting.length) return;
    await Promise.all(pulls.filter((p) => p.owner === owner && p.repo === repo).map(refresh));
    for (const u of waiting) {
      const prs = matchPulls(owner, repo, u.run.head_sha);
      if (prs.length) {
        link(u.run, prs, false, u.branchGiven);
        unlinked.splice(unlinked.indexOf(u), 1);
      }
    }
  }

  const origin = () => {
    if (!opts.originBareDir) throw new Error('pull requests need startGitHubStandIn({ originBareDir })');
    return opts.originBareDir;
  };
  const tip = (ref: string) =>
    git(origin(), ['rev-parse', '--verify', '-q', `refs/heads/${ref}^{commit}`]).then(
      (s) => s.trim(),
      () => undefined,
    );
  // GitHub moves an open PR's head (and base) with every push; a closed one keeps its last.
  async function refresh(pr: Pull) {
    if (pr.state !== 'open') return;
    const [head, base] = await Promise.all([pr.fork ? pr.fork.headSha : tip(pr.headRef), tip(pr.baseRef)]);
    if (head && head !== pr.headSha) {
      pr.headSha = head;
      pr.updatedAt = ts();
    }
    if (base) pr.baseSha = base;
  }

  async function addPullRequest(input: AddPullRequestInput): Promise<PullRequest> {
    const { owner, repo, number, headRef, baseRef = 'main', title = headRef, fork } = input;
    if (pulls.some((p) => p.owner === owner && p.repo === repo && p.number === number))
      throw new Error(`${owner}/${repo}#${number} exists`);
    const [head, base] = await Promise.all([fork ? fork.headSha : tip(headRef), tip(baseRef)]);
    // GitHub answers 422 "Validation Failed" for a PR between refs it does not have.
    if (!head || !base) throw new Error(`no branch ${head ? baseRef : headRef} in ${origin()}`);
    const now = ts();
    const pr: Pull = {
      owner,
      repo,
      number,
      headRef,
      baseRef,
      title,
      fork,
      id: nextPullId++,
      nodeId: `PR_kwDO${randomBytes(9).toString('base64url')}`,
      state: 'open',
      merged: false,
      createdAt: now,
      updatedAt: now,
      closedAt: null,
      mergedAt: null,
      headSha: head,
      baseSha: base,
    };
    pulls.push(pr);
    return pullJson(pr);
  }

  async function closePullRequest(number: number, { merged = false }: { merged?: boolean } = {}): Promise<PullRequest> {
    const found = pulls.filter((p) => p.number === number);
    if (found.length !== 1)
      throw new Error(found.length ? `#${number} is ambiguous across repositories` : `no pull request #${number}`);
    const pr = found[0];
    await refresh(pr); // freeze head and base as of closing
    const now = ts();
    Object.assign(pr, { state: 'closed', merged, closedAt: now, mergedAt: merged ? now : null, updatedAt: now });
    return pullJson(pr);
  }

  // The stand-in's URL is known once it listens: the context reads it when a PR is rendered.
  const pullContext: PullContext = {
    get url() {
      return url;
    },
    origin,
    actor,
    repoJson,
    headRepo,
    refresh,
  };
  const pullCommits = (pr: Pull) => renderCommits(pullContext, pr);

  // The repositories this GitHub has: those with a workflow or a pull request.
  const known = (owner: string, repo: string) =>
    workflows.some((w) => w.owner === owner && w.repo === repo) ||
    pulls.some((p) => p.owner === owner && p.repo === repo);
  const reporting = reportingApi({
    get url() {
      return url;
    },
    actor,
    repoJson,
    known,
    hasIssue: (owner, repo, n) => pulls.some((p) => p.owner === owner && p.repo === repo && p.number === n),
    resolve: (ref) =>
      opts.originBareDir
        ? git(opts.originBareDir, ['rev-parse', '--verify', '-q', `${ref}^{commit}`]).then(
            (s) => s.trim(),
            () => undefined,
          )
        : Promise.resolve(null),
    paged,
  });
  const pullJson = (pr: Pull) => renderPull(pullContext, pr);

  function setRun(
    id: number,
    patch: { status?: RunStatus; conclusion?: RunConclusion; run_attempt?: number },
  ): WorkflowRun {
    const run = allRuns.find((r) => r.id === id);
    if (!run) throw new Error(`no run ${id}`);
    if (patch.run_attempt && patch.run_attempt !== run.run_attempt) {
      // A re-run: GitHub restarts timing and links the previous attempt.
      run.previous_attempt_url = `${run.url}/attempts/${run.run_attempt}`;
      run.run_attempt = patch.run_attempt;
      run.run_started_at = ts();
    }
    if (patch.status) run.status = patch.status;
    // Only completed runs carry a conclusion; default a bare "completed" to success.
    run.conclusion = run.status === 'completed' ? (patch.conclusion ?? run.conclusion ?? 'success') : null;
    run.updated_at = ts();
    return run;
  }

  // GET /rate_limit costs nothing against the limit; every other answer counts.
  function send(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}, count = true) {
    if (count) used++;
    const hold = held.get(res);
    if (hold) return void hold().then(() => write(res, status, body, extra));
    write(res, status, body, extra);
  }
  function write(res: ServerResponse, status: number, body: unknown, extra: Record<string, string>) {
    if (res.destroyed) return; // a held answer whose client is gone
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'x-github-api-version-selected': '2022-11-28',
      'x-github-media-type': 'github.v3; format=json',
      'x-github-request-id': randomBytes(8).toString('hex').toUpperCase(),
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': String(Math.max(0, 5000 - used)),
      'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
      'x-ratelimit-used': String(used),
      'x-ratelimit-resource': 'core',
      ...(opts.scopes !== undefined ? { 'x-oauth-scopes': opts.scopes } : {}),
      ...extra,
    });
    res.end(JSON.stringify(body));
  }
  const error = (res: ServerResponse, status: number, message: string, doc = DOCS) =>
    send(res, status, { message, documentation_url: doc, status: String(status) });

  // GitHub's per_page/page paging with a Link header (next, last, prev, first).
  function paged<T>(items: T[], q: URLSearchParams, path: string) {
    const perPage = Math.min(100, Math.max(1, Number(q.get('per_page') ?? 30) || 30));
    const page = Math.max(1, Number(q.get('page') ?? 1) || 1);
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const link = (p: number, rel: string) => {
      const u = new URLSearchParams(q);
      u.set('per_page', String(perPage));
      u.set('page', String(p));
      return `<${url}${path}?${u}>; rel="${rel}"`;
    };
    const links = [
      page < last && link(page + 1, 'next'),
      page < last && link(last, 'last'),
      page > 1 && link(page - 1, 'prev'),
      page > 1 && link(1, 'first'),
    ].filter(Boolean);
    const headers: Record<string, string> = links.length ? { link: links.join(', ') } : {};
    return { items: items.slice((page - 1) * perPage, page * perPage), headers };
  }

  function listRuns(res: ServerResponse, wf: Workflow, q: URLSearchParams, path: string) {
    let runs = allRuns.filter((r) => r.workflow_id === wf.id);
    if (q.get('head_sha')) runs = runs.filter((r) => r.head_sha === q.get('head_sha'));
    if (q.get('branch')) runs = runs.filter((r) => r.head_branch === q.get('branch'));
    if (q.get('event')) runs = runs.filter((r) => r.event === q.get('event'));
    // GitHub's `status` filter accepts either a status or a conclusion.
    if (q.get('status')) runs = runs.filter((r) => r.status === q.get('status') || r.conclusion === q.get('status'));
    runs = [...runs].sort((a, b) => b.id - a.id); // newest first
    const { items, headers } = paged(runs, q, path);
    send(res, 200, { total_count: runs.length, workflow_runs: items }, headers);
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const u = new URL(req.url ?? '/', 'http://localhost');
    const entry: LoggedRequest = {
      method: req.method ?? 'GET',
      path: u.pathname,
      query: Object.fromEntries(u.searchParams),
      status: 0,
    };
    requests.push(entry);
    res.on('finish', () => (entry.status = res.statusCode));
    const hold = holds.take(entry.method, entry.path);
    if (hold) held.set(res, hold);

    const fail = failures.shift();
    if (fail) {
      const body = fail.body ?? {
        message: FAIL_MESSAGES[fail.status] ?? 'Server Error',
        documentation_url: DOCS,
        status: String(fail.status),
      };
      return send(
        res,
        fail.status,
        body,
        fail.status === 429 && !fail.headers['retry-after'] ? { 'retry-after': '1', ...fail.headers } : fail.headers,
      );
    }
    const auth = /^(?:token|bearer)\s+(.+)$/i.exec(req.headers.authorization ?? '');
    // A wrong token is 401; no token at all makes GitHub treat a private repo as absent.
    if (auth && auth[1] !== opts.token) return error(res, 401, 'Bad credentials');
    if (u.pathname === '/rate_limit' && req.method === 'GET') return send(res, 200, rateLimit(!!auth), {}, false);
    if (!auth) return error(res, 404, 'Not Found');
    const reported = await reporting.route(entry.method, u, () => readJson(req));
    if (reported) return send(res, reported.status, reported.body, reported.headers);
    if (req.method !== 'GET') return error(res, 404, 'Not Found');

    let m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/workflows\/([^/]+)\/runs$/.exec(u.pathname);
    if (m) {
      const [, owner, repo, wfId] = m.map(decodeURIComponent);
      const wf = workflows.find(
        (w) => w.owner === owner && w.repo === repo && (w.file === wfId || String(w.id) === wfId),
      );
      if (!wf) return error(res, 404, 'Not Found', `${DOCS}/actions/workflow-runs#list-workflow-runs-for-a-workflow`);
      await linkRuns(owner, repo);
      return listRuns(res, wf, u.searchParams, u.pathname);
    }
    m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/runs\/(\d+)$/.exec(u.pathname);
    if (m) {
      const [, owner, repo, id] = m.map(decodeURIComponent);
      await linkRuns(owner, repo);
      const run = allRuns.find((r) => r.id === Number(id) && r.repository.full_name === `${owner}/${repo}`);
      return run
        ? send(res, 200, run)
        : error(res, 404, 'Not Found', `${DOCS}/actions/workflow-runs#get-a-workflow-run`);
    }
    m = /^\/repos\/([^/]+)\/([^/]+)\/pulls\/(\d+)(\/commits)?$/.exec(u.pathname);
    if (m) {
      const [, owner, repo, n, commits] = m.map((x) => x && decodeURIComponent(x));
      const pr = pulls.find((p) => p.owner === owner && p.repo === repo && p.number === Number(n));
      if (!pr)
        return error(
          res,
          404,
          'Not Found',
          `${DOCS}/pulls/pulls#${commits ? 'list-commits-on-a-pull-request' : 'get-a-pull-request'}`,
        );
      if (!commits) return send(res, 200, await pullJson(pr));
      await refresh(pr);
      // This endpoint stops at 250 commits; GitHub points to the commits API for more.
      const { items, headers } = paged((await pullCommits(pr)).slice(0, 250), u.searchParams, u.pathname);
      return send(res, 200, items, headers);
    }
    return repoRoutes(res, u);
  }

  // GET /rate_limit's body: the token's budgets per resource (unauthenticated: 60 an hour).
  function rateLimit(authenticated: boolean) {
    const reset = Math.floor(Date.now() / 1000) + 3600;
    const core = authenticated
      ? { limit: 5000, used, remaining: Math.max(0, 5000 - used), reset }
      : { limit: 60, used: 0, remaining: 60, reset };
    const budget = (limit: number) => ({ limit, used: 0, remaining: limit, reset });
    return {
      resources: { core, search: budget(30), graphql: budget(5000), integration_manifest: budget(5000) },
      rate: core,
    };
  }

  const workflowJson = (wf: Workflow) => {
    const api = `${url}/repos/${wf.owner}/${wf.repo}/actions/workflows/${wf.id}`;
    const web = `https://github.com/${wf.owner}/${wf.repo}`;
    return {
      id: wf.id,
      node_id: `W_kwDO${Buffer.from(String(wf.id)).toString('base64url')}`,
      name: wf.name,
      path: `.github/workflows/${wf.file}`,
      state: 'active',
      created_at: '2024-01-02T03:04:05.000Z',
      updated_at: '2024-01-02T03:04:05.000Z',
      url: api,
      html_url: `${web}/blob/main/.github/workflows/${wf.file}`,
      badge_url: `${web}/workflows/${encodeURIComponent(wf.name)}/badge.svg`,
    };
  };

  // Files and refs of the repository, read from the origin's bare repo as GitHub serves them.
  async function contents(owner: string, repo: string, path: string, ref: string) {
    const at = `${ref}:${path}`;
    const type = await git(origin(), ['cat-file', '-t', at]).then(
      (t) => t.trim(),
      () => undefined,
    );
    const entry = (kind: 'file' | 'dir', name: string, sha: string, size: number, content?: string) => {
      const api = `${url}/repos/${owner}/${repo}/contents/${path}?ref=${ref}`;
      const html = `https://github.com/${owner}/${repo}/${kind === 'file' ? 'blob' : 'tree'}/${ref}/${path}`;
      const gitUrl = `${url}/repos/${owner}/${repo}/git/${kind === 'file' ? 'blobs' : 'trees'}/${sha}`;
      return {
        type: kind,
        ...(content !== undefined ? { encoding: 'base64', content } : {}),
        size,
        name,
        path,
        sha,
        url: api,
        git_url: gitUrl,
        html_url: html,
        download_url: kind === 'file' ? `https://raw.githubusercontent.com/${owner}/${repo}/${ref}/${path}` : null,
        _links: { self: api, git: gitUrl, html },
      };
    };
    if (type === 'blob') {
      const [sha, text] = await Promise.all([git(origin(), ['rev-parse', at]), git(origin(), ['show', at])]);
      // GitHub wraps the base64 at 60 characters.
      const base64 = Buffer.from(text).toString('base64').replace(/.{60}/g, '$&\n');
      return entry('file', path.split('/').pop()!, sha.trim(), Buffer.byteLength(text), base64);
    }
    if (type === 'tree') {
      const listing = await git(origin(), ['ls-tree', '-l', at]);
      return listing
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [meta, name] = line.split('\t');
          const [, kind, sha, size] = meta!.split(/\s+/);
          return {
            ...entry(kind === 'tree' ? 'dir' : 'file', name!, sha!, Number(size) || 0),
            path: `${path}/${name}`,
          };
        });
    }
    return undefined;
  }

  async function repoRoutes(res: ServerResponse, u: URL) {
    const m = /^\/repos\/([^/]+)\/([^/]+)(?:\/(.*))?$/.exec(u.pathname);
    const [owner, repo, rest] = m ? [m[1]!, m[2]!, m[3]].map((x) => x && decodeURIComponent(x)) : [];
    // The repositories this GitHub has: those with a workflow or a pull request.
    if (!m || !known(owner!, repo!)) return error(res, 404, 'Not Found', `${DOCS}/repos/repos#get-a-repository`);
    if (rest === undefined)
      // A token's view of the repository: `permissions` is the user's role, as GitHub sends it to a signed-in caller.
      return send(res, 200, {
        ...repoJson(owner!, repo!),
        default_branch: 'main',
        visibility: 'private',
        permissions: { admin: false, maintain: false, push: true, triage: true, pull: true },
      });
    if (rest === 'actions/workflows') {
      const mine = workflows.filter((w) => w.owner === owner && w.repo === repo);
      const { items, headers } = paged(mine, u.searchParams, u.pathname);
      return send(res, 200, { total_count: mine.length, workflows: items.map(workflowJson) }, headers);
    }
    let r = /^actions\/workflows\/([^/]+)$/.exec(rest!);
    if (r) {
      const wf = workflows.find(
        (w) => w.owner === owner && w.repo === repo && (w.file === r![1] || String(w.id) === r![1]),
      );
      return wf
        ? send(res, 200, workflowJson(wf))
        : error(res, 404, 'Not Found', `${DOCS}/actions/workflows#get-a-workflow`);
    }
    r = /^git\/ref\/heads\/(.+)$/.exec(rest!);
    if (r) {
      const sha = await tip(r[1]!);
      if (!sha) return error(res, 404, 'Not Found', `${DOCS}/git/refs#get-a-reference`);
      const api = `${url}/repos/${owner}/${repo}/git`;
      return send(res, 200, {
        ref: `refs/heads/${r[1]}`,
        node_id: `REF_kwDO${Buffer.from(r[1]!).toString('base64url')}`,
        url: `${api}/refs/heads/${r[1]}`,
        object: { sha, type: 'commit', url: `${api}/commits/${sha}` },
      });
    }
    r = /^contents\/(.+)$/.exec(rest!);
    if (r) {
      const found = await contents(owner!, repo!, r[1]!.replace(/\/+$/, ''), u.searchParams.get('ref') ?? 'main');
      return found
        ? send(res, 200, found)
        : error(res, 404, 'Not Found', `${DOCS}/repos/contents#get-repository-content`);
    }
    return error(res, 404, 'Not Found');
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) error(res, 500, String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    addWorkflow,
    addRun,
    setRun,
    addPullRequest,
    closePullRequest,
    requests,
    runs: () => [...allRuns],
    deployments: reporting.deployments,
    comments: reporting.comments,
    holdResponse: (match) => holds.hold(match),
    failNext(n, status, headers = {}, body) {
      for (let i = 0; i < n; i++) failures.push({ status, headers, body });
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        holds.releaseAll();
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
