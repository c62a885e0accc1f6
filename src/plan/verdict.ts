/**
 * How one deploy's turn at the overlay ended, typed so decisions read the reason, never the text:
 * auto-rollback acts on `degraded` only.
 */
export type VerdictReason =
  /** Argo CD reports our revision Synced and Healthy. */
  | 'healthy'
  /** Argo CD reports it Degraded, or the sync operation failed. */
  | 'degraded'
  /** Argo CD did not report Synced + Healthy within the sync timeout. */
  | 'sync-timeout'
  /** A newer commit took its place (production: newer in git history; a preview: a newer push). */
  | 'superseded'
  /** A step failed for good (git refused the push, the overlay is broken, …); the message says which. */
  | 'step-failed';

export interface Verdict {
  outcome: 'deployed' | 'superseded' | 'failed';
  reason: VerdictReason;
  message: string;
  /** The deployer's overlay commit, or null when nothing was committed. */
  overlayCommit?: string | null;
  /** Argo CD's last word on the application. */
  argo?: string;
  /** A deployed verdict: the deploy (or rollback) whose change this one replaced, for its GitHub Deployment. */
  replaces?: { workflowId: string; commit: string };
}

/** What the confirm wait found: one of the three ways a sync wait ends, or stopped because a newer change took over. */
export type SyncState = 'healthy' | 'degraded' | 'timeout' | 'stopped';

const SYNC_REASON: Record<Exclude<SyncState, 'stopped'>, VerdictReason> = {
  healthy: 'healthy',
  degraded: 'degraded',
  timeout: 'sync-timeout',
};

/** The verdict of a committed change from its sync wait. */
export function syncVerdict(
  state: Exclude<SyncState, 'stopped'>,
  message: string,
  overlayCommit: string | null,
): Verdict {
  return {
    outcome: state === 'healthy' ? 'deployed' : 'failed',
    reason: SYNC_REASON[state],
    message,
    overlayCommit,
    argo: message,
  };
}

export function supersededVerdict(message: string, overlayCommit?: string | null): Verdict {
  return {
    outcome: 'superseded',
    reason: 'superseded',
    message,
    ...(overlayCommit !== undefined ? { overlayCommit } : {}),
  };
}

export function failedVerdict(message: string): Verdict {
  return { outcome: 'failed', reason: 'step-failed', message };
}
