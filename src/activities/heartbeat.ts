import { Context } from '@temporalio/activity';

/** The wrapper's beat; the worker forwards at most one every 3 s (maxHeartbeatThrottleInterval), well inside the 10 s timeout. */
export const HEARTBEAT_INTERVAL_MS = 2_000;

type Step = (...args: never[]) => Promise<unknown>;

/**
 * Wraps every step so it heartbeats while it runs: the server then learns within the heartbeat
 * timeout that a worker died mid-step (SIGKILL, a lost node) and retries the step elsewhere,
 * instead of waiting for the step's whole start-to-close timeout. Outside an activity (direct
 * calls in tests) the wrapper only runs the step.
 */
export function withHeartbeats<T extends Record<string, Step>>(steps: T, intervalMs = HEARTBEAT_INTERVAL_MS): T {
  const wrapped = Object.entries(steps).map(([name, run]) => [
    name,
    async (...args: never[]) => {
      let context: Context | undefined;
      try {
        context = Context.current();
      } catch {
        return run(...args);
      }
      const current = context;
      current.heartbeat();
      const timer = setInterval(() => current.heartbeat(), intervalMs);
      try {
        return await run(...args);
      } finally {
        clearInterval(timer);
      }
    },
  ]);
  return Object.fromEntries(wrapped) as T;
}
