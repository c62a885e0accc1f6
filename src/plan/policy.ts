import type { TagRule } from './tag-rule';

/**
 * How an environment behaves, one row per kind of target: the spec's "Comparison with Preview
 * Workflow" as data. The deploy and environment workflows read these flags, never the kind, so
 * another kind of target (a staging environment production promotes from) is one more row.
 */
export interface Policy {
  /**
   * `git-history`: the newest commit in git history goes next and older code ends superseded
   * (the tag only moves forward); `newest-push`: the newest push wins, older ones are superseded.
   */
  order: 'git-history' | 'newest-push';
  /** Ends when its pull request closes (in-flight deploys cancelled), instead of living forever. */
  closes: boolean;
  /** Rollback, hold and pause. */
  rollbacks: boolean;
  /** A k8s-only change is committed to the overlay too (a preview's branch), not only confirmed. */
  commitsK8s: boolean;
  /** People push to the overlay's branch: the deployer recognises its own overlay commits among their events. */
  ownCommits: boolean;
  /** Requests are decided one at a time (each depends on the newest push so far). */
  serialRequests: boolean;
  /** Where changes come from: merges to the main branch, or pushes to a pull request (read from GitHub first). */
  source: 'main' | 'pull-request';
  /** Lives forever: a deploy that finds its environment gone starts it again and hands itself over there. */
  restartable: boolean;
  /** A deploy of a commit may run again after it `failed` only, or after any end (a head pushed again by force). */
  rerun: 'failed-only' | 'always';
  /** The Argo CD application may not exist yet (an ApplicationSet creates it): missing is waiting, not an error. */
  applicationMayBeMissing: boolean;
  /** The tag rules this target uses. */
  rules: readonly TagRule[];
}

export const POLICIES = {
  production: {
    order: 'git-history',
    closes: false,
    rollbacks: true,
    commitsK8s: false,
    ownCommits: false,
    serialRequests: false,
    source: 'main',
    restartable: true,
    rerun: 'failed-only',
    applicationMayBeMissing: false,
    rules: ['ci', 'running'],
  },
  preview: {
    order: 'newest-push',
    closes: true,
    rollbacks: false,
    commitsK8s: true,
    ownCommits: true,
    serialRequests: true,
    source: 'pull-request',
    restartable: false,
    rerun: 'always',
    applicationMayBeMissing: true,
    rules: ['ci', 'pr-history', 'production'],
  },
} as const satisfies Record<string, Policy>;

export function policyOf(target: { kind: keyof typeof POLICIES }): Policy {
  return POLICIES[target.kind];
}
