// The reporting half of the GitHub stand-in: Deployments, their statuses and issue comments, kept
// here and rendered in GitHub's shapes (github.ts serves them over HTTP). Validates what GitHub
// validates, so a request the real API would refuse fails here too.
import { ts } from './github-pulls';

/** What the routes need from the stand-in. */
export interface ReportingContext {
  readonly url: string;
  actor: Record<string, any> & { login: string; id: number };
  repoJson(owner: string, repo: string): Record<string, any>;
  /** The repositories this GitHub has. */
  known(owner: string, repo: string): boolean;
  /** Whether owner/repo has an issue (here: a pull request) with this number. */
  hasIssue(owner: string, repo: string, number: number): boolean;
  /** The commit a ref (branch, tag, commit id) names; undefined: no such ref; null: no origin to ask. */
  resolve(ref: string): Promise<string | undefined | null>;
  paged<T>(items: T[], q: URLSearchParams, path: string): { items: T[]; headers: Record<string, string> };
}

/** One answer, for github.ts to send. */
export interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export const DEPLOYMENT_STATES = [
  'error',
  'failure',
  'inactive',
  'in_progress',
  'queued',
  'pending',
  'success',
] as const;
export type DeploymentStatusState = (typeof DEPLOYMENT_STATES)[number];

export type DeploymentJson = Record<string, any> & {
  id: number;
  sha: string;
  ref: string;
  environment: string;
  payload: unknown;
  description: string | null;
  transient_environment: boolean;
  production_environment: boolean;
};
export type DeploymentStatusJson = Record<string, any> & {
  id: number;
  state: DeploymentStatusState;
  description: string;
  environment: string;
  log_url: string;
  environment_url: string;
};
export type IssueCommentJson = Record<string, any> & { id: number; body: string; html_url: string };

interface Deployment {
  owner: string;
  repo: string;
  id: number;
  nodeId: string;
  sha: string;
  ref: string;
  task: string;
  payload: unknown;
  originalEnvironment: string;
  environment: string;
  description: string | null;
  transient: boolean;
  production: boolean;
  createdAt: string;
  updatedAt: string;
  statuses: Status[];
}
interface Status {
  id: number;
  nodeId: string;
  state: DeploymentStatusState;
  description: string;
  environment: string;
  logUrl: string;
  environmentUrl: string;
  createdAt: string;
}
interface Comment {
  owner: string;
  repo: string;
  issue: number;
  id: number;
  nodeId: string;
  body: string;
  createdAt: string;
  updatedAt: string;
}

/** A request body that is not JSON: GitHub answers 400. */
export class BadJson extends Error {}

const DOCS = 'https://docs.github.com/rest';
const DOC = {
  createDeployment: `${DOCS}/deployments/deployments#create-a-deployment`,
  getDeployment: `${DOCS}/deployments/deployments#get-a-deployment`,
  createStatus: `${DOCS}/deployments/statuses#create-a-deployment-status`,
  getStatus: `${DOCS}/deployments/statuses#get-a-deployment-status`,
  listComments: `${DOCS}/issues/comments#list-issue-comments`,
  createComment: `${DOCS}/issues/comments#create-an-issue-comment`,
  getComment: `${DOCS}/issues/comments#get-an-issue-comment`,
};
const DESCRIPTION_LIMIT = 140;
const COMMENT_LIMIT = 65_536;

const answer = (status: number, body: unknown, headers?: Record<string, string>): Answer => ({
  status,
  body,
  ...(headers ? { headers } : {}),
});
const failure = (status: number, message: string, doc: string, errors?: unknown[]): Answer =>
  answer(status, { message, ...(errors ? { errors } : {}), documentation_url: doc, status: String(status) });
const notFound = (doc: string) => failure(404, 'Not Found', doc);
// GitHub's schema check names the first thing wrong with the body.
const invalid = (doc: string, why: string) => failure(422, `Invalid request.\n\n${why}`, doc);
const tooLong = (doc: string, resource: string, field: string, limit: number) =>
  failure(422, 'Validation Failed', doc, [
    { resource, code: 'custom', field, message: `${field} is too long (maximum is ${limit} characters)` },
  ]);
const nodeId = (prefix: string, id: number) => `${prefix}_kwDO${Buffer.from(String(id)).toString('base64url')}`;

