import { metricMeter } from '@temporalio/workflow';
import type { DeployPhase } from '../contract/deploy';
import type { Target } from '../contract/target';
import type { Outcome } from '../plan/environment';
import type { Verdict } from '../plan/verdict';

/**
 * The product's metrics, emitted from workflow code through the SDK's workflow metric meter: a value
 * goes out through a sink the SDK skips while a workflow task replays (a cache eviction, a worker
 * restart), and no metric is a workflow command. A task that runs again live (its completion refused,
 * its worker lost before it completed) emits again: see deployPhaseChanged for how deploys avoid it.
 * The worker's Prometheus endpoint serves them unprefixed next to the SDK's `temporal_*` metrics,
 * with the SDK's labels added: namespace, taskQueue, workflowType.
 */
export const METRICS = {
  deploys: 'gitops_deployer_deploys_total',
  leadTime: 'gitops_deployer_lead_time_seconds',
  ciWait: 'gitops_deployer_ci_wait_seconds',
  step: 'gitops_deployer_step_duration_seconds',
  rollbacks: 'gitops_deployer_rollbacks_total',
  holds: 'gitops_deployer_holds_total',
  restore: 'gitops_deployer_time_to_restore_seconds',
  queueDepth: 'gitops_deployer_queue_depth',
  runningTag: 'gitops_deployer_running_tag',
} as const;

const minutes = (...values: number[]) => values.map((m) => m * 60);
const hours = (...values: number[]) => values.map((h) => h * 3600);

/** Bucket boundaries in seconds (the runtime's histogramBucketOverrides, keyed by name). */
export const HISTOGRAM_BUCKETS: Record<string, number[]> = {
  // Merge to healthy: a CI build of minutes plus a sync, up to the CI timeout and beyond (a deploy held for days).
  [METRICS.leadTime]: [...minutes(1, 2, 5, 10, 15, 20, 30, 45), ...hours(1, 1.5, 2, 4, 8, 24, 72, 168)],
  [METRICS.ciWait]: [30, ...minutes(1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45), ...hours(1, 2)],
  // A step lasts from a fraction of a second (validating) to hours (held, waiting for CI).
  [METRICS.step]: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, ...minutes(1, 2, 5, 15, 30), ...hours(1, 4)],
  [METRICS.restore]: [...minutes(1, 5, 15, 30), ...hours(1, 2, 4, 8, 24, 72)],
};

/** The `environment` label: the production target's name, or `preview` for every pull request's (bounded cardinality). */
export function environmentLabel(target: Target): string {
  return target.kind === 'preview' ? 'preview' : target.name;
}

const FINAL: ReadonlySet<DeployPhase> = new Set(['succeeded', 'failed', 'superseded', 'skipped', 'cancelled']);

/** The phases a deploy lives through itself; the environment measures its own (committing, syncing). */
const DEPLOY_STEPS: ReadonlySet<DeployPhase> = new Set(['detecting', 'waiting-for-ci', 'validating', 'queued', 'held']);

const seconds = (from: string | Date, to: Date) => {
  const value = (to.getTime() - new Date(from).getTime()) / 1000;
  return Number.isFinite(value) && value > 0 ? value : 0;
};

function stepHistogram() {
  return metricMeter.createHistogram(METRICS.step, 'float', 's', 'Time deploys spend in each step (phase), by step');
}

function deploysCounter() {
  return metricMeter.createCounter(
    METRICS.deploys,
    undefined,
    "Deploys that ended, by environment, outcome (final phase) and verdict (the environment's reason; none: ended before one)",
  );
}

/**
 * A deploy moved from one phase to the next, at workflow time `now`: the time it spent in `from`,
 * the CI wait when `from` was waiting for CI, and, for a final phase the environment gave no
 * verdict for (`counted` false: skipped, failed checks, cancelled), the deploy itself.
 *
 * Why the environment counts the deploys it decides: a deploy completes in the workflow task that
 * receives its verdict, and when another signal lands meanwhile the server refuses that completion
 * (UNHANDLED_COMMAND) and the task runs again, not as a replay: anything emitted there would count
 * twice. The environment emits in tasks that do not close it.
 */
export function deployPhaseChanged(change: {
  target: Target;
  from: DeployPhase;
  fromSince: string;
  to: DeployPhase;
  now: Date;
  /** The environment counted this deploy with its verdict. */
  counted: boolean;
}): void {
  const environment = environmentLabel(change.target);
  const { from, to, now } = change;
  if (from === to) return;
  if (DEPLOY_STEPS.has(from)) stepHistogram().record(seconds(change.fromSince, now), { environment, step: from });
  if (from === 'waiting-for-ci') {
    metricMeter
      .createHistogram(METRICS.ciWait, 'float', 's', 'Time deploys waited for CI to build their images, by result')
      .record(seconds(change.fromSince, now), { environment, result: to === 'validating' ? 'passed' : to });
  }
  if (FINAL.has(to) && !FINAL.has(from) && !change.counted)
    deploysCounter().add(1, { environment, outcome: to, verdict: 'none' });
}

