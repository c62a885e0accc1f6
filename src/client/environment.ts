import { setTimeout as sleep } from 'node:timers/promises';
import {
  NamespaceNotFoundError,
  WithStartWorkflowOperation,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowExecutionStatusName,
} from '@temporalio/client';
import type { DeployConfig } from '../config/schema';
import { rollbackRequestProblem, type Outcome, type ProductionTarget, type RollbackRequest } from '../plan/environment';
import { innermostMessage } from '../workflows/errors';
import type { environment } from '../workflows/environment';
import {
  environmentStatusQuery,
  pauseSignal,
  resumeSignal,
  rollbackSignal,
  targetsUpdate,
  type EnvironmentView,
} from '../workflows/environment-definitions';
import { environmentHandle, environmentStartOptions, signalEnvironment } from './deploys';

/** The environment as `deployctl status --env` shows it: the workflow's execution status beside its view. */
export interface EnvironmentSnapshot {
  workflowId: string;
  execution: WorkflowExecutionStatusName;
  view: EnvironmentView;
}

const QUERY_TIMEOUT_MS = 10_000;
/** `targets` reads git history and asks the registry about every tag: allow a cold worker cache. */
const TARGETS_TIMEOUT_MS = 60_000;

/** Runs `fn` bounded by a deadline, so a missing worker is named instead of hanging the caller. */
async function answered<T>(
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
    if (Date.now() < deadline || err instanceof WorkflowNotFoundError || err instanceof NamespaceNotFoundError)
      throw err;
    throw new Error(
      `no worker answered ${what} within ${timeoutMs / 1000}s (is a worker polling task queue "${config.temporal.taskQueue}"?): ${(err as Error).message}`,
    );
  }
}

/** The environment's view, or undefined when its workflow has never run (nothing was deployed, paused or rolled back yet). */
export async function inspectEnvironment(
  client: Client,
  config: DeployConfig,
  timeoutMs = QUERY_TIMEOUT_MS,
): Promise<EnvironmentSnapshot | undefined> {
  const handle = environmentHandle(client, config);
  try {
    const info = await handle.describe();
    const view = await answered(client, config, `the environmentStatus query of ${handle.workflowId}`, timeoutMs, () =>
      handle.query(environmentStatusQuery),
    );
    return { workflowId: handle.workflowId, execution: info.status.name, view };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** Asks until `ready(view)` holds (a signal sent a moment ago is in the view), at most `timeoutMs`; then returns what there is. */
async function settle(
  client: Client,
  config: DeployConfig,
  ready: (view: EnvironmentView) => boolean,
  timeoutMs = 5_000,
): Promise<EnvironmentSnapshot> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const snapshot = await inspectEnvironment(client, config);
    if (snapshot && (ready(snapshot.view) || Date.now() >= deadline)) return snapshot;
    if (!snapshot && Date.now() >= deadline)
      throw new Error(`${environmentHandle(client, config).workflowId} did not start`);
    await sleep(200);
  }
}

/** Stops overlay changes: deploys still run their checks, then wait as `held` until resumed. */
export async function pauseEnvironment(
  client: Client,
  config: DeployConfig,
  request: { reason: string; by: string },
): Promise<EnvironmentSnapshot> {
  await signalEnvironment(client, config, pauseSignal, request);
  return settle(
    client,
    config,
    (view) => view.paused?.by === request.by && view.paused.reason.endsWith(request.reason),
  );
}

/** Lifts a pause and a rollback's hold. */
export async function resumeEnvironment(
  client: Client,
  config: DeployConfig,
  request: { by: string },
): Promise<EnvironmentSnapshot> {
  await signalEnvironment(client, config, resumeSignal, request);
  return settle(client, config, (view) => !view.paused && !view.held);
}

