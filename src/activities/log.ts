import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure, type LogLevel, type LogMetadata, type Logger } from '@temporalio/common';
import { formatDuration } from '../plan/duration';

/** A Logger from its one `log` function. */
function loggerOf(log: Logger['log']): Logger {
  const at = (level: LogLevel) => (message: string, meta?: LogMetadata) => log(level, message, meta);
  return { log, trace: at('TRACE'), debug: at('DEBUG'), info: at('INFO'), warn: at('WARN'), error: at('ERROR') };
}

/**
 * Outside an activity (unit tests, deployctl doctor, scripts) a direct caller still sees warnings
 * and errors (a git cache another process holds) on the console; info and debug are the worker's
 * record of what it did, dropped here.
 */
const CONSOLE = loggerOf((level, message) => {
  if (level === 'WARN') console.warn(message);
  else if (level === 'ERROR') console.error(message);
});
let outside: Logger = CONSOLE;

/** Sends the lines of steps run outside an activity to `logger` (undefined: back to the console default). */
export function logStepsOutsideActivities(logger: Logger | undefined): void {
  outside = logger ?? CONSOLE;
}

/** The SDK's logger of the running activity, if the caller is one. */
function activityLogger(): Logger | undefined {
  try {
    return Context.current().log;
  } catch {
    return undefined; // no activity context: a direct call
  }
}

/**
 * The steps' logger. Inside an activity it is the SDK's, which adds workflowId, runId, activityType,
 * attempt and taskQueue and writes through the worker's Runtime logger (src/observe/log.ts: JSON,
 * redacted); outside one, see CONSOLE and logStepsOutsideActivities. Never a token, an authorization
 * header or a URL with credentials in the message or fields: log what was done.
 */
export const stepLog: Logger = loggerOf((level, message, meta) =>
  (activityLogger() ?? outside).log(level, message, meta),
);

/** A commit as lines show it. */
export const short = (sha: string | null | undefined) => (sha ? sha.slice(0, 7) : '-');

/** `1 file`, `3 files`. */
export const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

type Step = (...args: never[]) => Promise<unknown>;

interface Classified {
  /** The fault table's decisions (faults.ts): retried with backoff, at the time the server named, or never. */
  classification: 'retry' | 'wait' | 'permanent';
  failureType: string;
  /** `wait`: when the next attempt runs. */
  retryIn?: string;
}

function classify(err: unknown): Classified {
  if (err instanceof ApplicationFailure) {
    const failureType = err.type ?? 'ApplicationFailure';
    if (err.nonRetryable) return { classification: 'permanent', failureType };
    const delay = err.nextRetryDelay;
    if (delay == null) return { classification: 'retry', failureType };
    return { classification: 'wait', failureType, retryIn: typeof delay === 'number' ? formatDuration(delay) : delay };
  }
  // Temporal records a plain error's class name as the failure's type and retries it with the step's backoff.
  return { classification: 'retry', failureType: (err as Error)?.name ?? typeof err };
}

function cancelled(err: unknown): boolean {
  if (err instanceof CancelledFailure) return true;
  try {
    return (err as Error)?.name === 'AbortError' && Context.current().cancellationSignal.aborted;
  } catch {
    return false;
  }
}

/**
 * Wraps every step so a failed attempt in an activity says how Temporal handles it: retryable with
 * backoff or at the time the server named (warn), or not retryable because a person must act
 * (error). The SDK's own "Activity failed" line carries the stack; this one, the classification.
 */
export function withFailureLogs<T extends Record<string, Step>>(steps: T): T {
  const wrapped = Object.entries(steps).map(([name, run]) => [
    name,
    async (...args: never[]) => {
      try {
        return await run(...args);
      } catch (err) {
        // Only Temporal retries: a direct caller gets the error and decides for itself.
        if (!activityLogger()) throw err;
        if (cancelled(err)) {
          stepLog.info(`${name} cancelled`);
          throw err;
        }
        const classified = classify(err);
        // "retryable", not "retried": the step's retry policy decides whether attempts remain.
        const how = {
          retry: 'retryable with backoff',
          wait: `retryable in ${classified.retryIn} as the server asked`,
          permanent: 'not retryable',
        }[classified.classification];
        const line = `${name} failed, ${how} (${classified.failureType}): ${(err as Error)?.message ?? String(err)}`;
        if (classified.classification === 'permanent') stepLog.error(line, { ...classified });
        else stepLog.warn(line, { ...classified });
        throw err;
      }
    },
  ]);
  return Object.fromEntries(wrapped) as T;
}
