/**
 * What the workflow tests share: the steps replaced by fakes that answer from the worker's config
 * the way the real ones do (activities/index.ts), so a setting such as environment.reannounceAfter
 * reaches the workflows by its real route (detect's plan); a recorder of the steps' inputs; gates a
 * fake step waits on; a watch that ends a test at once, naming the error, when a workflow's task
 * fails (Temporal retries such a task forever, and the test would only time out); and the cleanup
 * after each test (what it left running would hold up every later one).
 */
import { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { reportConfig, type Activities } from '../../src/activities';
import type { DeployConfig } from '../../src/config/schema';
import type { DeployPlan, DeployStatus } from '../../src/contract/deploy';
import { environmentStatusQuery, type TargetSettings } from '../../src/contract/environment';
import { deployWorkflowId, environmentWorkflowId } from '../../src/contract/ids';
import type { Target } from '../../src/contract/target';
import type { ArgoObservation } from '../../src/plan/argocd';
import type { CiRun } from '../../src/plan/ci';
import { previewName } from '../../src/plan/preview';
import { reportSettingsFor } from '../../src/plan/report';
import { timeSkippingServerPath } from '../../harness/temporal';
import { workflowTaskFailures } from '../support/inspect';

export const MIN = 60_000;

/**
 * A client of the test server that waits for results in real time. TestWorkflowEnvironment's own
 * client skips time while it waits for a result; with several deploys waiting for verdicts, each
 * skip fires their reannounce timers at once, and the test server then rejects every task of the
 * environment as expired (new signals arrived meanwhile) while skipping on: a livelock of the test
 * server, not of the workflows. Tests with more than one deploy in flight wait on this client.
 */
export function realTime(env: TestWorkflowEnvironment): Client {
  return new Client({ connection: env.connection, namespace: env.namespace });
}

export function timeSkipping(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: timeSkippingServerPath() } },
  });
}

/** The plan the real detect step returns for a change of `path`, its timing read from the config. */
export function planFor(config: DeployConfig, path: DeployPlan['path'], over: Partial<DeployPlan> = {}): DeployPlan {
  return {
    path,
    reason: path === 'none' ? 'skipped' : `${path} changed`,
    images: path === 'none' ? [] : config.images.map((image) => image.name),
    changedFiles: 1,
    repositoryUrl: `https://github.test/${config.repository.owner}/${config.repository.name}`,
    searchAttributes: config.temporal.searchAttributes,
    ciTimeoutMs: config.ci.timeout,
    ciPollInitialMs: config.ci.pollInitial,
    ciPollMaxMs: config.ci.pollMax,
    ciRerunWindowMs: config.ci.rerunWindow,
    syncTimeoutMs: config.argocd.syncTimeout,
    reannounceMs: config.environment.reannounceAfter,
    report: reportSettingsFor(reportConfig(config), { kind: 'production', name: config.environment.name }),
    ...over,
  };
}

/** The real targetSettings step's answer for the config. */
export function settingsFor(config: DeployConfig, target: Target, over: Partial<TargetSettings> = {}): TargetSettings {
  const common = {
    continueAsNewAfter: config.environment.continueAsNewAfter,
    searchAttributes: config.temporal.searchAttributes,
    taskQueue: config.temporal.taskQueue,
    report: reportSettingsFor(reportConfig(config), target),
  };
  if (target.kind === 'production') {
    return {
      application: config.argocd.application,
      trackedBranch: null,
      previewBranch: null,
      syncTimeoutMs: config.argocd.syncTimeout,
      autoRollback: config.environment.autoRollback,
      ...common,
      ...over,
    };
  }
  const preview = config.preview!;
  const branch = preview.branch ? previewName(preview.branch, target.pr) : null;
  return {
    application: previewName(preview.application, target.pr),
    trackedBranch: branch,
    previewBranch: branch,
    syncTimeoutMs: preview.syncTimeout ?? config.argocd.syncTimeout,
    autoRollback: false,
    ...common,
    ...over,
  };
}

export function ciRun(headSha: string, status: string, conclusion: string | null, over: Partial<CiRun> = {}): CiRun {
  return { id: 7, status, conclusion, url: 'https://github.test/o/r/actions/runs/7', headSha, ...over };
}

/** Argo CD reporting `revision` synced and healthy, reconciled after the sync; `over` changes that. */
export function argoAt(revision: string, over: Partial<ArgoObservation> = {}): ArgoObservation {
  return {
    syncStatus: 'Synced',
    syncRevision: revision,
    revisionContainsTarget: true,
    healthStatus: 'Healthy',
    operationPhase: 'Succeeded',
    operationFinishedAt: '2026-01-01T00:00:00Z',
    reconciledAt: '2026-01-01T00:00:01Z',
    ...over,
  };
}

export const unused = (what: string) => async (): Promise<never> => {
  throw new Error(`not a step of ${what}`);
};

/** The reporter's steps for a config that reports nothing (the default): none may run. */
export function reportingOff() {
  const off = unused('a target that reports nothing');
  return {
    openDeployment: off,
    setDeploymentStatus: off,
    retireDeployment: off,
    upsertPreviewComment: off,
    deliverNotification: off,
  };
}

