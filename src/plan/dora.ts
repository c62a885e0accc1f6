import type { Outcome } from './environment';

/**
 * The four DORA measures of one environment over a window, from plain records: the production
 * deploys that closed in it (Temporal visibility) and the rollbacks the environment committed.
 * Pure arithmetic: what counts as a deployment, a failure and a restore is decided here, once.
 */

/** How a production deploy run ended, as far as the measures care. */
export type DeployEnd =
  /** Argo CD reported the change Synced and Healthy: a deployment. */
  | 'succeeded'
  /** The change reached production (the deploy waited for Argo CD), then failed: Degraded, not healthy in time, unconfirmed. */
  | 'failed-in-production'
  /** Failed before the overlay changed: CI, a missing image, a refused push. Production never saw it. */
  | 'failed-before-production'
  /** Newer code reached production first: never deployed, no failure. */
  | 'superseded'
  /** Nothing to deploy (docs, CI, Terraform). */
  | 'skipped'
  | 'cancelled'
  /** Terminated, timed out, or closed without a final phase: not counted. */
  | 'other';

/** One production deploy run that closed in the window. Times are ISO strings. */
export interface DeployRecord {
  end: DeployEnd;
  /** The deploy workflow's start: the push webhook starts it at the merge. */
  startedAt: string;
  /** When it closed: for a succeeded deploy, the moment Argo CD reported it healthy. */
  closedAt: string;
  /** A deploy failed in production: when its change reached production (it entered `syncing`). */
  liveAt?: string;
}

/** A rollback the environment committed to production (a refused one changed nothing). */
export interface RollbackRecord {
  /** When it ended: healthy, or known not to be. */
  at: string;
  healthy: boolean;
}

/** What the deploy's final status says about its stage; the shape of DeployStatus, without importing it. */
export interface FinalStatus {
  /** When each phase was entered. */
  phases: Partial<Record<string, string>>;
}

/**
 * How a deploy run ended, from its execution status and final DeployPhase (visibility), and for a
 * failed one its final status (the close event). A failed deploy reached production when it
 * entered `syncing`: the overlay was committed (or, for a k8s-only merge, the merge itself is
 * what Argo CD syncs) and the environment waited for Argo CD.
 */
export function deployEnd(execution: string, phase: string | undefined, final?: FinalStatus): DeployEnd {
  if (execution === 'COMPLETED' && (phase === 'succeeded' || phase === 'superseded' || phase === 'skipped'))
    return phase;
  if (execution === 'CANCELLED') return 'cancelled';
  if (execution === 'FAILED' && phase === 'failed' && final) {
    return final.phases.syncing !== undefined ? 'failed-in-production' : 'failed-before-production';
  }
  return 'other';
}

/** Rollback outcomes carry the environment's rollback id (`env-production/rollback-3`), deploys their workflow id. */
const ROLLBACK_ID = /\/rollback-\d+$/;

/**
 * The rollbacks among an environment's outcomes that changed production: rolled back (healthy), or
 * committed and then not healthy. A refused rollback, or one that failed before its commit, did not.
 */
export function rollbacksOf(outcomes: Outcome[]): RollbackRecord[] {
  return outcomes.flatMap((o): RollbackRecord[] => {
    if (o.kind === 'rolled-back') return [{ at: o.at, healthy: true }];
    if (o.kind === 'failed' && ROLLBACK_ID.test(o.workflowId ?? '') && o.overlayCommit)
      return [{ at: o.at, healthy: false }];
    return [];
  });
}

/**
 * Whether an environment's outcomes hold every rollback since `since`: it keeps only its last
 * `max` outcomes, so a full list whose oldest entry is newer than `since` may have dropped some.
 */
export function rollbackCoverage(outcomes: Outcome[], since: string, max: number): { coveredSince?: string } {
  const oldest = outcomes[0]?.at;
  return outcomes.length >= max && oldest !== undefined && Date.parse(oldest) > Date.parse(since)
    ? { coveredSince: oldest }
    : {};
}

export interface Window {
  since: string;
  until: string;
}

export interface DoraMeasures {
  window: Window & { seconds: number };
  /** Every deploy run that closed in the window, by how it ended. */
  deploys: Record<'closed' | EndCount, number>;
  rollbacks: { committed: number; healthy: number };
  deploymentFrequency: { deployments: number; perDay: number; perWeek: number };
  /** Merge (the deploy's start) to healthy, over the deployments. */
  leadTime: { deployments: number; medianSeconds: number | null; p90Seconds: number | null };
  changeFailureRate: {
    /** Deploys that failed in production or were rolled back (each counted once). */
    failures: number;
    failedInProduction: number;
    /** Deploys whose next production change was a rollback. */
    rolledBack: number;
    /** Deployments plus deploys that failed in production. */
    reachedProduction: number;
    /** failures / reachedProduction, 0 to 1, to four decimals; null when nothing reached production. */
    rate: number | null;
  };
  timeToRestore: { failures: number; restored: number; open: number; medianSeconds: number | null };
}

/** The `deploys` counts are keyed in camelCase, for JSON. */
type EndCount =
  'succeeded' | 'failedInProduction' | 'failedBeforeProduction' | 'superseded' | 'skipped' | 'cancelled' | 'other';

