import type { Duration } from '@temporalio/common';
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';

/**
 * How long each step may take, sized to its work. Every step heartbeats (activities/heartbeat.ts),
 * so a worker that dies mid-step is noticed after HEARTBEAT, not after the step's whole timeout,
 * and the step is retried by another worker.
 */
const HEARTBEAT: Duration = '10 seconds';

interface Budget {
  /** One attempt: a request with its own timeout, or git work (a first clone is the slow case). */
  attempt: Duration;
  /**
   * Attempts before the step fails. Counted in attempts, not time: time spent waiting for a worker
   * (all of them down for an hour) must not fail a step. Unset: until it succeeds or fails for good.
   */
  attempts?: number;
  heartbeat: boolean;
  /** The longest pause between attempts (default one minute). */
  maxInterval?: Duration;
  /** The first pause (default one second). */
  initialInterval?: Duration;
}

/** Git work: transient failures (network, a lost lock race) retried for about ten minutes. */
const GIT: Budget = { attempt: '5 minutes', attempts: 20, heartbeat: true };
/** One API read; a wait the server named (Retry-After, x-ratelimit-reset) is one attempt however long. */
const REQUEST: Budget = { attempt: '1 minute', attempts: 20, heartbeat: true };
/**
 * A probe inside a wait loop (CI runs, Argo CD): one attempt, because the loop itself polls again on
 * its timers and a signal can wake it meanwhile; a permanent failure still fails the wait.
 */
const PROBE: Budget = { attempt: '1 minute', attempts: 1, heartbeat: true };
/**
 * A write to GitHub while reporting: the throttling plugin spaces writes and may wait out a short
 * rate limit inside the attempt, hence the longer attempt; about ten minutes of retries, then a note.
 */
const REPORT: Budget = { attempt: '3 minutes', attempts: 10, heartbeat: true };
/** A notification: about eight minutes of backoff (2 s doubling to 2 min), then given up; the deploy never waits for it. */
const NOTIFY: Budget = {
  attempt: '1 minute',
  attempts: 8,
  heartbeat: true,
  initialInterval: '2s',
  maxInterval: '2 minutes',
};
/** The worker's own settings: no I/O, so retried until a worker answers. */
const LOCAL: Budget = { attempt: '10 seconds', heartbeat: false };

function options(budget: Budget, summary: string): ActivityOptions {
  return {
    summary,
    startToCloseTimeout: budget.attempt,
    heartbeatTimeout: budget.heartbeat ? HEARTBEAT : undefined,
    // Waits the server named arrive as nextRetryDelay; permanent failures are thrown non-retryable.
    retry: {
      initialInterval: budget.initialInterval ?? '1s',
      backoffCoefficient: 2,
      maximumInterval: budget.maxInterval ?? '1 minute',
      maximumAttempts: budget.attempts,
    },
  };
}

/** One proxy per step so each carries its own budget and a summary the Web UI shows beside it. */
function step<K extends keyof Activities>(name: K, budget: Budget, summary: string): Activities[K] {
  return proxyActivities<Activities>(options(budget, summary))[name];
}

/** The named steps, as the workflows call them. */
export const steps = {
  targetSettings: step('targetSettings', LOCAL, "the worker's policy for the target"),
  detect: step('detect', GIT, 'detect: classify the files the change touches'),
  readPullRequest: step('readPullRequest', REQUEST, 'read-pull-request: head, base and fork of the pull request'),
  listPullCommits: step('listPullCommits', REQUEST, "read-pull-request: the pull request's commits, newest first"),
  findImages: step('findImages', REQUEST, "search-images: the newest PR build of the head's code"),
  findCiRun: step('findCiRun', PROBE, 'wait-for-ci: look up the CI run of the commit'),
  readRunningTag: step('readRunningTag', GIT, 'read-running-tag: the tag production runs'),
  validateImages: step('validateImages', REQUEST, 'validate-images: every image exists in the registry at the tag'),
  updateOverlay: step('updateOverlay', GIT, 'update-overlay: commit the tag to the overlay [skip ci]'),
  observeArgoApp: step('observeArgoApp', PROBE, 'confirm-sync: read the Argo CD application'),
  listTargets: step('listTargets', GIT, 'list-targets: production tags from the overlay history'),
  orderCommits: step('orderCommits', GIT, 'order-commits: the newest of the queued commits in git history'),
  removePreviewBranch: step('removePreviewBranch', GIT, "remove-preview-branch: the closed PR's preview branch"),
};

/** The reporter's steps (src/workflows/reporter.ts). */
export const reportSteps = {
  openDeployment: step(
    'openDeployment',
    REPORT,
    'report: create (or find) the GitHub Deployment, with its first status',
  ),
  setDeploymentStatus: step('setDeploymentStatus', REPORT, "report: the GitHub Deployment's next status"),
  retireDeployment: step('retireDeployment', REPORT, 'report: set the replaced GitHub Deployment inactive'),
  upsertPreviewComment: step('upsertPreviewComment', REPORT, "report: edit the pull request's preview comment"),
  deliverNotification: step('deliverNotification', NOTIFY, 'notify: deliver the event to one sink'),
};
