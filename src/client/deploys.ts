import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowExecutionStatusName,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, type SignalDefinition } from '@temporalio/common';
import type { DeployConfig } from '../config/schema';
import type { CiRun } from '../plan/ci';
import { ciCompletedSignal, deployWorkflowId, statusQuery } from '../workflows/definitions';
import {
  DeployCommit,
  DeployEnvironment,
  DeployPath,
  DeployPhase,
  DeployPullRequest,
  ImageTag,
} from '../workflows/search-attributes';
import { previewDeployWorkflowId } from '../workflows/preview-definitions';
import type { DeployInput, DeployPhase as Phase, DeployStatus } from '../workflows/types';
import type { environment } from '../workflows/environment';
import type { productionDeploy } from '../workflows/deploy';
import {
  deployRequestedSignal,
  environmentWorkflowId,
  type DeployRequest,
  type EnvironmentInput,
} from '../workflows/environment-definitions';
import type { DeployPath as Path } from '../plan/classify';

export interface StartedDeploy {
  workflowId: string;
  /** false when this commit's deploy already ran or is running (a redelivery, a second start). */
  started: boolean;
}

/**
 * Starts the production deploy of one merge commit. First the environment (`env-production`) is
 * signalled with signal-with-start, so it runs and records the request; then the deploy itself is
 * started. Its id comes from repository and commit, so a repeated start while it runs or after it
 * succeeded is a no-op; a failed deploy may be started again.
 */
export async function startDeploy(
  client: Client,
  config: DeployConfig,
  request: DeployRequest,
): Promise<StartedDeploy> {
  const repository = repositoryOf(config);
  const commit = request.commit.toLowerCase();
  const workflowId = deployWorkflowId(repository, commit);
  const environmentId = environmentWorkflowId(config.environment.name);
  await signalEnvironment(client, config, deployRequestedSignal, { ...request, commit });
  try {
    await client.workflow.start<typeof productionDeploy>('productionDeploy', {
      taskQueue: config.temporal.taskQueue,
      workflowId,
      args: [
        {
          repository,
          commit,
          before: request.before,
          requestedBy: request.requestedBy,
          environmentWorkflowId: environmentId,
        },
      ],
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      staticSummary: `deploy ${repository}@${commit.slice(0, 7)} to ${config.environment.name}`,
      staticDetails: `Merge commit ${commit}${request.before ? ` (main was ${request.before.slice(0, 7)})` : ''}, requested by ${request.requestedBy ?? 'unknown'}.`,
      // Set at start so the deploy is searchable before its first task runs.
      typedSearchAttributes: config.temporal.searchAttributes
        ? [
            { key: DeployEnvironment, value: config.environment.name },
            { key: DeployCommit, value: commit },
            { key: DeployPhase, value: 'detecting' },
          ]
        : undefined,
    });
    return { workflowId, started: true };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, started: false };
    throw err;
  }
}

/** How the environment workflow is started by whoever speaks to it first (signal- or update-with-start). */
export function environmentStartOptions(config: DeployConfig) {
  const repository = repositoryOf(config);
  const { name } = config.environment;
  return {
    taskQueue: config.temporal.taskQueue,
    workflowId: environmentWorkflowId(name),
    args: [{ environment: name, repository }] as [EnvironmentInput],
    staticSummary: `${name} environment of ${repository}: one overlay change at a time`,
  };
}

/** Signal-with-start of the environment workflow: whoever speaks first starts it. */
export async function signalEnvironment<T>(
  client: Client,
  config: DeployConfig,
  signal: SignalDefinition<[T]>,
  arg: T,
): Promise<void> {
  await client.workflow.signalWithStart<typeof environment, [T]>('environment', {
    ...environmentStartOptions(config),
    signal,
    signalArgs: [arg],
  });
}

export function environmentHandle(client: Client, config: DeployConfig) {
  return client.workflow.getHandle<typeof environment>(environmentWorkflowId(config.environment.name));
}

