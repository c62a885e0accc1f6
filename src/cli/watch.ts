import { setTimeout as sleep } from 'node:timers/promises';
import {
  NamespaceNotFoundError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionStatusName,
} from '@temporalio/client';
import type { DeployConfig } from '../config/schema';
import type { DeployPhase as Phase, DeployStatus } from '../contract/deploy';
import { inspectDeploy, type DeployView } from '../client/deploys';
import { span } from './span';

/** One thing that happened to a deploy, in the order it happened. `at` is an ISO time. */
export type WatchEvent = { at: string } & WatchEventBody;
type WatchEventBody =
  | { event: 'phase'; phase: Phase; detail?: string }
  | { event: 'plan'; path: string; reason?: string }
  | { event: 'ci'; run: NonNullable<DeployStatus['ciRun']> }
  | { event: 'overlay'; commit: string | null }
  | { event: 'argo'; message: string }
  | { event: 'error'; message: string }
  | { event: 'notice'; message: string }
  | { event: 'end'; execution: WorkflowExecutionStatusName; phase: Phase; error?: string; status: DeployStatus };

/** The order phases happen in; a Record so a new phase in types.ts fails to compile here until placed. */
const ORDER: Record<Phase, number> = {
  detecting: 0,
  'waiting-for-ci': 1,
  validating: 2,
  queued: 3,
  held: 4,
  committing: 5,
  syncing: 6,
  succeeded: 7,
  superseded: 8,
  failed: 9,
  skipped: 10,
  cancelled: 11,
};

/** Every phase, in order: the choices of `deployctl list --phase`. */
export const PHASES = (Object.keys(ORDER) as Phase[]).sort((a, b) => ORDER[a] - ORDER[b]);

/** 0 when the deploy ended well (succeeded, superseded by newer code, or nothing to deploy), else 1. */
export function exitCodeOf(view: DeployView): 0 | 1 {
  return view.execution === 'COMPLETED' && ['succeeded', 'superseded', 'skipped'].includes(view.status.phase) ? 0 : 1;
}

function phaseDetail(phase: Phase, s: DeployStatus): string | undefined {
  const sha7 = s.commit.slice(0, 7);
  switch (phase) {
    case 'detecting':
      return `${s.repository}@${sha7} to ${s.pr ? `the preview of #${s.pr}` : 'production'}`;
    case 'waiting-for-ci':
      return `for the CI run of ${sha7}`;
    case 'validating':
      return s.tag && `images at ${s.tag}`;
    case 'queued':
      return `checks passed; waiting for its turn at the ${s.pr ? 'preview' : 'production'} overlay`;
    case 'held':
      return 'held: production is paused or rolled back; waits for `deployctl resume`';
    case 'committing':
      return (
        s.tag &&
        `${s.tag} into the ${s.pr ? `preview overlay on ${s.branch ?? 'the PR branch'}` : 'production overlay'}`
      );
    case 'superseded':
      return s.pr
        ? 'a newer push to the pull request has its own preview deploy'
        : 'production already runs newer code that contains this commit';
    case 'syncing':
      return 'waiting for Argo CD to sync and report healthy';
    case 'succeeded':
      return s.phases.succeeded && `in ${span(Date.parse(s.phases.succeeded) - Date.parse(s.startedAt))}`;
    case 'skipped':
      return `nothing to deploy (${s.reason ?? 'no deployable change'})`;
    case 'failed':
      return undefined; // the error event that follows says why
    case 'cancelled':
      return s.pr ? `the pull request was closed or the deploy cancelled` : 'the deploy was cancelled';
  }
}

/**
 * What changed between two answers of the status query, as events. Polling can miss whole
 * phases; their entry times are in `phases`, so they are replayed in order, each field change
 * placed after the phase it belongs to.
 */
export function progressEvents(prev: DeployStatus | undefined, next: DeployStatus, now: string): WatchEvent[] {
  const fields: Array<{ owner: Phase; event: WatchEvent }> = [];
  // A change seen now happened before any later phase was entered: date it no later than that.
  const field = (owner: Phase, event: WatchEventBody) => {
    const later = (Object.entries(next.phases) as Array<[Phase, string]>)
      .filter(([phase]) => ORDER[phase] > ORDER[owner])
      .map(([, at]) => at);
    fields.push({ owner, event: { ...event, at: [now, ...later].sort()[0]! } });
  };
  if (next.path && next.path !== prev?.path)
    field('detecting', { event: 'plan', path: next.path, reason: next.reason });
  if (next.ciRun && (next.ciRun.id !== prev?.ciRun?.id || next.ciRun.conclusion !== prev?.ciRun?.conclusion))
    field('waiting-for-ci', { event: 'ci', run: next.ciRun });
  if (next.overlayCommit !== undefined && next.overlayCommit !== prev?.overlayCommit)
    field('committing', { event: 'overlay', commit: next.overlayCommit });
  if (next.argo && next.argo !== prev?.argo) field('syncing', { event: 'argo', message: next.argo });
  if (next.error && next.error !== prev?.error) field('failed', { event: 'error', message: next.error });

  const entered = (Object.entries(next.phases) as Array<[Phase, string]>)
    .filter(([phase]) => !prev?.phases[phase])
    .sort(([pa, a], [pb, b]) => a.localeCompare(b) || ORDER[pa] - ORDER[pb]);
  const events: WatchEvent[] = [];
  const flushBefore = (limit: number) => {
    for (let i = 0; i < fields.length;) {
      if (ORDER[fields[i]!.owner] < limit) events.push(fields.splice(i, 1)[0]!.event);
      else i++;
    }
  };
  for (const [phase, at] of entered) {
    flushBefore(ORDER[phase]);
    events.push({ at, event: 'phase', phase, detail: phaseDetail(phase, next) });
  }
  events.push(...fields.map((pending) => pending.event));
  return events;
}

export interface WatchOptions {
  emit(event: WatchEvent): void;
  intervalMs?: number;
  /** How long one status query may wait for a worker before the watch says so and asks again. */
  queryTimeoutMs?: number;
  /** Watch the preview deploy of this pull request's commit. */
  pr?: number;
}

/**
 * Follows a deploy until its workflow closes, emitting each change. Transient trouble (no worker
 * answering, a connection blip) is reported once and retried; an unknown deploy ends the watch.
 */
export async function watchDeploy(
  client: Client,
  config: DeployConfig,
  commit: string,
  options: WatchOptions,
): Promise<DeployView> {
  const { emit, intervalMs = 1_000, queryTimeoutMs = 5_000 } = options;
  let prev: DeployStatus | undefined;
  let lastNotice: string | undefined;
  for (;;) {
    let view: DeployView | undefined;
    try {
      view = await inspectDeploy(client, config, commit, queryTimeoutMs, options.pr);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || err instanceof NamespaceNotFoundError) throw err;
      const message = `${(err as Error).message}; retrying`;
      if (message !== lastNotice) emit({ at: new Date().toISOString(), event: 'notice', message });
      lastNotice = message;
    }
    if (view) {
      lastNotice = undefined;
      for (const event of progressEvents(prev, view.status, new Date().toISOString())) emit(event);
      prev = view.status;
      if (view.execution !== 'RUNNING') {
        emit({
          at: new Date().toISOString(),
          event: 'end',
          execution: view.execution,
          phase: view.status.phase,
          error: view.status.error,
          status: view.status,
        });
        return view;
      }
    }
    await sleep(intervalMs);
  }
}
