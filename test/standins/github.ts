// Stand-in for the slice of GitHub's REST API the deployer uses (Actions runs).
// Speaks GitHub's wire format so the real @octokit/rest client can talk to it.
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

export type RunStatus = 'queued' | 'in_progress' | 'completed' | 'requested' | 'waiting' | 'pending';
export type RunConclusion =
  | 'success' | 'failure' | 'cancelled' | 'timed_out' | 'neutral' | 'skipped' | 'stale' | 'action_required' | null;

export interface AddRunInput {
  owner: string; repo: string; workflowFile?: string; headSha: string;
  branch?: string; event?: string; status?: RunStatus; conclusion?: RunConclusion; displayTitle?: string;
}
export type WorkflowRun = Record<string, any> & {
  id: number; head_sha: string; head_branch: string; event: string; status: RunStatus; conclusion: RunConclusion;
  workflow_id: number; run_number: number; run_attempt: number; created_at: string; updated_at: string;
};
export interface LoggedRequest { method: string; path: string; query: Record<string, string>; status: number }
export interface GitHubStandIn {
  url: string;
  addWorkflow(input: { owner: string; repo: string; workflowFile?: string; name?: string }): { id: number; path: string };
  addRun(input: AddRunInput): WorkflowRun;
  setRun(id: number, patch: { status?: RunStatus; conclusion?: RunConclusion; run_attempt?: number }): WorkflowRun;
  runs(): WorkflowRun[];
  requests: LoggedRequest[];
  failNext(n: number, status: number, headers?: Record<string, string>, body?: unknown): void;
  stop(): Promise<void>;
}

interface Workflow { id: number; owner: string; repo: string; file: string; name: string; runCount: number }

const DOCS = 'https://docs.github.com/rest';
// GitHub timestamps are ISO-8601 at second precision.
const ts = (d = new Date()) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const FAIL_MESSAGES: Record<number, string> = {
  403: 'API rate limit exceeded for user ID 1.',
  429: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
  500: 'Server Error',
  502: 'Server Error',
  503: 'No server is currently available to service your request. Sorry about that. Please try resubmitting your request and contact us if the problem persists.',
};

