import {
  ApplicationFailure,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { CiRun } from '../plan/ci';
import { waitForCi } from './ci-wait';
import { ciCompletedSignal, statusQuery } from './definitions';
import { candidateReadySignal, queueNoticeSignal, verdictSignal, type Verdict } from './environment-definitions';
import { DeployProgress } from './progress';
import { steps } from './steps';
import type { DeployInput, DeployStatus } from './types';

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
      await waitForCi({
        commit: input.commit,
        event: 'push',
        plan,
        signalled: () => signalled,
        onRun: (run) => progress.ciSeen(run),
        onNote: (note) => progress.noted(note),
        again: 'merge again',
        rerun: `deployctl start --sha ${input.commit}`,
      });
      tag = plan.tag!;
    } else {
      tag = (await steps.readRunningTag({ commit: input.commit })).tag;
    }
    progress.tagged(tag);

    progress.enter('validating');
    progress.validated(await steps.validateImages({ tag }));

    // The environment owns the overlay: hand over, then wait (as long as it takes) for the outcome.
    progress.enter('queued');
    const candidate = {
      workflowId: workflowInfo().workflowId,
      commit: input.commit,
      path: plan.path,
      tag,
      readyAt: new Date().toISOString(),
    };
    await getExternalWorkflowHandle(input.environmentWorkflowId).signal(candidateReadySignal, candidate);
    await condition(() => verdict !== undefined);
    progress.finished(verdict!);
    if (verdict!.outcome === 'failed') throw new DeployError(verdict!.message);
    return progress.enter(verdict!.outcome === 'deployed' ? 'succeeded' : 'superseded');
  } catch (err) {
    // A cancelled deploy still says so in its status and search attributes, then ends cancelled.
    if (isCancellation(err)) {
      progress.cancelled('cancelled');
      throw err;
    }
    progress.failed(err);
    throw ApplicationFailure.nonRetryable(status.error!, 'DeployFailed', status);
  }
}

class DeployError extends Error {}
