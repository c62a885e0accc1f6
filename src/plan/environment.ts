import { SHA_TAG } from './tags';

/** One entry of production's history, read from the overlay's git log. */
export interface ProductionTarget {
  tag: string;
  overlayCommit: string;
  date: string;
  /** The person or deploy that changed it (Requested-By trailer, else the commit author). */
  by: string;
  subject: string;
  /** The merge commit a deploy built the tag from (Deployed-Commit trailer). */
  deployedCommit?: string;
  kind: 'deploy' | 'rollback' | 'manual';
  imagesExist: boolean;
}

/** A deploy whose checks passed (CI, images), waiting for its turn at the overlay. */
export interface Candidate {
  workflowId: string;
  commit: string;
  path: 'code' | 'k8s';
  tag: string;
  readyAt: string;
}

export type OutcomeKind = 'deployed' | 'superseded' | 'failed' | 'rolled-back' | 'rollback-refused';

export interface Outcome {
  kind: OutcomeKind;
  tag?: string;
  commit?: string;
  /** The deploy's workflow id, or the rollback's id (`env-production/rollback-3`). */
  workflowId?: string;
  /** Who asked, for rollbacks. */
  by?: string;
  message: string;
  at: string;
}

export interface RollbackRequest {
  /** `previous`, or a production tag `sha-<7 hex>`. */
  to: string;
  reason: string;
  requestedBy: string;
}

export interface Freeze {
  reason: string;
  by: string;
  since: string;
}

/** Everything the environment workflow carries through continue-as-new. JSON-plain. */
export interface EnvironmentState {
  queue: Candidate[];
  rollbacks: RollbackRequest[];
  /** Set by `deployctl pause`; deploys still run their checks but wait. */
  paused?: Freeze;
  /** Set by a rollback: production stays rolled back until `deployctl resume`. */
  held?: Freeze & { tag: string };
  /** Recent outcomes, newest last (bounded). */
  outcomes: Outcome[];
  /** Changes handled by this run, for the continue-as-new threshold. */
  handled: number;
  /** What production runs, as far as this workflow knows. */
  production?: { tag: string; since: string; by?: string };
  /** Rollbacks started so far: each gets a stable id for its overlay commit. */
  sequence?: number;
  /** The latest deploy requests, newest last (bounded). */
  requests?: Array<{ commit: string; by: string; at: string }>;
}

export const MAX_OUTCOMES = 50;
export const MAX_REQUESTS = 20;

export function emptyState(): EnvironmentState {
  return { queue: [], rollbacks: [], outcomes: [], handled: 0 };
}

/** Keeps the newest `max` entries: history stays bounded however long production lives. */
export function bounded<T>(items: T[], item: T, max: number): T[] {
  return [...items, item].slice(-max);
}

/** Why a rollback request cannot be carried out as asked, or undefined when it can. */
export function rollbackRequestProblem(request: Partial<RollbackRequest>): string | undefined {
  if (request.to !== 'previous' && !SHA_TAG.test(request.to ?? ''))
    return `rollback target must be "previous" or a tag like sha-abc1234, got ${JSON.stringify(request.to)}`;
  if (!request.reason?.trim()) return 'a rollback needs a reason';
  if (!request.requestedBy?.trim()) return 'a rollback needs requestedBy';
  // Both end up as commit-message lines and trailers.
  if (/[\r\n]/.test(request.reason) || request.reason.length > 500)
    return 'the rollback reason must be one line of at most 500 characters';
  if (/[\r\n]/.test(request.requestedBy) || request.requestedBy.length > 200)
    return 'requestedBy must be one line of at most 200 characters';
  return undefined;
}

/**
 * The tag a rollback goes to: a named tag as is; `previous` is the tag production ran before the
 * current tag was first deployed. History is newest first; a rollback entry does not count as
 * "deploying" its tag, so rolling back twice keeps going back instead of returning to the bad tag.
 */
export function resolveRollbackTag(to: string, history: ProductionTarget[]): { tag: string } | { problem: string } {
  if (to !== 'previous') return { tag: to };
  const current = history[0]?.tag;
  const deployedAt = history.findIndex((target) => target.tag === current && target.kind !== 'rollback');
  const previous = history.slice(Math.max(deployedAt, 0)).find((target) => target.tag !== current);
  return previous
    ? { tag: previous.tag }
    : { problem: `production has no tag before ${current ?? 'the current one'} to roll back to` };
}

/** The next candidate to apply: the newest in git history first, so older code is superseded, not deployed. */
export function nextCandidate(queue: Candidate[], newestFirst: string[]): Candidate | undefined {
  for (const commit of newestFirst) {
    const found = queue.find((candidate) => candidate.commit === commit);
    if (found) return found;
  }
  return queue[0];
}

/** The order step takes at most this many commits at once (one git process per batch). */
export const ORDER_BATCH = 200;
/** Verdicts sent to deploys at once: Temporal bounds a workflow's pending outgoing signals. */
export const SIGNAL_BATCH = 100;

/** Splits a list into consecutive batches of at most `size`. */
export function batches<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * What one turn at the overlay decides, from the queue and the newest commits among it (`heads`:
 * the queued commits no other queued commit descends from, as git reported them). With one head,
 * every other queued commit is its ancestor: once the head's tag is in the overlay, the older
 * code deploys are superseded without a git operation each. k8s-only changes still get their own
 * confirmation (Argo CD must have synced a revision that contains them).
 */
export function planTurn(
  queue: Candidate[],
  heads: string[],
): { next: Candidate; supersededOnCommit: Candidate[] } | undefined {
  const next = nextCandidate(queue, heads);
  if (!next) return undefined;
  const linear = heads.length === 1 && heads[0] === next.commit;
  const supersededOnCommit = linear && next.path === 'code' ? queue.filter((c) => c !== next && c.path === 'code') : [];
  return { next, supersededOnCommit };
}