const COUNT_OF: Record<DeployEnd, EndCount> = {
  succeeded: 'succeeded',
  'failed-in-production': 'failedInProduction',
  'failed-before-production': 'failedBeforeProduction',
  superseded: 'superseded',
  skipped: 'skipped',
  cancelled: 'cancelled',
  other: 'other',
};

const DAY_S = 86_400;

/**
 * The measures over the window. Records outside it are ignored, so callers may pass what they have.
 *
 * - deployment frequency: succeeded deploys per day and per week of the window;
 * - lead time: a succeeded deploy's start (the merge) to its close (healthy): median and p90;
 * - change failure rate: of the deploys that reached production, those that failed there or
 *   whose next production change was a rollback;
 * - time to restore: from a failed deploy reaching production (for a rolled-back one: from when it
 *   went live) to the next healthy change after it, a deploy or a rollback; median. A failure not
 *   yet restored at the window's end is `open`.
 */
export function doraMeasures(window: Window, deploys: DeployRecord[], rollbacks: RollbackRecord[]): DoraMeasures {
  const since = Date.parse(window.since);
  const until = Date.parse(window.until);
  if (!(since < until)) throw new Error(`not a window: ${window.since} to ${window.until}`);
  const inWindow = (at: string) => Date.parse(at) >= since && Date.parse(at) <= until;
  const closed = deploys.filter((d) => inWindow(d.closedAt));
  const committed = rollbacks.filter((r) => inWindow(r.at));

  const counts = { closed: closed.length } as DoraMeasures['deploys'];
  for (const key of Object.values(COUNT_OF)) counts[key] = 0;
  for (const d of closed) counts[COUNT_OF[d.end]]++;

  const succeeded = closed.filter((d) => d.end === 'succeeded');
  const leadTimes = succeeded.map((d) => seconds(d.startedAt, d.closedAt)).sort(byNumber);
  const perDay = succeeded.length / ((until - since) / 1000 / DAY_S);
  const changes = productionChanges(closed, committed);
  const failed = failedChanges(changes);
  const reachedProduction = changes.filter((c) => c.kind === 'deploy').length;

  return {
    window: { ...window, seconds: round((until - since) / 1000) },
    deploys: counts,
    rollbacks: { committed: committed.length, healthy: committed.filter((r) => r.healthy).length },
    deploymentFrequency: { deployments: succeeded.length, perDay: round(perDay), perWeek: round(perDay * 7) },
    leadTime: {
      deployments: succeeded.length,
      medianSeconds: quantile(leadTimes, 0.5),
      p90Seconds: quantile(leadTimes, 0.9),
    },
    changeFailureRate: {
      failures: failed.failures,
      failedInProduction: counts.failedInProduction,
      rolledBack: failed.rolledBack,
      reachedProduction,
      rate: reachedProduction ? Math.round((failed.failures / reachedProduction) * 10_000) / 10_000 : null,
    },
    timeToRestore: {
      failures: failed.failures,
      restored: failed.restores.length,
      open: failed.open,
      medianSeconds: quantile(failed.restores.sort(byNumber), 0.5),
    },
  };
}

/** One change to production: a deploy that reached it, or a committed rollback. */
interface Change {
  kind: 'deploy' | 'rollback';
  /** When it ended: healthy, or known not to be. */
  at: string;
  /** When production started to run it. */
  liveAt: string;
  healthy: boolean;
}

/** Production's changes in the order they happened; a rollback at the same instant follows what it reverts. */
function productionChanges(deploys: DeployRecord[], rollbacks: RollbackRecord[]): Change[] {
  const reached = deploys.filter((d) => d.end === 'succeeded' || d.end === 'failed-in-production');
  return [
    ...reached.map((d): Change => ({
      kind: 'deploy',
      at: d.closedAt,
      liveAt: d.liveAt ?? d.closedAt,
      healthy: d.end === 'succeeded',
    })),
    ...rollbacks.map((r): Change => ({ kind: 'rollback', at: r.at, liveAt: r.at, healthy: r.healthy })),
  ].sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || (a.kind === b.kind ? 0 : a.kind === 'deploy' ? -1 : 1));
}

/**
 * The failed deploys among the changes (not healthy, or rolled back by the next change), and for
 * each, how long until the next healthy change restored production, if one did.
 */
function failedChanges(changes: Change[]): { failures: number; rolledBack: number; restores: number[]; open: number } {
  const result = { failures: 0, rolledBack: 0, restores: [] as number[], open: 0 };
  changes.forEach((change, i) => {
    if (change.kind !== 'deploy') return;
    const rolledBack = changes[i + 1]?.kind === 'rollback';
    if (rolledBack) result.rolledBack++;
    if (change.healthy && !rolledBack) return;
    result.failures++;
    const restored = changes.slice(i + 1).find((next) => next.healthy);
    if (restored) result.restores.push(seconds(change.liveAt, restored.at));
    else result.open++;
  });
  return result;
}

const seconds = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / 1000;
const byNumber = (a: number, b: number) => a - b;

/** Milliseconds are the records' precision: three decimals of a second, no float noise. */
function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/**
 * The q-quantile of sorted values, interpolated between the two closest ranks (the common
 * "linear" definition: the median of an even count is the mean of the middle two); null for none.
 */
export function quantile(sorted: number[], q: number): number | null {
  if (!sorted.length) return null;
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return round(sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below));
}
