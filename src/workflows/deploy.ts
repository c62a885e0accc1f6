import { ApplicationFailure, condition, isCancellation, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { evaluateArgo } from '../plan/argocd';
import { ciOutcome, pollDelay, type CiRun } from '../plan/ci';
import { ciCompletedSignal, statusQuery } from './definitions';
import type { DeployInput, DeployPhase, DeployPlan, DeployStatus } from './types';

const { detectChanges, findCiRun, readRunningTag, validateImages, updateOverlay, observeArgoApp } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  // Transient failures (network, 5xx, 429) retry; permanent ones are thrown non-retryable by the steps.
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});

/** How often Argo CD is asked while a sync is in flight. */
const ARGO_POLL_INITIAL_MS = 2_000;
const ARGO_POLL_MAX_MS = 15_000;

/** Deploys one merge commit to production: detect, wait for CI, validate, commit the overlay, confirm Argo CD. */
export async function productionDeploy(input: DeployInput): Promise<DeployStatus> {
  const now = () => new Date().toISOString();
  const status: DeployStatus = { phase: 'detecting', repository: input.repository, commit: input.commit, digests: {}, startedAt: now(), updatedAt: now(), phases: { detecting: now() } };
  const enter = (phase: DeployPhase) => Object.assign(status, { phase, updatedAt: now(), phases: { ...status.phases, [phase]: now() } });
  let signalled: CiRun | undefined;
  setHandler(statusQuery, () => status);
  setHandler(ciCompletedSignal, (run) => {
    if (run.headSha.toLowerCase() === input.commit.toLowerCase()) signalled = run;
  });

  try {
    const plan = await detectChanges({ commit: input.commit, before: input.before });
    Object.assign(status, { path: plan.path, reason: plan.reason });
    if (plan.path === 'none') return enter('skipped');

    let tag: string;
    if (plan.path === 'code') {
      enter('waiting-for-ci');
      await waitForCi(plan);
      tag = plan.tag!;
    } else {
      tag = (await readRunningTag({ commit: input.commit })).tag;
    }
    status.tag = tag;

    enter('validating');
    const images = await validateImages({ tag });
    status.digests = Object.fromEntries(images.map((image) => [image.name, image.digest]));

    // Path 2 redeploys the tag the merge commit already names: the commit itself is the revision.
    let revision = input.commit;
    if (plan.path === 'code') {
      enter('committing');
      const overlay = await updateOverlay({ tag, commit: input.commit, workflowId: workflowInfo().workflowId });
      status.overlayCommit = overlay.overlayCommit;
      revision = overlay.revision;
    }

    enter('syncing');
    await confirmSync(revision, plan.syncTimeoutMs);
    return enter('succeeded');
  } catch (err) {
    if (isCancellation(err)) throw err;
    status.error = failureMessage(err);
    enter('failed');
    throw ApplicationFailure.nonRetryable(status.error, 'DeployFailed', status);
  }

  /** Waits for the commit's CI run: the ciCompleted signal first, polling on growing durable timers as the fallback. */
  async function waitForCi(plan: DeployPlan): Promise<void> {
    const deadline = Date.now() + plan.ciTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      const run = signalled ?? (await findCiRun({ commit: input.commit }));
      if (run) status.ciRun = { id: run.id, url: run.url, conclusion: run.conclusion };
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
      await condition(() => signalled !== undefined, Math.min(pollDelay(attempt, plan.ciPollInitialMs, plan.ciPollMaxMs), remaining));
    }
  }

  /** Polls Argo CD on durable timers until the revision is synced and healthy, degraded, or the timeout passes. */
  async function confirmSync(revision: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const verdict = evaluateArgo(await observeArgoApp({ revision, refresh: attempt === 0 }), revision);
      status.argo = verdict.message;
      if (verdict.state === 'healthy') return;
      if (verdict.state === 'degraded') throw new DeployError(verdict.message);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new DeployError(`Argo CD did not report the application synced and healthy within ${Math.round(timeoutMs / 60_000)} min: ${verdict.message}`);
      await sleep(Math.min(pollDelay(attempt, ARGO_POLL_INITIAL_MS, ARGO_POLL_MAX_MS), remaining));
    }
  }
}

class DeployError extends Error {}

/** The innermost cause's message: an activity failure wraps the step's own error. */
function failureMessage(err: unknown): string {
  let current = err as { message?: string; cause?: unknown } | undefined;
  while (current?.cause) current = current.cause as typeof current;
  return current?.message ?? String(err);
}
