import {
  WithStartWorkflowOperation,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowExecutionStatusName,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { DeployConfig } from '../config/schema';
import type { CiRun } from '../plan/ci';
import type { DeployPath as Path } from '../plan/classify';
import {
  ciCompletedSignal,
  statusQuery,
  type DeployInput,
  type DeployPhase as Phase,
  type DeployStatus,
} from '../contract/deploy';
import { deployRequestedSignal, requestDeployUpdate, type DeployRequest } from '../contract/environment';
import { deployWorkflowId, deployWorkflowIdPrefix } from '../contract/ids';
import {
  DeployCommit,
  DeployEnvironment,
  DeployPath,
  DeployPhase,
  DeployPullRequest,
  ImageTag,
} from '../contract/search-attributes';
import type { Target } from '../contract/target';
import type { environment } from '../workflows/environment';
import { answered, environmentStartOptions, productionTarget, refuse, repositoryOf } from './environment';
import { deployRequestProblem } from '../plan/environment';
import { policyOf } from '../plan/policy';

export interface StartedDeploy {
  /** The target's environment workflow, which starts the deploy. */
  environmentWorkflowId: string;
  /** The deploy's workflow id, when the commit is known (a preview of "the head" learns it in the environment). */
  workflowId?: string;
  /**
   * true: started now; false: that deploy ran or runs already (a redelivery), or none was started
   * (`note` says why); undefined: handed to the environment by signal, which starts it.
   */
  started?: boolean;
  note: string;
}

/** How long deployctl waits for the environment to answer a request (a preview's may re-read GitHub once). */
const REQUEST_TIMEOUT_MS = 60_000;

/**
 * Asks the target's environment for a deploy; the environment starts it as its child, so the
 * request and the start are one atomic step whoever asks. `wait`: update-with-start, answered with
 * what was started (deployctl). Otherwise signal-with-start: durable at once, even while no worker
 * runs (the relay: GitHub does not redeliver a webhook that failed).
 */
export async function requestDeploy(
  client: Client,
  config: DeployConfig,
  target: Target,
  request: DeployRequest,
  options: { wait: boolean } = { wait: true },
): Promise<StartedDeploy> {
  refuse(deployRequestProblem(request, policyOf(target).source === 'main'));
  const commit = request.commit?.toLowerCase();
  const arg = { ...request, commit };
  const start = environmentStartOptions(config, target);
  const workflowId = commit ? deployWorkflowId(repositoryOf(config), target, commit) : undefined;
  if (!options.wait) {
    await client.workflow.signalWithStart<typeof environment, [DeployRequest]>('environment', {
      ...start,
      signal: deployRequestedSignal,
      signalArgs: [arg],
    });
    return {
      environmentWorkflowId: start.workflowId,
      workflowId,
      note: `asked ${start.workflowId} to start ${workflowId ?? "the head's deploy"}`,
    };
  }
  const operation = new WithStartWorkflowOperation<typeof environment>('environment', {
    ...start,
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  const result = await answered(
    client,
    config,
    `the requestDeploy update of ${start.workflowId}`,
    REQUEST_TIMEOUT_MS,
    () =>
      client.workflow.executeUpdateWithStart(requestDeployUpdate, { args: [arg], startWorkflowOperation: operation }),
  );
  return { environmentWorkflowId: start.workflowId, ...result };
}

/** Starts (or finds) the production deploy of one merge commit: see requestDeploy. */
export function startDeploy(
  client: Client,
  config: DeployConfig,
  request: DeployRequest & { commit: string },
  options?: { wait: boolean },
): Promise<StartedDeploy> {
  return requestDeploy(client, config, productionTarget(config), request, options);
}

/** Asks for a preview of a pull request's head (or of the named commit). */
export function requestPreview(
  client: Client,
  config: DeployConfig,
  pr: number,
  request: DeployRequest,
  options?: { wait: boolean },
): Promise<StartedDeploy> {
  requirePreviews(config);
  return requestDeploy(client, config, { kind: 'preview', pr }, request, options);
}

export function requirePreviews(config: DeployConfig): void {
  if (!config.preview) {
    throw new Error(
      'previews are not configured: add a preview section (overlayPath, application) to the configuration',
    );
  }
}

export async function deployStatus(client: Client, config: DeployConfig, commit: string): Promise<DeployStatus> {
  return client.workflow.getHandle(deployIdOf(config, commit)).query(statusQuery);
}

/**
 * Tells the target's deploy of `run.headSha` that its CI run completed. Returns false when no
 * deploy of that commit is running (a CI run of a docs-only merge, or one that finished already).
 */
export async function signalCiCompleted(
  client: Client,
  config: DeployConfig,
  run: CiRun,
  pr?: number,
): Promise<boolean> {
  try {
    await client.workflow.getHandle(deployIdOf(config, run.headSha, pr)).signal(ciCompletedSignal, run);
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

/** A closed deploy's last status from its close event: its result, or the DeployFailed failure carrying it. */
export async function statusFromHistory(handle: WorkflowHandle): Promise<DeployStatus | undefined> {
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
  return deployWorkflowId(repositoryOf(config), pr ? { kind: 'preview', pr } : productionTarget(config), commit);
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
  const repository = repositoryOf(config);
  const production = `(${DeployEnvironment.name} = "${config.environment.name}" AND WorkflowType = "deploy" AND WorkflowId STARTS_WITH "${deployWorkflowIdPrefix(repository, productionTarget(config))}")`;
  const previews = `(${DeployEnvironment.name} = "preview" AND WorkflowType = "deploy" AND WorkflowId STARTS_WITH "${deployWorkflowIdPrefix(repository, { kind: 'preview' })}")`;
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