export async function startGitHubStandIn(opts: { token: string; workflows?: Array<{ owner: string; repo: string; workflowFile?: string }> }): Promise<GitHubStandIn> {
  const workflows: Workflow[] = [];
  const allRuns: WorkflowRun[] = [];
  const requests: LoggedRequest[] = [];
  const failures: Array<{ status: number; headers: Record<string, string>; body?: unknown }> = [];
  let nextRunId = 10_000_000_001; // real run ids exceed 2^31
  let used = 0;
  let url = '';

  const actor = { login: 'octocat', id: 1, node_id: 'MDQ6VXNlcjE=', type: 'User', site_admin: false };
  const repoJson = (owner: string, repo: string) => ({
    id: 1296269, node_id: 'MDEwOlJlcG9zaXRvcnkxMjk2MjY5', name: repo, full_name: `${owner}/${repo}`, private: true,
    owner: { ...actor, login: owner }, html_url: `https://github.com/${owner}/${repo}`, url: `${url}/repos/${owner}/${repo}`,
  });

  function addWorkflow({ owner, repo, workflowFile = 'ci.yml', name = 'CI' }: { owner: string; repo: string; workflowFile?: string; name?: string }) {
    let wf = workflows.find((w) => w.owner === owner && w.repo === repo && w.file === workflowFile);
    if (!wf) workflows.push((wf = { id: 61_000_000 + workflows.length + 1, owner, repo, file: workflowFile, name, runCount: 0 }));
    return { id: wf.id, path: `.github/workflows/${wf.file}` };
  }
  for (const w of opts.workflows ?? []) addWorkflow(w);

  function addRun(input: AddRunInput): WorkflowRun {
    const { owner, repo, workflowFile = 'ci.yml', headSha, branch = 'main', event = 'push', status = 'queued' } = input;
    addWorkflow({ owner, repo, workflowFile });
    const wf = workflows.find((w) => w.owner === owner && w.repo === repo && w.file === workflowFile)!;
    const id = nextRunId++;
    const now = ts();
    const api = `${url}/repos/${owner}/${repo}/actions`;
    const run: WorkflowRun = {
      id, name: wf.name, node_id: `WFR_kwLO${randomBytes(9).toString('base64url')}`,
      check_suite_id: id + 7, check_suite_node_id: `CS_kwDO${randomBytes(9).toString('base64url')}`,
      head_branch: branch, head_sha: headSha, path: `.github/workflows/${wf.file}`, display_title: input.displayTitle ?? wf.name,
      run_number: ++wf.runCount, event, status, conclusion: input.conclusion ?? null, workflow_id: wf.id,
      url: `${api}/runs/${id}`, html_url: `https://github.com/${owner}/${repo}/actions/runs/${id}`,
      pull_requests: [], created_at: now, updated_at: now, actor, run_attempt: 1, referenced_workflows: [],
      run_started_at: now, triggering_actor: actor, jobs_url: `${api}/runs/${id}/jobs`, logs_url: `${api}/runs/${id}/logs`,
      check_suite_url: `${url}/repos/${owner}/${repo}/check-suites/${id + 7}`, artifacts_url: `${api}/runs/${id}/artifacts`,
      cancel_url: `${api}/runs/${id}/cancel`, rerun_url: `${api}/runs/${id}/rerun`, previous_attempt_url: null,
      workflow_url: `${api}/workflows/${wf.id}`,
      head_commit: { id: headSha, tree_id: headSha, message: input.displayTitle ?? wf.name, timestamp: now,
        author: { name: 'Test Author', email: 'author@example.com' }, committer: { name: 'Test Committer', email: 'committer@example.com' } },
      repository: repoJson(owner, repo), head_repository: repoJson(owner, repo),
    };
    allRuns.push(run);
    return run;
  }

  function setRun(id: number, patch: { status?: RunStatus; conclusion?: RunConclusion; run_attempt?: number }): WorkflowRun {
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

  function send(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}) {
    used++;
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'x-github-api-version-selected': '2022-11-28',
      'x-github-media-type': 'github.v3; format=json',
      'x-github-request-id': randomBytes(8).toString('hex').toUpperCase(),
      'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': String(Math.max(0, 5000 - used)),
      'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600), 'x-ratelimit-used': String(used),
      'x-ratelimit-resource': 'core',
      ...extra,
    });
    res.end(JSON.stringify(body));
  }
  const error = (res: ServerResponse, status: number, message: string, doc = DOCS) =>
    send(res, status, { message, documentation_url: doc, status: String(status) });

  function listRuns(res: ServerResponse, wf: Workflow, q: URLSearchParams, path: string) {
    let runs = allRuns.filter((r) => r.workflow_id === wf.id);
    if (q.get('head_sha')) runs = runs.filter((r) => r.head_sha === q.get('head_sha'));
    if (q.get('branch')) runs = runs.filter((r) => r.head_branch === q.get('branch'));
    if (q.get('event')) runs = runs.filter((r) => r.event === q.get('event'));
    // GitHub's `status` filter accepts either a status or a conclusion.
    if (q.get('status')) runs = runs.filter((r) => r.status === q.get('status') || r.conclusion === q.get('status'));
    runs = [...runs].sort((a, b) => b.id - a.id); // newest first
    const perPage = Math.min(100, Math.max(1, Number(q.get('per_page') ?? 30) || 30));
    const page = Math.max(1, Number(q.get('page') ?? 1) || 1);
    const last = Math.max(1, Math.ceil(runs.length / perPage));
    const link = (p: number, rel: string) => {
      const u = new URLSearchParams(q); u.set('per_page', String(perPage)); u.set('page', String(p));
      return `<${url}${path}?${u}>; rel="${rel}"`;
    };
    const links = [page < last && link(page + 1, 'next'), page < last && link(last, 'last'),
      page > 1 && link(page - 1, 'prev'), page > 1 && link(1, 'first')].filter(Boolean);
    send(res, 200, { total_count: runs.length, workflow_runs: runs.slice((page - 1) * perPage, page * perPage) },
      links.length ? { link: links.join(', ') } : {});
  }

  function handle(req: IncomingMessage, res: ServerResponse) {
    const u = new URL(req.url ?? '/', 'http://localhost');
    const entry: LoggedRequest = { method: req.method ?? 'GET', path: u.pathname, query: Object.fromEntries(u.searchParams), status: 0 };
    requests.push(entry);
    res.on('finish', () => (entry.status = res.statusCode));

    const fail = failures.shift();
    if (fail) {
      const body = fail.body ?? { message: FAIL_MESSAGES[fail.status] ?? 'Server Error', documentation_url: DOCS, status: String(fail.status) };
      return send(res, fail.status, body, fail.status === 429 && !fail.headers['retry-after'] ? { 'retry-after': '1', ...fail.headers } : fail.headers);
    }
    const auth = /^(?:token|bearer)\s+(.+)$/i.exec(req.headers.authorization ?? '');
    // A wrong token is 401; no token at all makes GitHub treat a private repo as absent.
    if (auth && auth[1] !== opts.token) return error(res, 401, 'Bad credentials');
    if (!auth) return error(res, 404, 'Not Found');
    if (req.method !== 'GET') return error(res, 404, 'Not Found');

    let m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/workflows\/([^/]+)\/runs$/.exec(u.pathname);
    if (m) {
      const [, owner, repo, wfId] = m.map(decodeURIComponent);
      const wf = workflows.find((w) => w.owner === owner && w.repo === repo && (w.file === wfId || String(w.id) === wfId));
      if (!wf) return error(res, 404, 'Not Found', `${DOCS}/actions/workflow-runs#list-workflow-runs-for-a-workflow`);
      return listRuns(res, wf, u.searchParams, u.pathname);
    }
    m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/runs\/(\d+)$/.exec(u.pathname);
    if (m) {
      const [, owner, repo, id] = m.map(decodeURIComponent);
      const run = allRuns.find((r) => r.id === Number(id) && r.repository.full_name === `${owner}/${repo}`);
      return run ? send(res, 200, run) : error(res, 404, 'Not Found', `${DOCS}/actions/workflow-runs#get-a-workflow-run`);
    }
    // Pull request endpoints go here when needed:
    //   GET /repos/{o}/{r}/pulls/{n}          -> pull request object
    //   GET /repos/{o}/{r}/pulls/{n}/commits  -> array of commit objects
    return error(res, 404, 'Not Found');
  }

  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url, addWorkflow, addRun, setRun, requests,
    runs: () => [...allRuns],
    failNext(n, status, headers = {}, body) {
      for (let i = 0; i < n; i++) failures.push({ status, headers, body });
    },
    stop: () => new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((err) => (err ? reject(err) : resolve()));
    }),
  };
}
