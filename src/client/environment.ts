import {
  NamespaceNotFoundError,
  WithStartWorkflowOperation,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateStage,
  type Client,
  type WorkflowExecutionStatusName,
} from '@temporalio/client';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import type { DeployConfig } from '../config/schema';
import {
  holdRequestProblem,
  rollbackRequestProblem,
  type Outcome,
  type ProductionTarget,
  type RollbackRequest,
} from '../plan/environment';
import {
  environmentStatusQuery,
  pauseUpdate,
  pullRequestClosedSignal,
  resumeUpdate,
  rollbackSignal,
  rollbackUpdate,
  targetsUpdate,
  type EnvironmentInput,
  type EnvironmentView,
} from '../contract/environment';
import { innermostMessage } from '../contract/failure';
import { environmentWorkflowId } from '../contract/ids';
import { DeployEnvironment, DeployPullRequest } from '../contract/search-attributes';
import { environmentSummary, type Target } from '../contract/target';
import type { environment } from '../workflows/environment';

/** The environment as `deployctl status` shows it: the workflow's execution status beside its view. */
export interface EnvironmentSnapshot {
  workflowId: string;
  execution: WorkflowExecutionStatusName;
  view: EnvironmentView;
}

const QUERY_TIMEOUT_MS = 10_000;
/** Pause and resume change state only: a worker answers in moments. */
const UPDATE_TIMEOUT_MS = 30_000;
/** `targets` reads git history and asks the registry about every tag: allow a cold worker cache. */
const TARGETS_TIMEOUT_MS = 60_000;
/** A rollback is accepted (validated, queued) by a worker within this long, or not sent at all. */
const ACCEPT_TIMEOUT_MS = 30_000;

export const repositoryOf = (config: DeployConfig) => `${config.repository.owner}/${config.repository.name}`;

export function productionTarget(config: DeployConfig): Target {
  return { kind: 'production', name: config.environment.name };
}

/** How an environment workflow is started by whoever speaks to it first (signal- or update-with-start). */
export function environmentStartOptions(config: DeployConfig, target: Target = productionTarget(config)) {
  const repository = repositoryOf(config);
  return {
    taskQueue: config.temporal.taskQueue,
    workflowId: environmentWorkflowId(repository, target),
    args: [{ repository, target }] as [EnvironmentInput],
    staticSummary: environmentSummary(repository, target),
    typedSearchAttributes:
      config.temporal.searchAttributes && target.kind === 'preview'
        ? [
            { key: DeployEnvironment, value: 'preview' },
            { key: DeployPullRequest, value: String(target.pr) },
          ]
        : undefined,
  };
}

export function environmentHandle(client: Client, config: DeployConfig, target: Target = productionTarget(config)) {
  return client.workflow.getHandle<typeof environment>(environmentWorkflowId(repositoryOf(config), target));
}

/** Signal-with-start of the environment workflow: whoever speaks first starts it. */
export async function signalEnvironment<T>(
  client: Client,
  config: DeployConfig,
  signal: SignalDefinition<[T]>,
  arg: T,
  target: Target = productionTarget(config),
): Promise<void> {
  await client.workflow.signalWithStart<typeof environment, [T]>('environment', {
    ...environmentStartOptions(config, target),
    signal,
    signalArgs: [arg],
  });
}

/** No worker answered in time: nothing the caller asked for was carried out. */
export class NoWorkerError extends Error {}

/** Runs `fn` bounded by a deadline, so a missing worker is named instead of hanging the caller. */
export async function answered<T>(
  client: Client,
  config: DeployConfig,
  what: string,
  timeoutMs: number,
  fn: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  try {
    return await client.connection.withDeadline(deadline, fn);
  } catch (err) {
    // A validator's refusal names the field: its words, not the SDK's wrapper.
    if (err instanceof WorkflowUpdateFailedError) throw new Error(innermostMessage(err));
    if (Date.now() < deadline || err instanceof WorkflowNotFoundError || err instanceof NamespaceNotFoundError) {
      throw err;
    }
    throw new NoWorkerError(
      `no worker answered ${what} within ${timeoutMs / 1000}s (is a worker polling task queue "${config.temporal.taskQueue}"?): ${(err as Error).message}`,
    );
  }
}

