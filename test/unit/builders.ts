/**
 * Small builders for the planner's table tests, so each case reads as data: the facts a pure
 * decision reads, with defaults for everything a case does not care about.
 *
 *   previewState().latest(C).own(O, C).deployed(C, AFTER).build()
 *   pull({ headSha: D, state: 'closed', merged: true })
 *   candidate({ commit: C, path: 'k8s' })
 */
import type { Applying, Candidate, EnvironmentState, Outcome } from '../../src/plan/environment';
import type { PreviewStateFacts, PullFacts } from '../../src/plan/preview-request';

/** A full commit SHA made of one repeated hex character: `sha('c')` is `ccc…c` (40). */
export const sha = (c: string): string => c.repeat(40);

/** Commits of a pull request, oldest (A) to newest (D), and the deployer's overlay commits (O on C, P on D). */
export const [A, B, C, D] = ['a', 'b', 'c', 'd'].map(sha) as [string, string, string, string];
export const [O, P] = ['e', 'f'].map(sha) as [string, string];
/** A commit nobody in a case knows about (someone else's newer push). */
export const X = sha('9');

/** Times around the moment `latest` was requested (LATEST_AT). */
export const BEFORE_LATEST = '2026-01-01T00:00:30Z';
export const LATEST_AT = '2026-01-01T00:01:00Z';
export const AFTER_LATEST = '2026-01-01T00:02:00Z';

/** The workflow id of a preview deploy of `commit`, as the cases name them. */
export const deployOf = (commit: string): string => `deploy-pr-7-${commit.slice(0, 7)}`;

/** What a preview environment knows when it decides a request (see decidePreviewRequest). */
export class PreviewStateBuilder {
  private facts: PreviewStateFacts = { ownCommits: [], deployed: [] };

  /** The newest requested head, its deploy requested at `at`. */
  latest(commit: string, at = LATEST_AT, workflowId = deployOf(commit)): this {
    this.facts.latest = { commit, workflowId, at };
    return this;
  }

  /** The deployer's own overlay commit `overlayCommit`, made on top of `commit`. */
  own(overlayCommit: string, commit: string): this {
    this.facts.ownCommits.push({ overlayCommit, commit });
    return this;
  }

  /** The preview of `commit` was deployed at `at`. */
  deployed(commit: string, at = AFTER_LATEST): this {
    this.facts.deployed.push({ commit, at });
    return this;
  }

  /** The overlay change for `commit` is being committed now. */
  committing(commit: string): this {
    this.facts.committing = { commit };
    return this;
  }

  build(): PreviewStateFacts {
    return structuredClone(this.facts);
  }
}

export const previewState = (): PreviewStateBuilder => new PreviewStateBuilder();

/** GitHub's answer about pull request #7: open, head D on `feature`, a branch of this repository. */
export function pull(over: Partial<PullFacts> = {}): PullFacts {
  return {
    state: 'open',
    merged: false,
    headSha: D,
    headRef: 'feature',
    fork: false,
    headRepository: 'acme/app',
    headIsMain: false,
    ...over,
  };
}

/** A deploy whose checks passed: production's CI build of `commit` unless told otherwise. */
export function candidate(over: Partial<Candidate> & { commit: string }): Candidate {
  return {
    workflowId: `deploy-${over.commit}`,
    path: 'code',
    tag: `sha-${over.commit.slice(0, 7)}`,
    rule: 'ci',
    readyAt: '2026-01-01T00:00:00Z',
    ...over,
  };
}

/** A recorded outcome: a deploy that ended `kind`. */
export function outcome(over: Partial<Outcome> & { kind: Outcome['kind'] }): Outcome {
  return { message: `ended ${over.kind}`, at: LATEST_AT, ...over };
}

/** The part of the environment's state a handed-over deploy is looked up in (see handover). */
export type HandoverState = Pick<EnvironmentState, 'queue' | 'applying' | 'outcomes'>;

export class EnvironmentStateBuilder {
  private state: HandoverState = { queue: [], outcomes: [] };

  queued(...candidates: Candidate[]): this {
    this.state.queue.push(...candidates);
    return this;
  }

  /** The change applied now: a deploy by `workflowId`. */
  applying(workflowId: string, over: Partial<Applying> = {}): this {
    this.state.applying = {
      kind: 'deploy',
      tag: 'sha-ccccccc',
      workflowId,
      phase: 'syncing',
      since: LATEST_AT,
      ...over,
    };
    return this;
  }

  /** Outcomes in the order they were recorded (newest last). */
  recorded(...outcomes: Outcome[]): this {
    this.state.outcomes.push(...outcomes);
    return this;
  }

  build(): HandoverState {
    return structuredClone(this.state);
  }
}

export const environmentState = (): EnvironmentStateBuilder => new EnvironmentStateBuilder();
