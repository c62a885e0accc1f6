// Read-only probes for tests that check what a bad input did NOT do: the production overlay on
// origin's main, the steps that failed in a workflow's history (type, nonRetryable, attempt), the
// workflows that failed, why a workflow's tasks failed, and a child-process runner for the entry
// points (deployctl, the worker).
import { spawn } from 'node:child_process';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { git } from '../../harness/origin';

/** The production overlay on main: the last commit that touched it and its bytes. */
export interface OverlaySnapshot {
  commit: string;
  text: string;
}

export async function overlaySnapshot(bareDir: string, path: string, branch = 'main'): Promise<OverlaySnapshot> {
  const [commit, text] = await Promise.all([
    git(bareDir, ['log', '-1', '--format=%H', `refs/heads/${branch}`, '--', path]),
    git(bareDir, ['show', `refs/heads/${branch}:${path}`]),
  ]);
  return { commit: commit.trim(), text };
}

/** One failed step (activity) as the workflow's history records it. */
export interface StepFailure {
  activity: string;
  type?: string;
  nonRetryable: boolean;
  message: string;
  /** The attempt that failed: 1 means the step was not retried. */
  attempt: number;
}

/** Every ActivityTaskFailed event of the workflow's history, oldest first. */
export async function stepFailures(handle: WorkflowHandle): Promise<StepFailure[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = new Map<string, string>();
  const attempts = new Map<string, number>();
  const failures: StepFailure[] = [];
  for (const event of events) {
    const id = String(event.eventId);
    const s = event.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(id, s.activityType?.name ?? '?');
    const started = event.activityTaskStartedEventAttributes;
    if (started) attempts.set(String(started.scheduledEventId), started.attempt ?? 1);
    const failed = event.activityTaskFailedEventAttributes;
    if (failed) {
      const key = String(failed.scheduledEventId);
      const info = failed.failure?.applicationFailureInfo;
      failures.push({
        activity: scheduled.get(key) ?? '?',
        type: info?.type ?? undefined,
        nonRetryable: Boolean(info?.nonRetryable),
        message: failed.failure?.message ?? '',
        attempt: attempts.get(key) ?? 1,
      });
    }
  }
  return failures;
}

/**
 * Why the workflow's tasks failed in its current run: an exception in workflow code (or a
 * nondeterminism), which Temporal retries forever and a test would otherwise wait out. A task
 * failed for housekeeping (a sticky cache reset, a command the server asked to retry) is no problem.
 */
export async function workflowTaskFailures(handle: WorkflowHandle): Promise<string[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  const problems = new Set([WORKER_UNHANDLED_FAILURE, NON_DETERMINISTIC_ERROR]);
  return events
    .map((event) => event.workflowTaskFailedEventAttributes)
    .filter((failed) => failed && problems.has(Number(failed.cause ?? 0)))
    .map((failed) => failed!.failure?.message ?? `cause ${failed!.cause}`);
}
/** WorkflowTaskFailedCause values (temporal.api.enums.v1). */
const WORKER_UNHANDLED_FAILURE = 14;
const NON_DETERMINISTIC_ERROR = 24;

/** Ids of the workflows visibility lists as Failed (eventually consistent: poll for ones just failed). */
export async function failedWorkflowIds(client: Client): Promise<string[]> {
  const ids: string[] = [];
  for await (const info of client.workflow.list({ query: 'ExecutionStatus = "Failed"' })) ids.push(info.workflowId);
  return [...new Set(ids)].sort();
}

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit. */
  ms: number;
  /** Killed after `timeoutMs` without exiting by itself. */
  killed: boolean;
}

/**
 * Runs a Node entry point (dist/…) as a person or an init system would: a child process with
 * the given environment. Without TEMPORAL_* from the test's own environment, unless given.
 */
export function runNode(
  script: string,
  args: string[],
  env: Record<string, string | undefined> = {},
  timeoutMs = 30_000,
): Promise<Ran> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TEMPORAL_')));
  const started = Date.now();
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let killed = false;
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => ((killed = true), child.kill('SIGKILL')), timeoutMs);
  return new Promise((done) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr, ms: Date.now() - started, killed });
    }),
  );
}
