import { SHA_TAG } from './tags';
import type { TagRule } from './tag-rule';
import type { VerdictReason } from './verdict';

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
  /** The deploy's run: a failed production deploy may run again under the same id. */
  runId?: string;
  commit: string;
  path: 'code' | 'k8s';
  tag: string;
  /** Which tag rule chose the tag (recorded in a preview's overlay commit). */
  rule: TagRule;
  /** A preview: the pull request's head branch its overlay is committed on. */
  branch?: string;
  readyAt: string;
  /** Handed over again (no verdict came in time): the deploy's own status may be stale, so it is told its place. */
  again?: boolean;
}

export type OutcomeKind =
  'deployed' | 'superseded' | 'failed' | 'rolled-back' | 'rollback-refused' | 'ignored' | 'gone';

export interface Outcome {
  kind: OutcomeKind;
  /** Why a deploy ended so (its verdict's reason). */
  reason?: VerdictReason;
  tag?: string;
  commit?: string;
  rule?: TagRule;
  /** The deploy's workflow id, or the rollback's id (`env-production/rollback-3`). */
  workflowId?: string;
  /** The deploy's run the outcome was told to. */
  runId?: string;
  /** Who asked, for rollbacks. */
  by?: string;
  /** The deployer's overlay commit, when one was made. */
  overlayCommit?: string | null;
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

/** A rollback waiting for its turn; `id` names its overlay commit and the outcome a caller waits for. */
export interface PendingRollback extends RollbackRequest {
  id: string;
}

/** The change the environment applies now. */
export interface Applying {
  kind: 'deploy' | 'rollback';
  tag: string;
  commit?: string;
  workflowId?: string;
  phase: 'resolving' | 'validating' | 'committing' | 'syncing';
  since: string;
  /** What Argo CD reports while the change syncs. */
  argo?: string;
}

/** Everything the environment workflow carries through continue-as-new. JSON-plain. */
export interface EnvironmentState {
  queue: Candidate[];
  rollbacks: PendingRollback[];
  /** Set by `deployctl pause`; deploys still run their checks but wait. */
  paused?: Freeze;
  /** Set by a rollback: production stays rolled back until `deployctl resume`. */
  held?: Freeze & { tag: string };
  /** Recent outcomes, newest last (bounded). */
  outcomes: Outcome[];
  /** Changes handled by this run, for the continue-as-new threshold. */
  handled: number;
  /** What the target runs, as far as this workflow knows. */
  current?: {
    tag: string;
    since: string;
    by?: string;
    commit?: string;
    rule?: TagRule;
    overlayCommit?: string | null;
    /** The deploy (or rollback) that put it there: its GitHub Deployment is the one a later change retires. */
    workflowId?: string;
  };
  applying?: Applying;
  /** Rollbacks asked for so far: each gets a stable id for its overlay commit. */
  sequence?: number;
  /** The latest deploy requests, newest last (bounded). */
  requests: Array<{ commit: string; by: string; at: string }>;
  /** Newest-push policy: the newest requested head and its deploy; older deploys are superseded. */
  latest?: { commit: string; workflowId: string; at: string };
  /** The deployer's own overlay commits on a branch people push to, so their events start nothing. */
  ownCommits: Array<{ overlayCommit: string; commit: string }>;
  /** A `closed` event not yet checked against GitHub. */
  closeRequest?: { by: string; merged: boolean; at: string };
  closed?: { by: string; merged: boolean; at: string };
  /** Requests that came while the preview closed: they belong to a reopened pull request. */
  afterClose?: Array<{ commit?: string; before?: string; requestedBy?: string }>;
}
export const MAX_OUTCOMES = 50;
export const MAX_REQUESTS = 20;

export const MAX_OWN_COMMITS = 20;

export function emptyState(): EnvironmentState {
  return { queue: [], rollbacks: [], outcomes: [], handled: 0, requests: [], ownCommits: [] };
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

/** What the environment does next, one change at a time. */
export type NextChange = 'close' | 'rollback' | 'continue' | 'deploy' | 'wait';

export interface NextFacts {
  closeRequested: boolean;
  rollbacks: number;
  queue: number;
  /** Paused or held: queued deploys wait. */
  frozen: boolean;
  /** The run's history is long enough to continue as new. */
  dueToContinue: boolean;
}

/**
 * The priority of the environment's work: a close ends everything; a rollback goes before any
 * deploy (and before continue-as-new, since its caller waits for the outcome); a long history
 * continues as new before the next deploy, which carries the queue over.
 */
export function planNext(f: NextFacts): NextChange {
  if (f.closeRequested) return 'close';
  if (f.rollbacks > 0) return 'rollback';
  if (f.dueToContinue) return 'continue';
  if (f.queue > 0 && !f.frozen) return 'deploy';
  return 'wait';
}

const FULL_SHA = /^[0-9a-f]{40}$/i;

/** Why a deploy request cannot be carried out, or undefined. Production names its commit; a preview may ask for "the head". */
export function deployRequestProblem(
  request: { commit?: string; before?: string; requestedBy?: string },
  commitRequired: boolean,
): string | undefined {
  if (request.commit === undefined ? commitRequired : !FULL_SHA.test(request.commit)) {
    return `commit must be a full 40-character commit SHA, got ${JSON.stringify(request.commit)}`;
  }
  if (request.before !== undefined && !FULL_SHA.test(request.before)) {
    return `before must be a full 40-character commit SHA, got ${JSON.stringify(request.before)}`;
  }
  if (request.requestedBy !== undefined && (/[\r\n]/.test(request.requestedBy) || request.requestedBy.length > 200)) {
    return 'requestedBy must be one line of at most 200 characters';
  }
  return undefined;
}

/** Auto-rollback acts on a committed change Argo CD reported Degraded, nothing else (a timeout may be a slow sync). */
export function shouldAutoRollback(
  enabled: boolean,
  verdict: { reason: VerdictReason; overlayCommit?: string | null },
): boolean {
  return enabled && verdict.reason === 'degraded' && !!verdict.overlayCommit;
}

/** A deploy's recorded outcome as the verdict it was told, for a deploy that hands itself over again. */
export function verdictOfOutcome(outcome: Outcome):
  | {
      outcome: 'deployed' | 'superseded' | 'failed';
      reason: VerdictReason;
      message: string;
      overlayCommit?: string | null;
    }
  | undefined {
  if (outcome.kind !== 'deployed' && outcome.kind !== 'superseded' && outcome.kind !== 'failed') return undefined;
  const reason =
    outcome.reason ??
    (outcome.kind === 'deployed' ? 'healthy' : outcome.kind === 'superseded' ? 'superseded' : 'step-failed');
  return { outcome: outcome.kind, reason, message: outcome.message, overlayCommit: outcome.overlayCommit };
}

/** What a candidate handed over again finds: news to send, or a place in the queue. */
export type Handover = 'enqueue' | 'in-queue' | 'applying' | { verdictOf: Outcome };

/**
 * `runId` tells runs of one deploy id apart: a production deploy that failed may run again under the same id, and
 * the new run must take its own turn, not be handed the old run's verdict.
 */
export function handover(
  state: Pick<EnvironmentState, 'queue' | 'applying' | 'outcomes'>,
  workflowId: string,
  runId?: string,
): Handover {
  if (state.queue.some((c) => c.workflowId === workflowId)) return 'in-queue';
  if (state.applying?.workflowId === workflowId) return 'applying';
  const done = [...state.outcomes]
    .reverse()
    .find((o) => o.workflowId === workflowId && o.runId === runId && verdictOfOutcome(o));
  return done ? { verdictOf: done } : 'enqueue';
}

/** Why a pause or resume cannot be recorded as asked, or undefined; both end up in the view and the hold's text. */
export function holdRequestProblem(who: { by?: string; reason?: string }, needsReason: boolean): string | undefined {
  if (!who.by?.trim() || /[\r\n]/.test(who.by) || who.by.length > 200)
    return 'by must be one line of at most 200 characters';
  if (needsReason && (!who.reason?.trim() || /[\r\n]/.test(who.reason) || who.reason.length > 500)) {
    return 'a pause needs a reason: one line of at most 500 characters';
  }
  return undefined;
}