/** Wraps each step so its inputs are recorded, by step name, in call order. */
export function recorded(steps: Activities): { activities: Activities; calls: Record<string, unknown[]> } {
  const calls: Record<string, unknown[]> = {};
  const activities = Object.fromEntries(
    Object.entries(steps).map(([name, fn]) => [
      name,
      async (...args: unknown[]) => {
        (calls[name] ??= []).push(args[0]);
        return (fn as (...a: unknown[]) => Promise<unknown>)(...args);
      },
    ]),
  ) as unknown as Activities;
  return { activities, calls };
}

/** A promise the test opens: a fake step waits on it while the test arranges the next event. */
export function gate(): { opened: Promise<void>; open(): void; readonly isOpen: boolean } {
  let open!: () => void;
  let isOpen = false;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return {
    opened,
    open: () => ((isOpen = true), open()),
    get isOpen() {
      return isOpen;
    },
  };
}

/** Workers running a test's work, so one left running by a test that timed out can be shut down. */
const workers = new Map<Worker, Promise<unknown>>();

/**
 * Runs `work` with a worker of the workflows and `activities` on the task queue. One per test and
 * task queue: a second one would find the environment's tasks still on the first one's sticky
 * queue, which the time-skipping server never gives up on.
 */
export async function runWorker<T>(
  connection: NativeConnection,
  taskQueue: string,
  activities: Activities,
  work: () => Promise<T>,
  options: Partial<WorkerOptions> = {},
): Promise<T> {
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowsPath: require.resolve('../../src/workflows'),
    activities,
    // A fake step waiting on a gate that never opens must not hold up the shutdown.
    shutdownForceTime: '5s',
    ...options,
  });
  const running = worker.runUntil(work);
  workers.set(
    worker,
    running.catch(() => undefined),
  );
  try {
    return await running;
  } finally {
    workers.delete(worker);
  }
}

/** Shuts down the workers a test left running (it timed out): Jest could otherwise never exit. */
export async function endWorkers(): Promise<void> {
  const left = [...workers];
  workers.clear();
  for (const [worker] of left) if (worker.getState() === 'RUNNING') worker.shutdown();
  await Promise.all(left.map(([, running]) => running));
}

/** Workflow ids a test started or had started, so what it leaves running can be ended after it. */
const tracked = new Set<string>();
export function track(workflowId: string): string {
  tracked.add(workflowId);
  return workflowId;
}

/**
 * Ends what the last test left running: its worker, then its workflows (a failed test's deploys,
 * an environment waiting on a timer), whose tasks would wait for a worker that is gone; the
 * time-skipping server does not skip time while any task is outstanding, so every later test
 * would run in real time.
 */
export async function endTracked(client: Client): Promise<void> {
  await endWorkers();
  const ids = [...tracked];
  tracked.clear();
  await Promise.all(
    ids.map(async (id) => {
      const handle = client.workflow.getHandle(id);
      const { status } = await handle.describe().catch(() => ({ status: undefined }));
      if (status?.name === 'RUNNING') await handle.terminate('the test ended').catch(() => undefined);
    }),
  );
}

export const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value (not undefined); fails after `timeoutMs` naming what it waited for. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await pause(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * `work`, unless a task of one of the workflows fails first: then the error names the workflow and
 * the exception its code threw (which Temporal would retry forever while the test waits).
 */
export async function watched<T>(client: Client, workflowIds: string[], work: Promise<T>): Promise<T> {
  let settled = false;
  const watch = (async (): Promise<never> => {
    while (!settled) {
      for (const id of workflowIds) {
        const failures = await workflowTaskFailures(client.workflow.getHandle(id)).catch(() => []);
        if (failures.length) throw new Error(`a workflow task of ${id} failed: ${failures[0]}`);
      }
      await pause(200);
    }
    return new Promise<never>(() => undefined);
  })();
  try {
    return await Promise.race([work, watch]);
  } finally {
    settled = true;
  }
}

/**
 * The result of a deploy the environment starts (a moment after the request): waits for it to
 * exist, then for its end, watching both workflows' tasks meanwhile. With TestWorkflowEnvironment's
 * client, time skips while it waits; with realTime(env), it does not. A request the environment
 * recorded as failed or ignored instead ends the wait at once with the environment's words.
 */
export async function deployResult(client: Client, environmentId: string, workflowId: string): Promise<DeployStatus> {
  const handle = client.workflow.getHandle(workflowId);
  const environment = client.workflow.getHandle(environmentId);
  const exists = async (): Promise<true | string | undefined> => {
    if (
      await handle.describe().then(
        () => true,
        () => false,
      )
    )
      return true;
    const view = await environment.query(environmentStatusQuery).catch(() => undefined);
    const refused = view?.outcomes.find((o) => (o.kind === 'failed' || o.kind === 'ignored') && !o.workflowId);
    return refused && `${environmentId} did not start ${workflowId}: ${refused.kind}: ${refused.message}`;
  };
  const found = await watched(
    client,
    [environmentId],
    until(`${workflowId} to be started by ${environmentId}`, exists),
  );
  if (found !== true) throw new Error(found);
  return watched(client, [environmentId, workflowId], handle.result() as Promise<DeployStatus>);
}

/** One test's target: its config, repository and the workflow ids it will see, tracked for clean-up. */
export interface Scenario {
  config: DeployConfig;
  repository: string;
  target: Target;
  environmentId: string;
  idOf(commit: string): string;
}

export function scenario(config: DeployConfig, repository: string, target: Target): Scenario {
  return {
    config,
    repository,
    target,
    environmentId: track(environmentWorkflowId(repository, target)),
    idOf: (commit) => track(deployWorkflowId(repository, target, commit)),
  };
}
