import { ApplicationFailure, condition, getExternalWorkflowHandle, isCancellation, setHandler, workflowInfo } from '@temporalio/workflow';
import { ciOutcome, pollDelay, type CiRun } from '../plan/ci';
import { ciCompletedSignal, statusQuery } from './definitions';
import { candidateReadySignal, queueNoticeSignal, verdictSignal, type Verdict } from './environment-definitions';
import { DeployProgress } from './progress';
import { steps } from './steps';
import type { DeployInput, DeployPlan, DeployStatus } from './types';

/**
 * Deploys one merge commit: detect, wait for CI (code) or read the running tag (k8s-only),
 * validate the images, then take a turn at the environment, which commits the overlay and
 * confirms Argo CD one change at a time.
 */
export async function productionDeploy(input: DeployInput): Promise<DeployStatus> {
  const progress = new DeployProgress(input, 'production');
  const { status } = progress;
  let signalled: CiRun | undefined;
  let verdict: Verdict | undefined;
  setHandler(statusQuery, () => status);
  setHandler(ciCompletedSignal, (run) => {
    if (run.headSha.toLowerCase() === input.commit.toLowerCase()) signalled = run;
  });
  setHandler(queueNoticeSignal, (notice) => progress.notice(notice));
  setHandler(verdictSignal, (v) => void (verdict = v));

  try {
    const plan = await steps.detectChanges({ commit: input.commit, before: input.before });
    progress.planned(plan);
    if (plan.path === 'none') return progress.enter('skipped');

    let tag: string;
    if (plan.path === 'code') {
      progress.enter('waiting-for-ci');
      await waitForCi(plan);
      tag = plan.tag!;
    } else {
      tag = (await steps.readRunningTag({ commit: input.commit })).tag;
    }
    progress.tagged(tag);

    progress.enter('validating');
    progress.validated(await steps.validateImages({ tag }));

    // The environment owns the overlay: hand over, then wait (as long as it takes) for the outcome.
    progress.enter('queued');
    const candidate = { workflowId: workflowInfo().workflowId, commit: input.commit, path: plan.path, tag, readyAt: new Date().toISOString() };
    await getExternalWorkflowHandle(input.environmentWorkflowId).signal(candidateReadySignal, candidate);
    await condition(() => verdict !== undefined);
    progress.finished(verdict!);
    if (verdict!.outcome === 'failed') throw new DeployError(verdict!.message);
    return progress.enter(verdict!.outcome === 'deployed' ? 'succeeded' : 'superseded');
  } catch (err) {
    // A cancelled deploy still says so in its status and search attributes, then ends cancelled.
    progress.failed(isCancellation(err) ? new Error('cancelled') : err);
    if (isCancellation(err)) throw err;
    throw ApplicationFailure.nonRetryable(status.error!, 'DeployFailed', status);
  }

  /** Waits for the commit's CI run: the ciCompleted signal first, polling on growing durable timers as the fallback. */
  async function waitForCi(plan: DeployPlan): Promise<void> {
    const deadline = Date.now() + plan.ciTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      const run = signalled ?? (await steps.findCiRun({ commit: input.commit }));
      if (run) progress.ciSeen(run);
      const outcome = ciOutcome(run);
      if (outcome === 'success') return;
      if (outcome === 'failure') {
        throw new DeployError(`CI run ${run!.conclusion ?? run!.status} for ${input.commit.slice(0, 7)}: ${run!.url}. The overlay was not changed; fix the build and merge again, or re-run CI and then \`deployctl start --sha ${input.commit}\`.`);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        const where = run ? `: ${run.url}` : ' (no CI run was found for this commit; check the ci.workflow setting)';
        throw new DeployError(`CI did not finish within ${Math.round(plan.ciTimeoutMs / 60_000)} min${where}. The overlay was not changed.`);
      }
      const wait = Math.min(pollDelay(attempt, plan.ciPollInitialMs, plan.ciPollMaxMs), remaining);
      await condition(() => signalled !== undefined, wait, { summary: 'wait for the ciCompleted signal, then poll CI again' });
    }
  }
}

class DeployError extends Error {}
