import {
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  ParentClosePolicy,
  setHandler,
  startChild,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { CiRun } from '../plan/ci';
import type { Candidate } from '../plan/environment';
import { policyOf } from '../plan/policy';
import { previewSkip } from '../plan/preview-request';
import { chooseTag, tagStart, type TagFacts } from '../plan/tag-rule';
import { formatDuration } from '../plan/duration';
import {
  ciCompletedSignal,
  queueNoticeSignal,
  statusQuery,
  supersededSignal,
  verdictSignal,
  type DeployInput,
  type DeployPlan,
  type DeployStatus,
  type Verdict,
} from '../contract/deploy';
import { candidateReadySignal, type EnvironmentInput } from '../contract/environment';
import { deployCommand, environmentSummary } from '../contract/target';
import type { ReportEvent, ReportStage } from '../plan/report';
import { waitForCi } from './ci-wait';
import { innermostMessage } from './errors';
import { DeployProgress } from './progress';
import { ReportLink } from './report-link';
import { steps } from './steps';

/**
 * Deploys one commit to one target: detect what changed, choose the tag by the spec's rules, wait
 * for CI when the tag is the commit's own build, validate the images, then hand over to the
 * target's environment workflow, which commits the overlay and confirms Argo CD one change at a
 * time. Production and previews differ only in their policy (plan/policy.ts).
 */
export async function deploy(input: DeployInput): Promise<DeployStatus> {
  const { target, commit } = input;
  const policy = policyOf(target);
  const progress = new DeployProgress(input);
  const { status } = progress;
  let signalled: CiRun | undefined;
  let verdict: Verdict | undefined;
  let supersededBy: string | undefined;
  /** This deploy's reporter (GitHub Deployment, preview comment, notifications), once the deploy has a tag. */
  let report: ReportLink | undefined;
  const tell = (stage: ReportStage, more: Omit<ReportEvent, 'stage' | 'at'> = {}) =>
    report?.send({ stage, at: new Date().toISOString(), ...more });
  const work = new CancellationScope();
  setHandler(statusQuery, () => status);
  setHandler(ciCompletedSignal, (run) => {
    if (run.headSha.toLowerCase() === commit.toLowerCase()) signalled = run;
  });
  setHandler(queueNoticeSignal, (notice) => {
    // A notice sent before the verdict may arrive after it, while the deploy hands its last events to
    // its reporter: the deploy has ended its turn. (Without a reporter it closes first, as it always did.)
    if (report && verdict) return;
    progress.notice(notice);
    if (notice.phase !== 'queued') tell(notice.phase, notice.phase === 'held' ? { message: notice.note } : {});
  });
  setHandler(verdictSignal, (v) => void (verdict = v));
  // A preview's newer push took over while this one still ran its checks.
  setHandler(supersededSignal, ({ by }) => {
    supersededBy = by;
    work.cancel();
  });

  try {
    const done = await work.run(run);
    await report?.flushed();
    return done;
  } catch (err) {
    if (isCancellation(err) && supersededBy) {
      const message = `superseded by a newer push (${supersededBy.slice(0, 7)}), which has its own deploy`;
      progress.finished({ outcome: 'superseded', reason: 'superseded', message });
      tell('superseded', { message });
      await report?.flushed();
      return progress.enter('superseded');
    }
    // A cancelled deploy still says so in its status and search attributes, then ends cancelled.
    if (isCancellation(err)) {
      progress.cancelled('cancelled: the pull request was closed, or a person cancelled this deploy');
      tell('cancelled', { message: status.note });
      await report?.flushed();
      throw err;
    }
    progress.failed(err);
    tell('failed', { message: status.error });
    await report?.flushed();
    throw ApplicationFailure.nonRetryable(status.error!, 'DeployFailed', status);
  }

  async function run(): Promise<DeployStatus> {
    const pr = target.kind === 'preview' ? target.pr : undefined;
    let branch: string | undefined;
    let plan: DeployPlan;
    if (target.kind === 'preview') {
      // A pull request's changes are read from GitHub first: its branch, its base, whether it is a fork.
      const pull = await steps.readPullRequest({ pr: target.pr });
      progress.branch((branch = pull.headRef));
      const skip = previewSkip(pull, target.pr);
      if (skip) return progress.skipped(skip.reason, skip.note);
      const commits = await steps.listPullCommits({ pr: target.pr });
      plan = await steps.detect({ target, commit, baseRef: pull.baseRef, headRef: pull.headRef, commits });
    } else {
      plan = await steps.detect({ target, commit, before: input.before });
    }
    progress.planned(plan);
    if (plan.path === 'none') return progress.enter('skipped');

    const facts: TagFacts = { pr, commit, path: plan.path, sameCode: plan.sameCode };
    const start = tagStart(facts);
    const found = start.kind === 'search' ? await steps.findImages({ candidates: start.tags }) : null;
    const choice = chooseTag(facts, found);
    const tag = 'tag' in choice ? choice.tag : (await steps.readRunningTag({ commit: choice.at })).tag;
    progress.ruled(choice.rule, choice.reason, tag);
    const waits = choice.rule === 'ci' && choice.waitForCi;
    // The deploy is known now: its Deployment (and a preview's comment) appear on GitHub.
    report = ReportLink.open(
      plan.report,
      {
        repository: input.repository,
        target,
        kind: 'deploy',
        workflowId: workflowInfo().workflowId,
        link: { workflowId: workflowInfo().workflowId, runId: workflowInfo().runId },
        commit,
        ...(input.requestedBy ? { requestedBy: input.requestedBy } : {}),
        order: status.startedAt,
      },
      {
        stage: waits ? 'waiting-for-ci' : 'queued',
        at: new Date().toISOString(),
        tag,
        rule: choice.rule,
        ruleReason: choice.reason,
      },
    );
    if (waits) {
      progress.enter('waiting-for-ci');
      await waitForCi({
        commit,
        event: policy.source === 'main' ? 'push' : 'pull_request',
        plan,
        signalled: () => signalled,
        onRun: (run) => progress.ciSeen(run),
        onNote: (note) => progress.noted(note),
        again: policy.source === 'main' ? 'merge again' : 'push again',
        rerun: deployCommand(target, commit),
      });
    }

    progress.enter('validating');
    progress.validated(await steps.validateImages({ tag }));
    tell('queued', status.ciRun ? { ciRun: { id: status.ciRun.id, url: status.ciRun.url } } : {});

    // The environment owns the overlay: hand over, then wait for the outcome.
    progress.enter('queued');
    const candidate: Candidate = {
      workflowId: workflowInfo().workflowId,
      runId: workflowInfo().runId,
      commit,
      path: plan.path,
      tag,
      rule: choice.rule,
      ...(branch ? { branch } : {}),
      readyAt: new Date().toISOString(),
    };
    const finalVerdict = await handOver(candidate, plan.reannounceMs);
    progress.finished(finalVerdict, 'environment');
    if (finalVerdict.outcome === 'failed') throw new Error(finalVerdict.message);
    const deployed = finalVerdict.outcome === 'deployed';
    tell(deployed ? 'succeeded' : 'superseded', {
      message: finalVerdict.message,
      ...(finalVerdict.overlayCommit !== undefined ? { overlayCommit: finalVerdict.overlayCommit } : {}),
      ...(finalVerdict.replaces ? { replaces: finalVerdict.replaces } : {}),
    });
    return progress.enter(deployed ? 'succeeded' : 'superseded');
  }

  /**
   * Hands the candidate to the environment and waits for its verdict, handing it over again each
   * `reannounceMs` without one: a terminated or reset environment loses its queue, and a new run
   * learns of this deploy from it (a new run dedupes, or answers at once with a verdict it recorded).
   * A production environment that is gone is started again; a preview's is gone for good.
   */
  async function handOver(candidate: Candidate, reannounceMs: number): Promise<Verdict> {
    const environmentId = input.environmentWorkflowId;
    for (let round = 0; ; round++) {
      try {
        await getExternalWorkflowHandle(environmentId).signal(
          candidateReadySignal,
          round > 0 ? { ...candidate, again: true } : candidate,
        );
      } catch (err) {
        if (isCancellation(err)) throw err;
        if (!policy.restartable) throw new Error(`${environmentId} is gone: ${innermostMessage(err)}`);
        progress.noted(`${environmentId} is not running (${innermostMessage(err)}): starting it again`);
        await restartEnvironment(environmentId);
        continue;
      }
      if (round > 0 && verdict === undefined) {
        progress.noted(`no verdict from ${environmentId} within ${formatDuration(reannounceMs)}: handed over again`);
      }
      if (await condition(() => verdict !== undefined, reannounceMs)) return verdict!;
    }
  }

  /** Starts the target's environment (it outlives this deploy); one already running is fine. */
  async function restartEnvironment(environmentId: string): Promise<void> {
    try {
      const start: EnvironmentInput = { repository: input.repository, target };
      // By type name: the environment starts deploys, so neither module imports the other.
      const child = await startChild('environment', {
        workflowId: environmentId,
        args: [start],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        staticSummary: environmentSummary(input.repository, target),
      });
      void child.result().catch(() => undefined);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
}
