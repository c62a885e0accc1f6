import {
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { CiRun } from '../plan/ci';
import { previewChoice, previewStart } from '../plan/preview';
import { waitForCi } from './ci-wait';
import { ciCompletedSignal, statusQuery } from './definitions';
import { queueNoticeSignal, verdictSignal, type Verdict } from './environment-definitions';
import { previewReadySignal, supersededSignal } from './preview-definitions';
import { DeployProgress } from './progress';
import { steps } from './steps';
import type { DeployStatus, PreviewDeployInput } from './types';

/**
 * Previews one pull request commit: read the PR, detect against its base, choose the tag (its
 * CI build, an earlier build of the same code, or production's), validate the images, then take
 * a turn at the PR's preview workflow, which commits the branch overlay and confirms Argo CD.
 */
export async function previewDeploy(input: PreviewDeployInput): Promise<DeployStatus> {
  const { pr, commit } = input;
  const progress = new DeployProgress(input, 'preview');
  const { status } = progress;
  let signalled: CiRun | undefined;
  let verdict: Verdict | undefined;
  let supersededBy: string | undefined;
  const work = new CancellationScope();
  setHandler(statusQuery, () => status);
  setHandler(ciCompletedSignal, (run) => {
    if (run.headSha.toLowerCase() === commit.toLowerCase()) signalled = run;
  });
  setHandler(queueNoticeSignal, (notice) => progress.notice(notice));
  setHandler(verdictSignal, (v) => void (verdict = v));
  setHandler(supersededSignal, ({ by }) => {
    supersededBy = by;
    work.cancel();
  });

  try {
    return await work.run(deploy);
  } catch (err) {
    if (isCancellation(err) && supersededBy) {
      progress.finished({
        outcome: 'superseded',
        message: `superseded by a newer push to #${pr} (${supersededBy.slice(0, 7)}), which has its own preview deploy`,
      });
      return progress.enter('superseded');
    }
    if (isCancellation(err)) {
      progress.cancelled('cancelled: the pull request was closed, or a person cancelled this deploy');
      throw err;
    }
    progress.failed(err);
    throw ApplicationFailure.nonRetryable(status.error!, 'DeployFailed', status);
  }

  async function deploy(): Promise<DeployStatus> {
    const pull = await steps.readPullRequest({ pr });
    progress.branch(pull.headRef);
    if (pull.fork)
      return progress.skipped(
        'fork',
        `#${pr} comes from ${pull.headRepository ?? 'a deleted fork'}: previews run branches of this repository only (a fork's branch cannot be written, and its code is untrusted), so nothing is deployed`,
      );
    if (pull.state === 'closed') return progress.skipped('closed', `#${pr} is closed: no preview`);
    if (pull.headIsMain)
      return progress.skipped(
        'main-branch',
        `#${pr} proposes ${pull.headRef} itself: the deployer never commits a preview onto the main branch`,
      );

    const commits = await steps.listPullCommits({ pr });
    const plan = await steps.detectPreview({ pr, commit, baseRef: pull.baseRef, headRef: pull.headRef, commits });
    progress.planned(plan);
    if (plan.path === 'none') return progress.enter('skipped');

    const start = previewStart(pr, commit, plan);
    const found = start.kind === 'search' ? await steps.findPreviewImages({ candidates: start.tags }) : null;
    const choice = previewChoice(pr, commit, plan, found);
    const tag = choice.rule === 'production' ? (await steps.readRunningTag({})).tag : choice.tag;
    progress.ruled(choice.rule, choice.reason, tag);
    if (choice.rule === 'ci' && choice.waitForCi) {
      progress.enter('waiting-for-ci');
      await waitForCi({
        commit,
        event: 'pull_request',
        plan,
        signalled: () => signalled,
        onRun: (run) => progress.ciSeen(run),
        onNote: (note) => progress.noted(note),
        again: 'push again',
        rerun: `deployctl preview --pr ${pr} --sha ${commit}`,
      });
    }

    progress.enter('validating');
    progress.validated(await steps.validateImages({ tag }));

    progress.enter('queued');
    const candidate = {
      workflowId: workflowInfo().workflowId,
      commit,
      tag,
      rule: choice.rule,
      branch: pull.headRef,
      readyAt: new Date().toISOString(),
    };
    await getExternalWorkflowHandle(input.environmentWorkflowId).signal(previewReadySignal, candidate);
    await condition(() => verdict !== undefined);
    progress.finished(verdict!);
    if (verdict!.outcome === 'failed') throw new Error(verdict!.message);
    return progress.enter(verdict!.outcome === 'deployed' ? 'succeeded' : 'superseded');
  }
}