/** An update of the environment, starting it first if it does not run (it may never have run). */
function updateWithStart<Ret, Arg>(
  client: Client,
  config: DeployConfig,
  update: UpdateDefinition<Ret, [Arg]>,
  arg: Arg,
  timeoutMs: number,
  target: Target = productionTarget(config),
): Promise<Ret> {
  const start = new WithStartWorkflowOperation<typeof environment>('environment', {
    ...environmentStartOptions(config, target),
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  return answered(client, config, `the ${update.name} update of ${start.options.workflowId}`, timeoutMs, () =>
    client.workflow.executeUpdateWithStart(update, { args: [arg], startWorkflowOperation: start }),
  );
}

/** The environment's view, or undefined when its workflow has never run. */
export async function inspectEnvironment(
  client: Client,
  config: DeployConfig,
  target: Target = productionTarget(config),
  timeoutMs = QUERY_TIMEOUT_MS,
): Promise<EnvironmentSnapshot | undefined> {
  const handle = environmentHandle(client, config, target);
  try {
    const info = await handle.describe();
    // A closed preview answers from its result; a running environment from its query.
    const view =
      info.status.name === 'RUNNING'
        ? await answered(client, config, `the environmentStatus query of ${handle.workflowId}`, timeoutMs, () =>
            handle.query(environmentStatusQuery),
          )
        : ((await handle.result().catch(() => undefined)) as EnvironmentView | undefined);
    if (!view) throw new Error(`${handle.workflowId} ended ${info.status.name.toLowerCase()} without a result`);
    return { workflowId: handle.workflowId, execution: info.status.name, view };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** Stops overlay changes: deploys still run their checks, then wait as `held` until resumed. */
export async function pauseEnvironment(
  client: Client,
  config: DeployConfig,
  request: { reason: string; by: string },
): Promise<EnvironmentView> {
  refuse(holdRequestProblem(request, true));
  return updateWithStart(client, config, pauseUpdate, request, UPDATE_TIMEOUT_MS);
}

/** Lifts a pause and a rollback's hold. */
export async function resumeEnvironment(
  client: Client,
  config: DeployConfig,
  request: { by: string },
): Promise<EnvironmentView> {
  refuse(holdRequestProblem(request, false));
  return updateWithStart(client, config, resumeUpdate, request, UPDATE_TIMEOUT_MS);
}

/** Production's previous tags, newest first, each checked against the registry (works before the first deploy). */
export async function listTargets(
  client: Client,
  config: DeployConfig,
  limit?: number,
  timeoutMs = TARGETS_TIMEOUT_MS,
): Promise<ProductionTarget[]> {
  try {
    return await updateWithStart(client, config, targetsUpdate, { limit }, timeoutMs);
  } catch (err) {
    throw new Error(`targets: ${(err as Error).message}`);
  }
}

/** Problems with a rollback request, checked before anything is sent (the workflow's validator checks the same). */
export function rollbackProblem(request: RollbackRequest): string | undefined {
  return rollbackRequestProblem(request)
    ?.replace('the rollback reason', '--reason')
    .replace(/^requestedBy/, '--by');
}

export interface RollbackOptions {
  /** Wait for the outcome (an update); otherwise send the signal, carried out once a worker runs it. */
  wait: boolean;
  /** Called once a worker accepted the rollback (validated and queued), before its outcome. */
  accepted?(): void;
}

/**
 * Sends the rollback. With `wait`: update-with-start, accepted by a worker within ACCEPT_TIMEOUT_MS
 * (else not sent: retry with --no-wait), then the rollback's outcome, however long Argo CD takes.
 * Without: the `rollback` signal, the same code path the Temporal Web UI uses.
 */
export async function rollbackEnvironment(
  client: Client,
  config: DeployConfig,
  request: RollbackRequest,
  options: RollbackOptions,
): Promise<Outcome | undefined> {
  refuse(rollbackRequestProblem(request));
  if (!options.wait) {
    await signalEnvironment(client, config, rollbackSignal, request);
    return undefined;
  }
  const start = new WithStartWorkflowOperation<typeof environment>('environment', {
    ...environmentStartOptions(config),
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  let handle;
  try {
    handle = await answered(
      client,
      config,
      `the rollback update of ${start.options.workflowId}`,
      ACCEPT_TIMEOUT_MS,
      () =>
        client.workflow.startUpdateWithStart(rollbackUpdate, {
          args: [request],
          startWorkflowOperation: start,
          waitForStage: WorkflowUpdateStage.ACCEPTED,
        }),
    );
  } catch (err) {
    const hint =
      err instanceof NoWorkerError
        ? '\nthe rollback was not sent; send it without waiting with --no-wait (it runs once a worker is back)'
        : '';
    throw new Error(`${(err as Error).message}${hint}`);
  }
  options.accepted?.();
  try {
    return await handle.result();
  } catch (err) {
    // Refused by the workflow's validator after all: its words, not the SDK's wrapper.
    if (err instanceof WorkflowUpdateFailedError) throw new Error(innermostMessage(err));
    throw err;
  }
}

/**
 * Checks a request with the workflow's own validator before anything is sent: update-with-start
 * starts the workflow even when the update is then refused, and a refused request must leave nothing behind.
 */
export function refuse(problem: string | undefined): void {
  if (problem) throw new Error(problem);
}

/** The pull request closed: its preview cancels what is in flight and ends. False when it has none. */
export async function closePreview(
  client: Client,
  config: DeployConfig,
  pr: number,
  closed: { by: string; merged?: boolean },
): Promise<boolean> {
  try {
    await environmentHandle(client, config, { kind: 'preview', pr }).signal(pullRequestClosedSignal, closed);
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}
