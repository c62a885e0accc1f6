import { condition } from '@temporalio/workflow';
import { ciOutcome, pollDelay, type CiRun } from '../plan/ci';
import { formatDuration } from '../plan/duration';
import { innermostMessage, isPermanentFailure } from './errors';
import { steps } from './steps';
import type { DeployPlan } from '../contract/deploy';

export interface CiWait {
  commit: string;
  /** `push` for a merge to main, `pull_request` for a preview. */
  event: 'push' | 'pull_request';
  /** The worker's CI policy, as the detect step read it. */
  plan: Pick<DeployPlan, 'ciTimeoutMs' | 'ciPollInitialMs' | 'ciPollMaxMs' | 'ciSkipped' | 'ciRerunWindowMs'>;
  /** The run the relay's ciCompleted signal delivered, if any yet. */
  signalled: () => CiRun | undefined;
  onRun: (run: CiRun) => void;
  /** The run failed and the deploy waits for a re-run (ci.rerunWindow): what its status says. */
  onNote?: (note: string) => void;
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
  const rerunWindowMs = w.plan.ciRerunWindowMs ?? 0;
  let deadline = Date.now() + ciTimeoutMs;
  // The signalled run last acted on: a newer signal (a re-run's) wakes the wait; this one does not.
  let consumed: CiRun | undefined;
  // A failed run that may still be re-run ("Re-run failed jobs"), and until when.
  let failed: { run: CiRun; until: number } | undefined;
  // The newest attempt seen: a late word of an older attempt (a redelivered webhook) changes nothing.
  let newest: CiRun | undefined;
  for (let attempt = 0; ; attempt++) {
    const fresh = w.signalled();
    let run: CiRun | null | undefined;
    if (fresh && fresh !== consumed) run = fresh;
    else {
      run = await steps.findCiRun({ commit: w.commit, event: w.event }).catch((err: unknown) => {
        if (isPermanentFailure(err)) throw err;
        w.onNote?.(`GitHub did not answer the CI probe (${innermostMessage(err)}); asking again`);
        return undefined; // no answer: no news, and not "no run"
      });
    }
    consumed = fresh;
    if (run) w.onRun(run);
    // GitHub skips CI for this commit: no run and no images will come, so waiting an hour helps no
    // one. The second probe, not the first, decides: GitHub creates runs a moment after the push.
    if (run === null && attempt >= 1 && w.plan.ciSkipped) {
      throw new CiFailure(
        `CI does not run for ${w.commit.slice(0, 7)}: its commit message contains "${w.plan.ciSkipped}", so GitHub skips push and pull_request workflows and builds no images. The overlay was not changed. A squash or rebase merge may have copied a preview's overlay commit (see the README on merging); push a commit without the marker (an empty commit will do) to build and deploy.`,
      );
    }
    // No run listed now (API lag) or no answer: the newest run seen still stands.
    const current = run && !(newest && olderAttempt(run, newest)) ? run : (newest ?? null);
    if (current) newest = current;
    const outcome = ciOutcome(current);
    if (outcome === 'success') return;
    let remaining = deadline - Date.now();
    if (outcome === 'failure') {
      const failure = `CI run ${current!.conclusion ?? current!.status} for ${w.commit.slice(0, 7)}: ${current!.url}. The overlay was not changed`;
      if (rerunWindowMs <= 0)
        throw new CiFailure(
          `${failure}; fix the build and ${w.again}, or re-run the failed jobs (with the webhook, a successful re-run deploys this commit) or re-run CI and then \`${w.rerun}\`.`,
        );
      if (!failed || !sameAttempt(failed.run, current!)) {
        failed = { run: current!, until: Date.now() + rerunWindowMs };
        w.onNote?.(
          `${failure}; waiting ${formatDuration(rerunWindowMs)} (ci.rerunWindow) for a re-run of the failed jobs`,
        );
      }
      remaining = failed.until - Date.now();
      if (remaining <= 0)
        throw new CiFailure(
          `${failure}, and no re-run succeeded within ${formatDuration(rerunWindowMs)} (ci.rerunWindow); fix the build and ${w.again}, or re-run CI and then \`${w.rerun}\`.`,
        );
    } else if (failed && current && !sameAttempt(failed.run, current)) {
      // A re-run (a newer attempt, or a new run) started: it gets the whole CI timeout of its own.
      failed = undefined;
      deadline = Math.max(deadline, Date.now() + ciTimeoutMs);
      remaining = deadline - Date.now();
      w.onNote?.(`CI is re-running (attempt ${current.attempt ?? '?'}): ${current.url}`);
    }
    if (remaining <= 0) {
      const where = current
        ? `: ${current.url}`
        : ' (no CI run was found for this commit; check the ci.workflow setting)';
      throw new CiFailure(
        `CI did not finish within ${formatDuration(ciTimeoutMs)}${where}. The overlay was not changed.`,
      );
    }
    const wait = Math.min(pollDelay(attempt, ciPollInitialMs, ciPollMaxMs), remaining);
    await condition(() => w.signalled() !== undefined && w.signalled() !== consumed, wait, {
      summary: 'wait for the ciCompleted signal, then poll CI again',
    });
  }
}

/** An earlier attempt of the same run than `than`. */
function olderAttempt(run: CiRun, than: CiRun): boolean {
  return run.id === than.id && (run.attempt ?? 1) < (than.attempt ?? 1);
}

/** The same attempt of the same run: a re-run keeps the run's id and bumps its attempt. */
function sameAttempt(a: CiRun, b: CiRun): boolean {
  return a.id === b.id && (a.attempt ?? 1) === (b.attempt ?? 1);
}
