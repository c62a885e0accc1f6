import { condition } from '@temporalio/workflow';
import { ciOutcome, pollDelay, type CiRun } from '../plan/ci';
import { steps } from './steps';
import type { DeployPlan } from './types';

export interface CiWait {
  commit: string;
  /** `push` for a merge to main, `pull_request` for a preview. */
  event: 'push' | 'pull_request';
  /** The worker's CI policy, as the detect step read it. */
  plan: Pick<DeployPlan, 'ciTimeoutMs' | 'ciPollInitialMs' | 'ciPollMaxMs' | 'ciSkipped'>;
  /** The run the relay's ciCompleted signal delivered, if any yet. */
  signalled: () => CiRun | undefined;
  onRun: (run: CiRun) => void;
  /** What a person does to get a new build: "merge again", "push again". */
  again: string;
  /** The command that starts this deploy again once CI passed, e.g. `deployctl start --sha …`. */
  rerun: string;
}

/** The CI run failed, or did not finish in time: the deploy stops, the overlay untouched. */
export class CiFailure extends Error {}

/**
 * Waits for the commit's CI run: the ciCompleted signal first, polling on growing durable timers
 * as the fallback, hours if need be. Waiting is a state; only a finished failure or the timeout ends it.
 */
export async function waitForCi(w: CiWait): Promise<void> {
  const { ciTimeoutMs, ciPollInitialMs, ciPollMaxMs } = w.plan;
  const deadline = Date.now() + ciTimeoutMs;
  for (let attempt = 0; ; attempt++) {
    const run = w.signalled() ?? (await steps.findCiRun({ commit: w.commit, event: w.event }));
    if (run) w.onRun(run);
    // GitHub skips CI for this commit: no run and no images will come, so waiting an hour helps no
    // one. The second probe, not the first, decides: GitHub creates runs a moment after the push.
    if (!run && attempt >= 1 && w.plan.ciSkipped) {
      throw new CiFailure(
        `CI does not run for ${w.commit.slice(0, 7)}: its commit message contains "${w.plan.ciSkipped}", so GitHub skips push and pull_request workflows and builds no images. The overlay was not changed. A squash or rebase merge may have copied a preview's overlay commit (see the README on merging); push a commit without the marker (an empty commit will do) to build and deploy.`,
      );
    }
    const outcome = ciOutcome(run);
    if (outcome === 'success') return;
    if (outcome === 'failure') {
      throw new CiFailure(`CI run ${run!.conclusion ?? run!.status} for ${w.commit.slice(0, 7)}: ${run!.url}. The overlay was not changed; fix the build and ${w.again}, or re-run CI and then \`${w.rerun}\`.`);
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      const where = run ? `: ${run.url}` : ' (no CI run was found for this commit; check the ci.workflow setting)';
      throw new CiFailure(`CI did not finish within ${Math.round(ciTimeoutMs / 60_000)} min${where}. The overlay was not changed.`);
    }
    const wait = Math.min(pollDelay(attempt, ciPollInitialMs, ciPollMaxMs), remaining);
    await condition(() => w.signalled() !== undefined, wait, { summary: 'wait for the ciCompleted signal, then poll CI again' });
  }
}