export function reportingApi(ctx: ReportingContext) {
  const deployments: Deployment[] = [];
  const comments: Comment[] = [];
  let nextDeploymentId = 3_000_000_001; // real ids exceed 2^31
  let nextStatusId = 12_000_000_001;
  let nextCommentId = 2_600_000_001;

  const api = (owner: string, repo: string) => `${ctx.url}/repos/${owner}/${repo}`;

  const deploymentJson = (d: Deployment): DeploymentJson => ({
    url: `${api(d.owner, d.repo)}/deployments/${d.id}`,
    id: d.id,
    node_id: d.nodeId,
    task: d.task,
    original_environment: d.originalEnvironment,
    environment: d.environment,
    description: d.description,
    created_at: d.createdAt,
    updated_at: d.updatedAt,
    statuses_url: `${api(d.owner, d.repo)}/deployments/${d.id}/statuses`,
    repository_url: api(d.owner, d.repo),
    creator: ctx.actor,
    sha: d.sha,
    ref: d.ref,
    payload: d.payload,
    transient_environment: d.transient,
    production_environment: d.production,
    performed_via_github_app: null,
  });
  const statusJson = (d: Deployment, s: Status): DeploymentStatusJson => ({
    url: `${api(d.owner, d.repo)}/deployments/${d.id}/statuses/${s.id}`,
    id: s.id,
    node_id: s.nodeId,
    state: s.state,
    creator: ctx.actor,
    description: s.description,
    environment: s.environment,
    target_url: s.logUrl,
    created_at: s.createdAt,
    updated_at: s.createdAt,
    deployment_url: `${api(d.owner, d.repo)}/deployments/${d.id}`,
    repository_url: api(d.owner, d.repo),
    environment_url: s.environmentUrl,
    log_url: s.logUrl,
    performed_via_github_app: null,
  });
  const commentJson = (c: Comment): IssueCommentJson => {
    const web = `https://github.com/${c.owner}/${c.repo}`;
    const self = `${api(c.owner, c.repo)}/issues/comments/${c.id}`;
    return {
      url: self,
      html_url: `${web}/pull/${c.issue}#issuecomment-${c.id}`,
      issue_url: `${api(c.owner, c.repo)}/issues/${c.issue}`,
      id: c.id,
      node_id: c.nodeId,
      user: ctx.actor,
      created_at: c.createdAt,
      updated_at: c.updatedAt,
      author_association: 'MEMBER',
      body: c.body,
      reactions: {
        url: `${self}/reactions`,
        total_count: 0,
        '+1': 0,
        '-1': 0,
        laugh: 0,
        hooray: 0,
        confused: 0,
        heart: 0,
        rocket: 0,
        eyes: 0,
      },
      performed_via_github_app: null,
    };
  };

  const newestFirst = <T extends { id: number }>(items: T[]) => [...items].sort((a, b) => b.id - a.id);
  const record = (value: unknown): Record<string, unknown> | undefined =>
    value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;

  async function createDeployment(owner: string, repo: string, raw: unknown): Promise<Answer> {
    const body = record(raw);
    if (!body) return invalid(DOC.createDeployment, 'Body must be an object.');
    const { ref, task = 'deploy', environment = 'production', description = null, payload = {} } = body;
    if (typeof ref !== 'string' || !ref) return invalid(DOC.createDeployment, '"ref" wasn\'t supplied.');
    for (const [field, value] of Object.entries({ task, environment }))
      if (typeof value !== 'string')
        return invalid(DOC.createDeployment, `For 'properties/${field}', ${JSON.stringify(value)} is not a string.`);
    if (description !== null && typeof description !== 'string')
      return invalid(
        DOC.createDeployment,
        `For 'properties/description', ${JSON.stringify(description)} is not a string or null.`,
      );
    if (body.auto_merge !== undefined && typeof body.auto_merge !== 'boolean')
      return invalid(
        DOC.createDeployment,
        `For 'properties/auto_merge', ${JSON.stringify(body.auto_merge)} is not a boolean.`,
      );
    const contexts = body.required_contexts;
    if (contexts !== undefined && !(Array.isArray(contexts) && contexts.every((c) => typeof c === 'string')))
      return invalid(
        DOC.createDeployment,
        `For 'properties/required_contexts', ${JSON.stringify(contexts)} is not an array of strings.`,
      );
    if (typeof payload !== 'string' && !record(payload))
      return invalid(
        DOC.createDeployment,
        `For 'properties/payload', ${JSON.stringify(payload)} is not an object or a string.`,
      );
    if (typeof description === 'string' && description.length > DESCRIPTION_LIMIT)
      return tooLong(DOC.createDeployment, 'Deployment', 'description', DESCRIPTION_LIMIT);
    for (const flag of ['transient_environment', 'production_environment'])
      if (body[flag] !== undefined && typeof body[flag] !== 'boolean')
        return invalid(
          DOC.createDeployment,
          `For 'properties/${flag}', ${JSON.stringify(body[flag])} is not a boolean.`,
        );
    // Without an origin to ask, only a full commit id names a commit.
    const resolved = await ctx.resolve(ref);
    const sha = resolved === null ? (/^[0-9a-f]{40}$/i.test(ref) ? ref.toLowerCase() : undefined) : resolved;
    if (!sha) return failure(422, `No ref found for: ${ref}`, DOC.createDeployment);
    const now = ts();
    const id = nextDeploymentId++;
    const d: Deployment = {
      owner,
      repo,
      id,
      nodeId: nodeId('DE', id),
      sha,
      ref,
      task: task as string,
      payload,
      originalEnvironment: environment as string,
      environment: environment as string,
      description: description as string | null,
      // GitHub's defaults: an environment named production is a production one.
      transient: body.transient_environment === true,
      production:
        typeof body.production_environment === 'boolean' ? body.production_environment : environment === 'production',
      createdAt: now,
      updatedAt: now,
      statuses: [],
    };
    deployments.push(d);
    return answer(201, deploymentJson(d));
  }

  function addStatus(d: Deployment, fields: Omit<Status, 'id' | 'nodeId' | 'createdAt'>): Status {
    const id = nextStatusId++;
    const s: Status = { id, nodeId: nodeId('DES', id), createdAt: ts(), ...fields };
    d.statuses.push(s);
    d.updatedAt = s.createdAt;
    return s;
  }

  function createStatus(d: Deployment, raw: unknown): Answer {
    const body = record(raw);
    if (!body) return invalid(DOC.createStatus, 'Body must be an object.');
    const { state, description = '', environment, environment_url = '', auto_inactive = true } = body;
    const logUrl = body.log_url ?? body.target_url ?? '';
    if (state === undefined) return invalid(DOC.createStatus, '"state" wasn\'t supplied.');
    if (!DEPLOYMENT_STATES.includes(state as DeploymentStatusState))
      return invalid(
        DOC.createStatus,
        `For 'properties/state', ${JSON.stringify(state)} is not one of ${DEPLOYMENT_STATES.join(', ')}.`,
      );
    for (const [field, value] of Object.entries({ description, environment_url, log_url: logUrl }))
      if (typeof value !== 'string')
        return invalid(DOC.createStatus, `For 'properties/${field}', ${JSON.stringify(value)} is not a string.`);
    if (environment !== undefined && typeof environment !== 'string')
      return invalid(DOC.createStatus, `For 'properties/environment', ${JSON.stringify(environment)} is not a string.`);
    if (typeof auto_inactive !== 'boolean')
      return invalid(
        DOC.createStatus,
        `For 'properties/auto_inactive', ${JSON.stringify(auto_inactive)} is not a boolean.`,
      );
    if ((description as string).length > DESCRIPTION_LIMIT)
      return tooLong(DOC.createStatus, 'DeploymentStatus', 'description', DESCRIPTION_LIMIT);
    // A status may move its deployment to another environment.
    if (environment) d.environment = environment;
    const s = addStatus(d, {
      state: state as DeploymentStatusState,
      description: description as string,
      environment: d.environment,
      logUrl: logUrl as string,
      environmentUrl: environment_url as string,
    });
    // GitHub's auto_inactive: prior successful deployments of the same environment go inactive,
    // except production and transient ones.
    if (s.state === 'success' && auto_inactive)
      for (const prior of deployments)
        if (
          prior.id < d.id &&
          prior.owner === d.owner &&
          prior.repo === d.repo &&
          prior.environment === d.environment &&
          !prior.transient &&
          !prior.production &&
          prior.statuses.at(-1)?.state === 'success'
        )
          addStatus(prior, {
            state: 'inactive',
            description: '',
            environment: prior.environment,
            logUrl: '',
            environmentUrl: '',
          });
    return answer(201, statusJson(d, s));
  }

  function upsertComment(
    owner: string,
    repo: string,
    raw: unknown,
    existing: Comment | undefined,
    issue: number,
  ): Answer {
    const doc = existing ? DOC.getComment : DOC.createComment;
    const body = record(raw)?.body;
    if (typeof body !== 'string') return invalid(doc, '"body" wasn\'t supplied.');
    if (body.length > COMMENT_LIMIT) return tooLong(doc, 'IssueComment', 'body', COMMENT_LIMIT);
    const now = ts();
    if (existing) {
      existing.body = body;
      existing.updatedAt = now;
      return answer(200, commentJson(existing));
    }
    const id = nextCommentId++;
    const c: Comment = { owner, repo, issue, id, nodeId: nodeId('IC', id), body, createdAt: now, updatedAt: now };
    comments.push(c);
    return answer(201, commentJson(c));
  }

  /**
   * The answer to a request for one of these endpoints, once applied; undefined when the path is
   * not one of them. `body` reads the request's JSON (throws BadJson).
   */
  async function route(method: string, u: URL, body: () => Promise<unknown>): Promise<Answer | undefined> {
    const m = /^\/repos\/([^/]+)\/([^/]+)\/(deployments(?:\/.*)?|issues\/(?:\d+\/comments|comments\/\d+))$/.exec(
      u.pathname,
    );
    if (!m) return undefined;
    const [owner, repo, rest] = [m[1]!, m[2]!, m[3]!].map(decodeURIComponent) as [string, string, string];
    if (!ctx.known(owner, repo)) return notFound(`${DOCS}/repos/repos#get-a-repository`);
    const q = u.searchParams;
    try {
      return await dispatch(method, owner, repo, rest, q, u.pathname, body);
    } catch (err) {
      if (err instanceof BadJson) return failure(400, 'Problems parsing JSON', DOCS);
      throw err;
    }
  }

  async function dispatch(
    method: string,
    owner: string,
    repo: string,
    rest: string,
    q: URLSearchParams,
    path: string,
    body: () => Promise<unknown>,
  ): Promise<Answer> {
    const mine = <T extends { owner: string; repo: string }>(items: T[]) =>
      items.filter((x) => x.owner === owner && x.repo === repo);
    if (rest === 'deployments') {
      if (method === 'POST') return createDeployment(owner, repo, await body());
      if (method !== 'GET') return notFound(DOC.createDeployment);
      let list = mine(deployments);
      for (const [param, field] of [
        ['sha', 'sha'],
        ['ref', 'ref'],
        ['task', 'task'],
        ['environment', 'environment'],
      ] as const) {
        const want = q.get(param);
        if (want) list = list.filter((d) => d[field] === want);
      }
      const { items, headers } = ctx.paged(newestFirst(list), q, path);
      return answer(200, items.map(deploymentJson), headers);
    }
    let r = /^deployments\/(\d+)(?:\/statuses(?:\/(\d+))?)?$/.exec(rest);
    if (r) {
      const d = mine(deployments).find((x) => x.id === Number(r![1]));
      const statuses = rest.includes('/statuses');
      if (!d) return notFound(statuses ? DOC.createStatus : DOC.getDeployment);
      if (!statuses) return method === 'GET' ? answer(200, deploymentJson(d)) : notFound(DOC.getDeployment);
      if (r[2]) {
        const s = d.statuses.find((x) => x.id === Number(r![2]));
        return method === 'GET' && s ? answer(200, statusJson(d, s)) : notFound(DOC.getStatus);
      }
      if (method === 'POST') return createStatus(d, await body());
      if (method !== 'GET') return notFound(DOC.createStatus);
      const { items, headers } = ctx.paged(newestFirst(d.statuses), q, path);
      return answer(
        200,
        items.map((s) => statusJson(d, s)),
        headers,
      );
    }
    r = /^issues\/(\d+)\/comments$/.exec(rest);
    if (r) {
      const issue = Number(r[1]);
      if (!ctx.hasIssue(owner, repo, issue)) return notFound(DOC.listComments);
      if (method === 'POST') return upsertComment(owner, repo, await body(), undefined, issue);
      if (method !== 'GET') return notFound(DOC.listComments);
      const list = mine(comments).filter((c) => c.issue === issue); // oldest first, as GitHub lists them
      const { items, headers } = ctx.paged(list, q, path);
      return answer(200, items.map(commentJson), headers);
    }
    r = /^issues\/comments\/(\d+)$/.exec(rest);
    const c = r && mine(comments).find((x) => x.id === Number(r![1]));
    if (!c) return notFound(DOC.getComment);
    if (method === 'GET') return answer(200, commentJson(c));
    if (method === 'PATCH') return upsertComment(owner, repo, await body(), c, c.issue);
    return notFound(DOC.getComment);
  }

  return {
    route,
    /** Every Deployment, oldest first, each with its statuses oldest first. */
    deployments: (): Array<DeploymentJson & { statuses: DeploymentStatusJson[] }> =>
      deployments.map((d) => ({ ...deploymentJson(d), statuses: d.statuses.map((s) => statusJson(d, s)) })),
    /** The comments on pull request (issue) #n, oldest first. */
    comments: (issue: number): IssueCommentJson[] => comments.filter((c) => c.issue === issue).map(commentJson),
  };
}

/** A request's JSON body; an empty one is `{}`. */
export async function readJson(req: AsyncIterable<Buffer | string>): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new BadJson('Problems parsing JSON');
  }
}
