import { ApplicationFailure, condition, isCancellation, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import { evaluateArgo } from '../plan/argocd';
import { ciOutcome, pollDelay, type CiRun } from '../plan/ci';
import { ciCompletedSignal, statusQuery } from './definitions';
import { DeployProgress } from './progress';
import { steps } from './steps';
import type { DeployInput, DeployPlan, DeployStatus } from './types';

/** How often Argo CD is asked while a sync is in flight. */
const ARGO_POLL_INITIAL_MS = 2_000;
const ARGO_POLL_MAX_MS = 15_000;

/** Deploys one merge commit to production: detect, wait for CI, validate, commit the overlay, confirm Argo CD. */
export async function productionDeploy(input: DeployInput): Promise<DeployStatus> {
  const progress = new DeployProgress(input, 'production');
  const { status } = progress;
  let signalled: CiRun | undefined;
  setHandler(statusQuery, () => status);
  setHandler(ciCompletedSignal, (run) => {
    if (run.headSha.toLowerCase() === input.commit.toLowerCase()) signalled = run;
  });

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

    // Path 2 redeploys the tag the merge commit already names: the commit itself is the revision.
    let revision = input.commit;
    if (plan.path === 'code') {
      progress.enter('committing');
      const overlay = await steps.updateOverlay({ kind: 'deploy', tag, commit: input.commit, workflowId: workflowInfo().workflowId });
      progress.committed(overlay.overlayCommit);
      revision = overlay.revision;
    }

    progress.enter('syncing');
    await confirmSync(revision, plan.syncTimeoutMs);
    return progress.enter('succeeded');
  } catch (err) {
    if (isCancellation(err)) throw err;
    progress.failed(err);
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

  /** Polls Argo CD on durable timers until the revision is synced and healthy, degraded, or the timeout passes. */
  async function confirmSync(revision: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const verdict = evaluateArgo(await steps.observeArgoApp({ revision, refresh: attempt === 0 }), revision);
      progress.argo(verdict.message);
      if (verdict.state === 'healthy') return;
      if (verdict.state === 'degraded') throw new DeployError(verdict.message);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new DeployError(`Argo CD did not report the application synced and healthy within ${Math.round(timeoutMs / 60_000)} min: ${verdict.message}`);
      await sleep(Math.min(pollDelay(attempt, ARGO_POLL_INITIAL_MS, ARGO_POLL_MAX_MS), remaining), { summary: 'wait before asking Argo CD again' });
    }
  }
}

class DeployError extends Error {}
