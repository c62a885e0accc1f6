import { z } from 'zod';
import { isProductionOverlayCommit, TRAILER_WORKFLOW } from '../plan/trailers';
import { plainWords } from '../config/plain-words';
import type { DeployConfig } from '../config/schema';
import type { CiRun } from '../plan/ci';

/** What one GitHub delivery asks of the deployer. */
export type Decision =
  | { kind: 'start'; commit: string; before: string }
  | { kind: 'signal'; run: CiRun }
  | { kind: 'preview'; pr: number; commit: string; before?: string }
  | { kind: 'preview-closed'; pr: number; merged: boolean }
  | { kind: 'preview-ci'; run: CiRun; pullRequests: number[] }
  | { kind: 'ignore'; reason: string }
  | { kind: 'pong' };

/** A signed delivery whose payload lacks a field we read: the relay answers 400 naming `field`. */
export class PayloadError extends Error {
  override name = 'PayloadError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const sha = z.string().regex(/^[0-9a-f]{40}$/i, 'expected a 40-character commit id');
const repository = z.object({ full_name: z.string().min(1) });
const commit = z.object({ id: z.string(), message: z.string() });

// Only the fields decide() reads; GitHub sends many more, which are dropped.
const pushPayload = z.object({
  ref: z.string().min(1),
  before: sha,
  after: sha,
  deleted: z.boolean().optional(),
  repository,
  head_commit: commit.nullable().optional(),
  commits: z.array(commit).optional(),
});

const workflowRunPayload = z.object({
  action: z.string().min(1),
  workflow_run: z.object({
    id: z.number().int().positive(),
    name: z.string().nullish(),
    path: z.string().nullish(),
    workflow_id: z.number().int().nullish(),
    head_sha: sha,
    head_branch: z.string().nullable(),
    event: z.string(),
    status: z.string().nullable(),
    conclusion: z.string().nullable(),
    html_url: z.string().min(1),
    run_attempt: z.number().int().positive().optional(),
    /** Empty for a fork's pull request. */
    pull_requests: z.array(z.object({ number: z.number().int().positive() })).nullish(),
  }),
  workflow: z.object({ path: z.string().nullish() }).nullish(),
  repository,
});

type WorkflowRunPayload = z.output<typeof workflowRunPayload>;

const pullRequestPayload = z.object({
  action: z.string().min(1),
  number: z.number().int().positive(),
  /** synchronize only: the head before and after the push. */
  before: sha.optional(),
  after: sha.optional(),
  pull_request: z.object({
    head: z.object({ sha, ref: z.string().min(1), repo: repository.nullable() }),
    base: z.object({ ref: z.string().min(1), repo: repository }),
    merged: z.boolean().nullish(),
  }),
  repository,
});

function parse<T>(schema: z.ZodType<T>, payload: unknown, event: string): T {
  const result = schema.safeParse(payload, { error: plainWords });
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.join('.') || '(payload)';
  throw new PayloadError(field, `${event} payload: ${field}: ${issue.message}`);
}

const ZERO_SHA = /^0{40}$/;

function repositoryMatches(fullName: string, config: DeployConfig): boolean {
  return fullName.toLowerCase() === `${config.repository.owner}/${config.repository.name}`.toLowerCase();
}

function decidePush(payload: unknown, config: DeployConfig): Decision {
  const push = parse(pushPayload, payload, 'push');
  const main = `refs/heads/${config.repository.mainBranch}`;
  if (!repositoryMatches(push.repository.full_name, config))
    return ignore(`push to ${push.repository.full_name}, not the configured repository`);
  if (push.ref.startsWith('refs/tags/')) return ignore(`tag push ${push.ref}`);
  if (push.ref !== main) return ignore(`push to ${push.ref}, not ${main}`);
  if (push.deleted || ZERO_SHA.test(push.after)) return ignore(`${main} was deleted`);
  // The deployer's overlay commit: deploying it would only re-confirm what its own deploy did.
  // Skipped only when nothing else came with it, so a person's commit is never lost.
  const head = push.head_commit;
  const commits = push.commits ?? [];
  if (head && isProductionOverlayCommit(head.message) && commits.every((c) => isProductionOverlayCommit(c.message))) {
    return ignore(`the deployer's own overlay commit ${push.after.slice(0, 7)} (${TRAILER_WORKFLOW} trailer)`);
  }
  return { kind: 'start', commit: push.after.toLowerCase(), before: push.before.toLowerCase() };
}

/** ci.workflow is a file name (`ci.yml`), a workflow id, or a display name (`CI`), as findCiRun reads it. */
function isCiWorkflow(payload: WorkflowRunPayload, workflow: string): boolean {
  const run = payload.workflow_run;
  if (/^\d+$/.test(workflow)) return String(run.workflow_id) === workflow;
  if (/\.ya?ml$/.test(workflow)) {
    // Paths may carry an `@ref` suffix (reusable and dynamic workflows).
    const paths = [run.path, payload.workflow?.path].filter((p): p is string => !!p).map((p) => p.replace(/@.*$/, ''));
    return paths.some((p) => p === workflow || p.endsWith(`/${workflow}`));
  }
  return run.name === workflow;
}

function decideWorkflowRun(payload: unknown, config: DeployConfig): Decision {
  const event = parse(workflowRunPayload, payload, 'workflow_run');
  const run = event.workflow_run;
  const { mainBranch } = config.repository;
  if (event.action !== 'completed') return ignore(`workflow_run ${event.action}: only completed runs matter`);
  if (!repositoryMatches(event.repository.full_name, config))
    return ignore(`workflow run in ${event.repository.full_name}, not the configured repository`);
  if (!isCiWorkflow(event, config.ci.workflow))
    return ignore(`workflow "${run.name ?? run.path}" is not the CI workflow ${config.ci.workflow}`);
  const ciRun: CiRun = {
    id: run.id,
    status: run.status ?? 'completed',
    conclusion: run.conclusion,
    url: run.html_url,
    headSha: run.head_sha.toLowerCase(),
    attempt: run.run_attempt,
  };
  if (run.event === 'pull_request' && config.preview) {
    const pullRequests = (run.pull_requests ?? []).map((p) => p.number);
    // GitHub lists no pull request for a fork's run; forks get no preview anyway.
    if (!pullRequests.length)
      return ignore(
        `CI run ${run.id} for a pull request from a fork (the run names no pull request of this repository)`,
      );
    return { kind: 'preview-ci', run: ciRun, pullRequests };
  }
  if (run.head_branch !== mainBranch || run.event !== 'push')
    return ignore(`CI run for a ${run.event} on ${run.head_branch ?? '(no branch)'}, not a push to ${mainBranch}`);
  return { kind: 'signal', run: ciRun };
}

/**
 * A pull request's head moved (opened, a push, reopened): preview it; closed: the preview goes.
 * A synchronize payload carries no commit messages, so the deployer's own overlay push is told
 * apart by the PR's preview workflow, which made it (its `before` is the commit it previewed).
 */
function decidePullRequest(payload: unknown, config: DeployConfig): Decision {
  const event = parse(pullRequestPayload, payload, 'pull_request');
  if (!repositoryMatches(event.repository.full_name, config))
    return ignore(`pull request in ${event.repository.full_name}, not the configured repository`);
  if (!config.preview) return ignore('previews are not configured (no preview section in the configuration)');
  switch (event.action) {
    case 'opened':
    case 'reopened':
    case 'synchronize':
      return {
        kind: 'preview',
        pr: event.number,
        commit: event.pull_request.head.sha.toLowerCase(),
        ...(event.before ? { before: event.before.toLowerCase() } : {}),
      };
    case 'closed':
      return { kind: 'preview-closed', pr: event.number, merged: Boolean(event.pull_request.merged) };
    default:
      return ignore(`pull_request ${event.action}: only opened, synchronize, reopened and closed change a preview`);
  }
}

function ignore(reason: string): Decision {
  return { kind: 'ignore', reason };
}

/**
 * What a verified delivery means, from its `X-GitHub-Event` name and parsed body. Pure, so every
 * rule is a table test. Throws PayloadError when a field we read is missing or of the wrong type.
 */
export function decide(event: string, payload: unknown, config: DeployConfig): Decision {
  switch (event) {
    case 'ping':
      return { kind: 'pong' };
    case 'push':
      return decidePush(payload, config);
    case 'workflow_run':
      return decideWorkflowRun(payload, config);
    case 'pull_request':
      return decidePullRequest(payload, config);
    default:
      return ignore(`event "${event}" is not handled (only push, pull_request, workflow_run and ping)`);
  }
}