/** The environment's own steps of a deploy's turn: `committing` (the overlay commit) and `syncing` (Argo CD). */
export function environmentStepTook(target: Target, step: 'committing' | 'syncing', since: string, now: Date): void {
  stepHistogram().record(seconds(since, now), { environment: environmentLabel(target), step });
}

const OUTCOME_OF: Record<Verdict['outcome'], DeployPhase> = {
  deployed: 'succeeded',
  failed: 'failed',
  superseded: 'superseded',
};

/**
 * The environment gave a deploy its verdict: the deploy counted with the phase it ends in, and for
 * a deployed one its lead time from `startedAt`, the deploy workflow's start (the push webhook starts
 * it at the merge), when the environment knows it.
 */
export function deployVerdict(
  target: Target,
  verdict: Pick<Verdict, 'outcome' | 'reason'>,
  now: Date,
  startedAt?: string,
) {
  const environment = environmentLabel(target);
  deploysCounter().add(1, { environment, outcome: OUTCOME_OF[verdict.outcome], verdict: verdict.reason });
  if (verdict.outcome !== 'deployed' || !startedAt) return;
  metricMeter
    .createHistogram(
      METRICS.leadTime,
      'float',
      's',
      'Lead time for changes: from the merge (the push webhook starts the deploy workflow) to Argo CD healthy',
    )
    .record(seconds(startedAt, now), { environment });
}

export type RollbackTrigger = 'signal' | 'update' | 'auto';

/** A rollback was accepted into the environment's queue. */
export function rollbackRequested(target: Target, trigger: RollbackTrigger): void {
  metricMeter
    .createCounter(
      METRICS.rollbacks,
      undefined,
      'Rollbacks accepted, by trigger: signal (Web UI), update (deployctl), auto',
    )
    .add(1, { environment: environmentLabel(target), trigger });
}

/** The environment stopped applying deploys: a person paused it, or a rollback holds it. */
export function holdStarted(target: Target, kind: 'pause' | 'rollback'): void {
  metricMeter
    .createCounter(
      METRICS.holds,
      undefined,
      'Times an environment stopped applying deploys: pause, or held after a rollback',
    )
    .add(1, { environment: environmentLabel(target), kind });
}

/** A production failure: a committed change Argo CD did not report healthy (the change-failure side of DORA). */
const isProductionFailure = (o: Outcome) =>
  o.kind === 'failed' && (o.reason === 'degraded' || o.reason === 'sync-timeout');
const isHealthy = (o: Outcome) => o.kind === 'deployed' || o.kind === 'rolled-back';

/**
 * Seconds from the first production failure since the last healthy state to `healthy`, the
 * outcome that restores it; undefined when nothing was failing. `outcomes` are the environment's
 * recorded ones (bounded, carried across continue-as-new), oldest first, without `healthy`.
 */
export function restoreSeconds(outcomes: readonly Outcome[], healthy: Outcome): number | undefined {
  if (!isHealthy(healthy)) return undefined;
  let firstFailure: Outcome | undefined;
  for (let i = outcomes.length - 1; i >= 0 && !isHealthy(outcomes[i]); i--) {
    if (isProductionFailure(outcomes[i])) firstFailure = outcomes[i];
  }
  return firstFailure ? seconds(firstFailure.at, new Date(healthy.at)) : undefined;
}

/** An outcome was recorded: if it ends a stretch of production failures, the time to restore. */
export function outcomeRecorded(target: Target, before: readonly Outcome[], outcome: Outcome): void {
  const restore = restoreSeconds(before, outcome);
  if (restore === undefined) return;
  metricMeter
    .createHistogram(
      METRICS.restore,
      'float',
      's',
      'Time to restore: from a committed change Argo CD reported degraded (or not healthy in time) to the next healthy deploy or rollback',
    )
    .record(restore, { environment: environmentLabel(target) });
}

/** Previews are left out of the gauges: one series per pull request would grow without bound. */
const gauged = (target: Target) => target.kind !== 'preview';

/** Deploys waiting for their turn at the overlay, queued or held. */
export function queueDepthChanged(target: Target, depth: number): void {
  if (!gauged(target)) return;
  metricMeter
    .createGauge(METRICS.queueDepth, 'int', undefined, 'Deploys waiting for their turn at the overlay (queued or held)')
    .set(depth, { environment: environmentLabel(target) });
}

/**
 * The tag a long-lived target runs (what git says), as an info gauge: 1 on the running tag, 0 on
 * the one it replaced. A Prometheus exporter cannot delete a series, so the old tag is set to 0
 * rather than left at 1; `== 1` selects the running one.
 */
export function runningTagChanged(target: Target, tag: string, previousTag?: string): void {
  if (!gauged(target)) return;
  const environment = environmentLabel(target);
  const running = metricMeter.createGauge(
    METRICS.runningTag,
    'int',
    undefined,
    'The image tag an environment runs: 1 on the running tag, 0 on the tags it replaced',
  );
  if (previousTag && previousTag !== tag) running.set(0, { environment, tag: previousTag });
  running.set(1, { environment, tag });
}
