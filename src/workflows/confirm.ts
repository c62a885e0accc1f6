import { sleep } from '@temporalio/workflow';
import { evaluateArgo } from '../plan/argocd';
import { pollDelay } from '../plan/ci';
import { formatDuration } from '../plan/duration';
import { innermostMessage, isPermanentFailure } from './errors';
import { steps } from './steps';

/** How often Argo CD is asked while a sync is in flight. */
const ARGO_POLL_INITIAL_MS = 2_000;
const ARGO_POLL_MAX_MS = 15_000;

/** Which application to ask (default: production's), and the branch it tracks. */
export interface ArgoTarget {
  application?: string;
  branch?: string;
  missingIsWaiting?: boolean;
}

export type SyncResult = { state: 'healthy' | 'degraded' | 'timeout'; message: string };

/**
 * Polls Argo CD on durable timers until the revision is synced and healthy, degraded, or the
 * timeout passes. Waiting is a state: the caller decides what a degraded app means.
 */
export async function confirmSync(
  revision: string,
  timeoutMs: number,
  onMessage: (message: string) => void,
  app: ArgoTarget = {},
): Promise<SyncResult> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    // Argo CD not answering now is one more poll without news, not the deploy's end.
    const observed = await steps.observeArgoApp({ revision, refresh: attempt === 0, ...app }).catch((err: unknown) => {
      if (isPermanentFailure(err)) throw err;
      return innermostMessage(err);
    });
    const verdict =
      typeof observed === 'string'
        ? { state: 'waiting' as const, message: `Argo CD did not answer (${observed}); asking again` }
        : evaluateArgo(observed, revision);
    onMessage(verdict.message);
    if (verdict.state !== 'waiting') return { state: verdict.state, message: verdict.message };
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      return {
        state: 'timeout',
        message: `Argo CD did not report the application synced and healthy within ${formatDuration(timeoutMs)}: ${verdict.message}`,
      };
    }
    await sleep(Math.min(pollDelay(attempt, ARGO_POLL_INITIAL_MS, ARGO_POLL_MAX_MS), remaining), {
      summary: 'wait before asking Argo CD again',
    });
  }
}