/** Production's previous tags, newest first, each checked against the registry (update-with-start: works before the first deploy). */
export async function listTargets(
  client: Client,
  config: DeployConfig,
  limit?: number,
  timeoutMs = TARGETS_TIMEOUT_MS,
): Promise<ProductionTarget[]> {
  const start = new WithStartWorkflowOperation<typeof environment>('environment', {
    ...environmentStartOptions(config),
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  try {
    return await answered(client, config, `the targets update of ${start.options.workflowId}`, timeoutMs, () =>
      client.workflow.executeUpdateWithStart(targetsUpdate, { args: [{ limit }], startWorkflowOperation: start }),
    );
  } catch (err) {
    // The cause is the activity's failure; the step's own words are its innermost cause.
    if (err instanceof WorkflowUpdateFailedError) throw new Error(`targets: ${innermostMessage(err)}`);
    throw err;
  }
}

/** Problems with a rollback request as the workflow and the overlay commit will see them, checked before anything is sent. */
export function rollbackProblem(request: RollbackRequest): string | undefined {
  const problem = rollbackRequestProblem(request);
  if (problem) return problem;
  // update-overlay writes both into the rollback commit and refuses anything else, after the images were validated.
  if (/[\r\n]/.test(request.reason) || request.reason.length > 500)
    return '--reason must be one line of at most 500 characters';
  if (/[\r\n]/.test(request.requestedBy) || request.requestedBy.length > 200)
    return '--by must be one line of at most 200 characters';
  return undefined;
}

const ENDS_A_ROLLBACK = new Set<Outcome['kind']>(['rolled-back', 'rollback-refused', 'failed']);

/**
 * The outcomes in `now` that were not in `before`, oldest first. Outcomes are append-only but
 * bounded (the oldest drop off), so this is a multiset difference, not a length comparison.
 */
export function newOutcomes(before: Outcome[], now: Outcome[]): Outcome[] {
  const seen = new Map<string, number>();
  for (const outcome of before) seen.set(JSON.stringify(outcome), (seen.get(JSON.stringify(outcome)) ?? 0) + 1);
  return now.filter((outcome) => {
    const key = JSON.stringify(outcome);
    const left = seen.get(key) ?? 0;
    if (left > 0) seen.set(key, left - 1);
    return left === 0;
  });
}

/** New outcomes that end some rollback: a deploy's own outcomes name its commit, a rollback's do not. */
export function rollbackEndings(before: Outcome[], now: Outcome[]): Outcome[] {
  return newOutcomes(before, now).filter((outcome) => ENDS_A_ROLLBACK.has(outcome.kind) && !outcome.commit);
}

/**
 * This request's outcome among the rollback endings recorded since it was sent, or undefined.
 * Outcomes carry no request id, so: rollbacks end one at a time in the order they were sent, and
 * `ahead` of them ended (or will end) before this one; a rolled-back outcome also names who asked
 * and why, so one that does not is someone else's.
 */
export function rollbackOutcome(request: RollbackRequest, endings: Outcome[], ahead: number): Outcome | undefined {
  const signature = `by ${request.requestedBy}: ${request.reason}`;
  return endings.find((outcome, i) => {
    if (i < ahead) return false;
    if (outcome.kind === 'rolled-back') return outcome.message.endsWith(signature);
    return request.to === 'previous' || !outcome.tag || outcome.tag === request.to;
  });
}

/** Rollbacks the environment will finish before one appended now: those waiting plus the one being applied. */
function rollbacksAhead(view: EnvironmentView | undefined, upTo = view?.pendingRollbacks.length ?? 0): number {
  return upTo + (view?.applying?.kind === 'rollback' ? 1 : 0);
}

export type RollbackEvent = { at: string } & (
  | { event: 'sent'; request: RollbackRequest }
  | { event: 'pending'; ahead: number }
  | { event: 'applying'; tag: string; phase: string }
  | { event: 'notice'; message: string }
  | { event: 'outcome'; outcome: Outcome }
);

export interface RollbackOptions {
  wait: boolean;
  intervalMs?: number;
  emit?(event: RollbackEvent): void;
}

/**
 * Sends the rollback (signal-with-start). With `wait`, first notes the outcomes already recorded
 * and the rollbacks already waiting, then follows the environment until this rollback's outcome
 * is recorded, and returns it.
 */
export async function rollbackEnvironment(
  client: Client,
  config: DeployConfig,
  request: RollbackRequest,
  options: RollbackOptions,
): Promise<Outcome | undefined> {
  const { intervalMs = 1_000, emit = () => undefined } = options;
  const now = () => new Date().toISOString();
  let before: EnvironmentView | undefined;
  if (options.wait) {
    try {
      before = (await inspectEnvironment(client, config))?.view;
    } catch (err) {
      throw new Error(
        `${(err as Error).message}\nthe rollback was not sent; send it without waiting with --no-wait (it runs once a worker is back)`,
      );
    }
  }
  await signalEnvironment(client, config, rollbackSignal, request);
  emit({ at: now(), event: 'sent', request });
  if (!options.wait) return undefined;

  let ahead = rollbacksAhead(before);
  let last = '';
  let lastNotice: string | undefined;
  for (;;) {
    try {
      const view = (await inspectEnvironment(client, config))?.view;
      lastNotice = undefined;
      if (view) {
        const endings = rollbackEndings(before?.outcomes ?? [], view.outcomes);
        const mine = lastIndexOf(
          view.pendingRollbacks,
          (r) => r.to === request.to && r.reason === request.reason && r.requestedBy === request.requestedBy,
        );
        // Seen waiting: exactly who is ahead is visible now (a rollback still resolving its target is not, before).
        if (mine >= 0) ahead = Math.max(ahead, endings.length + rollbacksAhead(view, mine));
        const ended = rollbackOutcome(request, endings, ahead);
        if (ended) {
          emit({ at: ended.at, event: 'outcome', outcome: ended });
          return ended;
        }
        const step: RollbackEvent | undefined =
          mine >= 0
            ? {
                at: now(),
                event: 'pending',
                ahead: rollbacksAhead(view, mine) + (view.applying?.kind === 'deploy' ? 1 : 0),
              }
            : view.applying?.kind === 'rollback' && endings.length >= ahead
              ? { at: now(), event: 'applying', tag: view.applying.tag, phase: view.applying.phase }
              : undefined;
        const key = step ? JSON.stringify({ ...step, at: undefined }) : '';
        if (step && key !== last) emit(step);
        last = key;
      }
    } catch (err) {
      if (err instanceof NamespaceNotFoundError) throw err;
      const message = `${(err as Error).message}; retrying`;
      if (message !== lastNotice) emit({ at: now(), event: 'notice', message });
      lastNotice = message;
    }
    await sleep(intervalMs);
  }
}

function lastIndexOf<T>(items: T[], match: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (match(items[i]!)) return i;
  return -1;
}
