import { z } from 'zod';
import { TRAILER_WORKFLOW } from '../activities/overlay';
import type { DeployConfig } from '../config/schema';
import type { CiRun } from '../plan/ci';

/** What one GitHub delivery asks of the deployer. */
export type Decision =
  | { kind: 'start'; commit: string; before: string }
  | { kind: 'signal'; run: CiRun }
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
  }),
  workflow: z.object({ path: z.string().nullish() }).nullish(),
  repository,
});

type WorkflowRunPayload = z.output<typeof workflowRunPayload>;

function parse<T>(schema: z.ZodType<T>, payload: unknown, event: string): T {
  const result = schema.safeParse(payload);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.join('.') || '(payload)';
  throw new PayloadError(field, `${event} payload: ${field}: ${issue.message}`);
}

const ZERO_SHA = /^0{40}$/;

/** Git trailers live in the message's last paragraph; a quoted trailer in a body does not count. */
export function hasDeployerTrailer(message: string): boolean {
  const paragraphs = message.replace(/\r\n/g, '\n').trim().split(/\n\s*\n/);
  const trailer = new RegExp(`^${TRAILER_WORKFLOW}:[ \\t]*\\S`, 'im');
  return trailer.test(paragraphs.at(-1) ?? '');
}

function repositoryMatches(fullName: string, config: DeployConfig): boolean {
  return fullName.toLowerCase() === `${config.repository.owner}/${config.repository.name}`.toLowerCase();
}

function decidePush(payload: unknown, config: DeployConfig): Decision {
  const push = parse(pushPayload, payload, 'push');
  const main = `refs/heads/${config.repository.mainBranch}`;
  if (!repositoryMatches(push.repository.full_name, config)) return ignore(`push to ${push.repository.full_name}, not the configured repository`);
  if (push.ref.startsWith('refs/tags/')) return ignore(`tag push ${push.ref}`);
  if (push.ref !== main) return ignore(`push to ${push.ref}, not ${main}`);
  if (push.deleted || ZERO_SHA.test(push.after)) return ignore(`${main} was deleted`);
  // The deployer's overlay commit: deploying it would only re-confirm what its own deploy did.
  // Skipped only when nothing else came with it, so a person's commit is never lost.
  const head = push.head_commit;
  const commits = push.commits ?? [];
  if (head && hasDeployerTrailer(head.message) && commits.every((c) => hasDeployerTrailer(c.message))) {
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
  if (!repositoryMatches(event.repository.full_name, config)) return ignore(`workflow run in ${event.repository.full_name}, not the configured repository`);
  if (!isCiWorkflow(event, config.ci.workflow)) return ignore(`workflow "${run.name ?? run.path}" is not the CI workflow ${config.ci.workflow}`);
  if (run.head_branch !== mainBranch || run.event !== 'push') return ignore(`CI run for a ${run.event} on ${run.head_branch ?? '(no branch)'}, not a push to ${mainBranch}`);
  return {
    kind: 'signal',
    run: { id: run.id, status: run.status ?? 'completed', conclusion: run.conclusion, url: run.html_url, headSha: run.head_sha.toLowerCase(), attempt: run.run_attempt },
  };
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
    default:
      return ignore(`event "${event}" is not handled (only push, workflow_run and ping)`);
  }
}
