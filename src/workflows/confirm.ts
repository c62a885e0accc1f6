import { CancellationScope, condition, isCancellation } from '@temporalio/workflow';
import { evaluateArgo } from '../plan/argocd';
import { pollDelay } from '../plan/ci';
import { formatDuration } from '../plan/duration';
import type { SyncState } from '../plan/verdict';
import { innermostMessage, isPermanentFailure } from './errors';
import { steps } from './steps';

/** How often Argo CD is asked while a sync is in flight. */
const ARGO_POLL_INITIAL_MS = 2_000;
const ARGO_POLL_MAX_MS = 15_000;

export interface SyncWait {
  /** The commit Argo CD must have synced (or a descendant of it). */
  revision: string;
  timeoutMs: number;
  application: string;
  /** The branch the application tracks, when not the main branch. */
  branch?: string;
  /** The application may not exist yet (an ApplicationSet creates it). */
  missingIsWaiting: boolean;
  /** What Argo CD reports on each read, for the status while the change syncs. */
  onArgo: (message: string) => void;
  /** A newer change took over (a newer push, a closing pull request): stop waiting. */
  stop?: () => boolean;
}

export type SyncResult = { state: SyncState; message: string };

/**
 * Polls Argo CD on durable timers until the revision is synced and healthy, degraded, or the
 * timeout passes. Waiting is a state: the caller decides what a degraded app means.
 */
export async function confirmSync(w: SyncWait): Promise<SyncResult> {
  if (!w.stop) return poll(w, () => false);
  // A newer change stops the wait at once, a probe in flight included: the scope is cancelled when
  // `stop` holds, and the watcher ends with the wait either way.
  const stop = w.stop;
  const scope = new CancellationScope();
  let finished = false;
  const watcher = condition(() => finished || stop()).then(() => {
    if (!finished) scope.cancel();
  });
  try {
    return await scope.run(() => poll(w, stop));
  } catch (err) {
    if (isCancellation(err) && stop()) return { state: 'stopped', message: 'a newer change took over' };
    throw err;
  } finally {
    finished = true;
    await watcher;
  }
}

async function poll(w: SyncWait, stop: () => boolean): Promise<SyncResult> {
  const deadline = Date.now() + w.timeoutMs;
  const app = { application: w.application, branch: w.branch, missingIsWaiting: w.missingIsWaiting };
  for (let attempt = 0; ; attempt++) {
    if (stop()) return { state: 'stopped', message: 'a newer change took over' };
    // Argo CD not answering now is one more poll without news, not the deploy's end.
    const observed = await steps
      .observeArgoApp({ revision: w.revision, refresh: attempt === 0, ...app })
      .catch((err: unknown) => {
        if (isCancellation(err) || isPermanentFailure(err)) throw err;
        return innermostMessage(err);
      });
    const verdict =
      typeof observed === 'string'
        ? { state: 'waiting' as const, message: `Argo CD did not answer (${observed}); asking again` }
        : evaluateArgo(observed, w.revision);
    w.onArgo(verdict.message);
    if (verdict.state !== 'waiting') return { state: verdict.state, message: verdict.message };
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      return {
        state: 'timeout',
        message: `Argo CD did not report the application synced and healthy within ${formatDuration(w.timeoutMs)}: ${verdict.message}`,
      };
    }
    // A durable timer that a newer change cuts short.
    await condition(stop, Math.min(pollDelay(attempt, ARGO_POLL_INITIAL_MS, ARGO_POLL_MAX_MS), remaining));
  }
}