export async function deployStatus(client: Client, config: DeployConfig, commit: string): Promise<DeployStatus> {
  const repository = `${config.repository.owner}/${config.repository.name}`;
  return client.workflow.getHandle(deployWorkflowId(repository, commit)).query(statusQuery);
}

/**
 * Tells the deploy of `run.headSha` that its CI run completed. Returns false when no deploy of that
 * commit is running (a CI run of a docs-only merge, or one that finished already): nothing to do.
 */
export async function signalCiCompleted(client: Client, config: DeployConfig, run: CiRun): Promise<boolean> {
  const repository = `${config.repository.owner}/${config.repository.name}`;
  try {
    await client.workflow.getHandle(deployWorkflowId(repository, run.headSha)).signal(ciCompletedSignal, run);
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/** A deploy as deployctl shows it: the workflow's execution status beside the `status` query's answer. */
export interface DeployView {
  workflowId: string;
  /** RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, ... */
  execution: WorkflowExecutionStatusName;
  status: DeployStatus;
}

/**
 * The deploy of one commit, running or closed. A closed deploy's status comes from its history
 * (the result, or the DeployFailed details), so no worker is needed; a running one is asked the
 * `status` query, bounded by `queryTimeoutMs` so a missing worker does not hang the caller.
 */
export async function inspectDeploy(
  client: Client,
  config: DeployConfig,
  commit: string,
  queryTimeoutMs = 10_000,
  pr?: number,
): Promise<DeployView> {
  const handle = client.workflow.getHandle<(input: DeployInput) => Promise<DeployStatus>>(
    deployIdOf(config, commit, pr),
  );
  const info = await handle.describe();
  const execution = info.status.name;
  const closed = execution === 'RUNNING' ? undefined : await statusFromHistory(handle);
  if (closed) return { workflowId: handle.workflowId, execution, status: closed };
  try {
    const status = await client.connection.withDeadline(Date.now() + queryTimeoutMs, () => handle.query(statusQuery));
    return { workflowId: handle.workflowId, execution, status };
  } catch (err) {
    // Terminated or cancelled with no worker to replay it: what visibility knows is still worth showing.
    if (execution !== 'RUNNING')
      return {
        workflowId: handle.workflowId,
        execution,
        status: { ...statusFromInfo(info, commit, config), ...(pr ? { pr } : {}) },
      };
    throw new Error(
      `no worker answered the status query of ${handle.workflowId} within ${queryTimeoutMs / 1000}s (is a worker polling task queue "${config.temporal.taskQueue}"?): ${(err as Error).message}`,
    );
  }
}

async function statusFromHistory(handle: WorkflowHandle): Promise<DeployStatus | undefined> {
  try {
    return (await handle.result()) as DeployStatus;
  } catch (err) {
    // The workflow fails with ApplicationFailure('DeployFailed', status) carrying its last status.
    const cause = err instanceof WorkflowFailedError ? err.cause : undefined;
    if (cause instanceof ApplicationFailure && cause.type === 'DeployFailed' && cause.details?.[0])
      return cause.details[0] as DeployStatus;
    return undefined;
  }
}

function statusFromInfo(info: WorkflowExecutionDescription, commit: string, config: DeployConfig): DeployStatus {
  const sa = info.typedSearchAttributes;
  const started = info.startTime.toISOString();
  return {
    phase: (sa.get(DeployPhase) as Phase | undefined) ?? 'detecting',
    repository: repositoryOf(config),
    commit,
    path: sa.get(DeployPath) as Path | undefined,
    tag: sa.get(ImageTag),
    digests: {},
    error: `the deploy workflow was ${info.status.name.toLowerCase().replace('_', ' ')}`,
    startedAt: started,
    updatedAt: info.closeTime?.toISOString() ?? started,
    phases: {},
  };
}

/** A production deploy's workflow id, or with `pr` the preview deploy's. */
export function deployIdOf(config: DeployConfig, commit: string, pr?: number): string {
  return pr
    ? previewDeployWorkflowId(repositoryOf(config), pr, commit)
    : deployWorkflowId(repositoryOf(config), commit);
}

/** One row of `deployctl list`, from visibility (search attributes), without asking any worker. */
export interface DeployListing {
  workflowId: string;
  environment?: string;
  pr?: number;
  commit?: string;
  phase?: string;
  path?: string;
  tag?: string;
  execution: WorkflowExecutionStatusName;
  startTime: string;
  closeTime?: string;
}

export interface ListFilter {
  /** `production` (environment.name) or `preview`; default both. */
  env?: 'production' | 'preview';
  pr?: number;
  running?: boolean;
  phase?: Phase;
  path?: Path;
  limit: number;
}

/** The visibility query for this repository's deploys, production and previews side by side. Values are validated by the caller's choices. */
export function listQuery(config: DeployConfig, filter: Omit<ListFilter, 'limit'>): string {
  const production = `(${DeployEnvironment.name} = "${config.environment.name}" AND WorkflowType = "productionDeploy" AND WorkflowId STARTS_WITH "${deployWorkflowId(repositoryOf(config), '')}")`;
  const previews = `(${DeployEnvironment.name} = "preview" AND WorkflowType = "previewDeploy" AND WorkflowId STARTS_WITH "preview-${repositoryOf(config).replace('/', '-')}-pr-")`;
  const env = filter.pr ? 'preview' : filter.env;
  const clauses = [env === 'production' ? production : env === 'preview' ? previews : `(${production} OR ${previews})`];
  if (filter.pr) clauses.push(`${DeployPullRequest.name} = "${filter.pr}"`);
  if (filter.running) clauses.push(`ExecutionStatus = "Running"`);
  if (filter.phase) clauses.push(`${DeployPhase.name} = "${filter.phase}"`);
  if (filter.path) clauses.push(`${DeployPath.name} = "${filter.path}"`);
  return clauses.join(' AND ');
}

/** Newest first, at most `limit`. Visibility is eventually consistent: a phase shows up a moment after it is entered. */
export async function listDeploys(client: Client, config: DeployConfig, filter: ListFilter): Promise<DeployListing[]> {
  const rows: DeployListing[] = [];
  for await (const info of client.workflow.list({ query: listQuery(config, filter), pageSize: filter.limit })) {
    const sa = info.typedSearchAttributes;
    const pr = sa.get(DeployPullRequest);
    rows.push({
      workflowId: info.workflowId,
      environment: sa.get(DeployEnvironment),
      ...(pr ? { pr: Number(pr) } : {}),
      commit: sa.get(DeployCommit),
      phase: sa.get(DeployPhase),
      path: sa.get(DeployPath),
      tag: sa.get(ImageTag),
      execution: info.status.name,
      startTime: info.startTime.toISOString(),
      closeTime: info.closeTime?.toISOString(),
    });
    if (rows.length >= filter.limit) break;
  }
  return rows;
}

/** A full commit id as given; an abbreviated one (git log --oneline) looked up through DeployCommit. */
export async function resolveCommit(
  client: Client,
  config: DeployConfig,
  commit: string,
  pr?: number,
): Promise<string> {
  if (/^[0-9a-f]{40}$/i.test(commit) || !config.temporal.searchAttributes) return commit;
  const scope = pr ? `${DeployPullRequest.name} = "${pr}"` : `${DeployEnvironment.name} = "${config.environment.name}"`;
  const query = `${scope} AND ${DeployCommit.name} STARTS_WITH "${commit.toLowerCase()}"`;
  const found = new Set<string>();
  for await (const info of client.workflow.list({ query, pageSize: 10 })) {
    const full = info.typedSearchAttributes.get(DeployCommit);
    if (full?.startsWith(commit.toLowerCase()) && info.workflowId === deployIdOf(config, full, pr)) found.add(full);
    if (found.size > 1) break;
  }
  if (found.size === 1) return [...found][0]!;
  if (found.size > 1) throw new Error(`commit ${commit} is ambiguous: give more characters or the full id`);
  return commit; // not found: the lookup by id reports it, naming the workflow id
}

function repositoryOf(config: DeployConfig): string {
  return `${config.repository.owner}/${config.repository.name}`;
}
