import {
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  ParentClosePolicy,
  setCurrentDetails,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { PreviewSettings } from '../activities/preview';
import { bounded } from '../plan/environment';
import { confirmSync } from './confirm';
import { queueNoticeSignal, verdictSignal, type QueueNotice, type Verdict } from './environment-definitions';
import type { previewDeploy } from './preview';
import {
  previewDeployWorkflowId,
  previewReadySignal,
  previewRequestedSignal,
  previewStatusQuery,
  pullRequestClosedSignal,
  supersededSignal,
  type PreviewCandidate,
  type PreviewEnvironmentInput,
  type PreviewOutcome,
  type PreviewRequest,
  type PreviewState,
  type PreviewView,
} from './preview-definitions';
import { DeployCommit, DeployEnvironment, DeployPhase, DeployPullRequest, ImageTag } from './search-attributes';
import { steps } from './steps';
import { innermostMessage } from './errors';

const MAX_OUTCOMES = 20;
const MAX_OWN_COMMITS = 20;

/**
 * One pull request's preview, from its first push until it closes. It starts a preview deploy
 * per pushed head (the newest supersedes older ones), commits their tags onto the PR branch's
 * overlay one at a time, recognises its own overlay pushes, and on close cancels what is in
 * flight and records the preview as gone.
 */
export async function previewEnvironment(input: PreviewEnvironmentInput): Promise<PreviewView> {
  const { repository, pr } = input;
  const state: PreviewState = input.state ?? { inbox: [], candidates: [], ownCommits: [], outcomes: [], handled: 0 };
  const now = () => new Date().toISOString();
  let applying: PreviewView['applying'];
  let applyScope: CancellationScope | undefined;
  const view = (): PreviewView => ({
    repository,
    pr,
    latest: state.latest,
    applying,
    preview: state.preview,
    waiting: state.candidates.length,
    outcomes: state.outcomes,
    closed: state.closed,
  });
  const record = (outcome: Omit<PreviewOutcome, 'at'>) => {
    state.outcomes = bounded(state.outcomes, { ...outcome, at: now() }, MAX_OUTCOMES);
    publish();
  };
  const notify = (workflowId: string, notice: QueueNotice) =>
    getExternalWorkflowHandle(workflowId)
      .signal(queueNoticeSignal, notice)
      .catch(() => undefined);

  setHandler(previewStatusQuery, view);
  setHandler(previewRequestedSignal, (request) => void state.inbox.push(request));
  setHandler(previewReadySignal, (candidate) => {
    if (!state.candidates.some((c) => c.workflowId === candidate.workflowId)) state.candidates.push(candidate);
  });
  setHandler(
    pullRequestClosedSignal,
    ({ by, merged }) => void (state.closeRequest ??= { by, merged: merged ?? false, at: now() }),
  );

  const settings: PreviewSettings = await steps.previewSettings({ pr });
  publish();

  // Requests and a close are served at once, also while a deploy is applied or the run is due to continue as new.
  const canApply = () => !applying && state.candidates.length > 0 && !timeToContinue();
  const canContinue = () => !applying && timeToContinue();
  for (;;) {
    await condition(() => state.closeRequest !== undefined || state.inbox.length > 0 || canApply() || canContinue());
    if (state.closeRequest) {
      const gone = await close(state.closeRequest);
      if (gone) return gone;
    } else if (state.inbox.length) {
      await request(state.inbox.shift()!).catch((err: unknown) =>
        record({ kind: 'failed', message: `request failed: ${innermostMessage(err)}` }),
      );
    } else if (canApply()) {
      void apply(state.candidates.shift()!);
    } else if (canContinue()) {
      break;
    }
  }
  // Keep history bounded: carry the state into a fresh run (signals that arrive meanwhile land in it too).
  await condition(allHandlersFinished);
  return continueAsNew<typeof previewEnvironment>({ ...input, state: { ...state, handled: 0 } });

  function timeToContinue(): boolean {
    return state.handled >= settings.continueAsNewAfter || workflowInfo().continueAsNewSuggested;
  }

  /** A push to the PR: start its preview deploy and supersede the one before, unless the push was our own. */
  async function request(req: PreviewRequest): Promise<void> {
    state.handled++;
    // Our own overlay push may still be on its way back from the remote: let the commit step finish first.
    if (applying?.phase === 'committing' && (!req.before || req.before === applying.commit))
      await condition(() => applying?.phase !== 'committing');
    let pull = req.commit ? undefined : await steps.readPullRequest({ pr });
    let commit = req.commit?.toLowerCase() ?? pull!.headSha;
    const own = state.ownCommits.find((c) => c.overlayCommit === commit);
    if (own && req.commit) {
      return record({
        kind: 'ignored',
        commit,
        message: `${commit.slice(0, 7)} is the deployer's own overlay commit for ${own.commit.slice(0, 7)}: nothing to deploy`,
      });
    }
    // Asked for "the head" while the head is our overlay commit: that preview is of the commit beneath it.
    if (own) commit = own.commit;
    // A push on top of the head this workflow knows is newer by construction; anything else (events
    // arrive out of order, a redelivery, a person naming a commit) is checked against GitHub's head.
    const latest = state.latest?.commit;
    const ourOverlayOfLatest = state.ownCommits.some((c) => c.overlayCommit === req.before && c.commit === latest);
    const successor = req.before !== undefined && (req.before === latest || ourOverlayOfLatest);
    if (commit !== state.latest?.commit && !successor) {
      pull ??= await steps.readPullRequest({ pr });
      if (!isHead(pull.headSha, commit)) {
        await sleep('5s', { summary: 'GitHub may report a new head a moment after the event: ask again' });
        pull = await steps.readPullRequest({ pr });
      }
      if (pull.state === 'closed') {
        // A late event of a closed PR (or of one whose close this run missed): close, do not deploy.
        state.closeRequest ??= { by: 'github: the pull request is closed', merged: pull.merged, at: now() };
        return;
      }
      if (!isHead(pull.headSha, commit)) {
        return record({
          kind: 'ignored',
          commit,
          message: `${commit.slice(0, 7)} is not the head of #${pr} (${pull.headSha.slice(0, 7)} is): the newer push has its own preview deploy`,
        });
      }
    }
    // A redelivered event of the head the preview already runs changes nothing; a force-push that
    // dropped our overlay commit (`before` is it) is a real change: the head is previewed again.
    const overlayDropped = ourOverlayOfLatest && commit === latest;
    if (
      commit === latest &&
      !overlayDropped &&
      state.outcomes.some((o) => o.kind === 'deployed' && o.commit === commit && o.at >= state.latest!.at)
    )
      return;
    const workflowId = previewDeployWorkflowId(repository, pr, commit);
    const previous = state.latest;
    state.latest = { commit, workflowId, at: now() };
    // Candidates of the superseded deploy (or of an earlier run of this one) must not be applied later.
    state.candidates = state.candidates.filter(
      (c) => c.workflowId !== previous?.workflowId && c.workflowId !== workflowId,
    );
    if (previous && previous.commit !== commit) {
      await getExternalWorkflowHandle(previous.workflowId)
        .signal(supersededSignal, { by: commit })
        .catch(() => undefined);
      if (applying?.workflowId === previous.workflowId && applying.phase === 'syncing') applyScope?.cancel();
    }
    try {
      const child = await startChild<typeof previewDeploy>('previewDeploy', {
        workflowId,
        args: [
          {
            repository,
            pr,
            commit,
            requestedBy: req.requestedBy,
            environmentWorkflowId: workflowInfo().workflowId,
            searchAttributes: settings.searchAttributes,
          },
        ],
        // Deploys outlive a continue-as-new of this workflow; they report back by signal.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        // A head superseded earlier may become the head again (a force-push back): its deploy runs anew.
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        staticSummary: `preview ${repository}#${pr} at ${commit.slice(0, 7)}`,
        staticDetails: `Head commit ${commit} of pull request #${pr}, requested by ${req.requestedBy ?? 'unknown'}.`,
        typedSearchAttributes: settings.searchAttributes
          ? [
              { key: DeployEnvironment, value: 'preview' },
              { key: DeployPullRequest, value: String(pr) },
              { key: DeployCommit, value: commit },
              { key: DeployPhase, value: 'detecting' },
            ]
          : [],
      });
      void child.result().catch(() => undefined);
    } catch (err) {
      // Running already: a redelivered event or a repeated request.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    publish();
  }

  /** One deploy's turn at the branch overlay: commit on top of exactly its commit, then confirm Argo CD. */
  async function apply(candidate: PreviewCandidate): Promise<void> {
    applying = {
      commit: candidate.commit,
      tag: candidate.tag,
      workflowId: candidate.workflowId,
      phase: 'committing',
      since: now(),
    };
    applyScope = new CancellationScope();
    publish();
    const stale = (): Verdict => ({
      outcome: 'superseded',
      message: `a newer push to #${pr} (${state.latest?.commit.slice(0, 7) ?? 'unknown'}) has its own preview deploy`,
    });
    let verdict: Verdict;
    try {
      verdict = await applyScope.run(async (): Promise<Verdict> => {
        if (candidate.commit !== state.latest?.commit) return stale();
        await notify(candidate.workflowId, {
          phase: 'committing',
          note: `committing ${candidate.tag} to the preview overlay on ${candidate.branch}`,
        });
        const update = await steps.updateOverlay({
          kind: 'preview',
          tag: candidate.tag,
          workflowId: candidate.workflowId,
          commit: candidate.commit,
          pr,
          branch: candidate.branch,
          rule: candidate.rule,
          target: settings.branch ?? null,
        });
        if (update.overlayCommit)
          state.ownCommits = bounded(
            state.ownCommits,
            { overlayCommit: update.overlayCommit, commit: candidate.commit },
            MAX_OWN_COMMITS,
          );
        if (update.outcome === 'superseded') {
          return {
            outcome: 'superseded',
            message: `${candidate.branch} moved on to ${update.revision.slice(0, 7)}: the author pushed again, and that push has its own preview deploy`,
          };
        }
        state.preview = {
          tag: candidate.tag,
          rule: candidate.rule,
          commit: candidate.commit,
          overlayCommit: update.overlayCommit,
          since: now(),
        };
        if (settings.searchAttributes) upsertSearchAttributes([{ key: ImageTag, value: candidate.tag }]);
        if (candidate.commit !== state.latest?.commit) return stale();
        applying!.phase = 'syncing';
        await notify(candidate.workflowId, {
          phase: 'syncing',
          note: `waiting for Argo CD application ${settings.application}`,
          overlayCommit: update.overlayCommit,
        });
        const app = {
          application: settings.application,
          branch: settings.branch ?? candidate.branch,
          missingIsWaiting: true,
        };
        const sync = await confirmSync(update.revision, settings.syncTimeoutMs, () => undefined, app);
        return {
          outcome: sync.state === 'healthy' ? 'deployed' : 'failed',
          message: sync.message,
          overlayCommit: update.overlayCommit,
          argo: sync.message,
        };
      });
    } catch (err) {
      if (isCancellation(err) && state.closed) {
        // The PR closed: the deploy is cancelled, not superseded; close() records the preview gone.
        applying = applyScope = undefined;
        return;
      }
      verdict = isCancellation(err) ? stale() : { outcome: 'failed', message: innermostMessage(err) };
    }
    await getExternalWorkflowHandle(candidate.workflowId)
      .signal(verdictSignal, verdict)
      .catch(() => undefined);
    record({
      kind: verdict.outcome,
      commit: candidate.commit,
      tag: candidate.tag,
      rule: candidate.rule,
      workflowId: candidate.workflowId,
      message: verdict.message,
    });
    applying = undefined;
    applyScope = undefined;
    publish();
  }

  /**
   * The PR closed: cancel what is in flight (cancelled, not failed), record the preview as gone,
   * end. A late or redelivered `closed` of a PR GitHub reports open changes nothing.
   */
  async function close(request: NonNullable<PreviewState['closeRequest']>): Promise<PreviewView | undefined> {
    state.closeRequest = undefined;
    const pull = await steps.readPullRequest({ pr }).catch(() => undefined);
    if (pull?.state === 'open') {
      record({
        kind: 'ignored',
        message: `a close of #${pr} by ${request.by} was ignored: GitHub reports the pull request open (a late or redelivered event)`,
      });
      return undefined;
    }
    state.closed = { ...request, merged: pull?.merged ?? request.merged };
    const inFlight = new Set(
      [state.latest?.workflowId, applying?.workflowId, ...state.candidates.map((c) => c.workflowId)].filter(
        (id): id is string => !!id,
      ),
    );
    await Promise.all(
      [...inFlight].map((id) =>
        getExternalWorkflowHandle(id)
          .cancel()
          .catch(() => undefined),
      ),
    );
    // A push under way finishes first (an activity is not interrupted mid-push), so nothing lands after the clean-up.
    await condition(() => applying?.phase !== 'committing');
    applyScope?.cancel();
    await condition(() => applying === undefined);
    state.candidates = [];
    const removed = settings.branch
      ? await steps.removePreviewBranch({ branch: settings.branch }).then(
          ({ removed }) => (removed ? `; ${settings.branch} removed` : ''),
          (err: unknown) => `; ${settings.branch} could not be removed: ${innermostMessage(err)}`,
        )
      : '';
    record({
      kind: 'gone',
      message: `#${pr} was ${state.closed.merged ? 'merged' : 'closed'} by ${state.closed.by}: the preview is gone${state.preview ? ` (it ran ${state.preview.tag})` : ''}${removed}`,
    });
    // Reopened while this run was closing? Then a fresh preview, in a fresh run; stale pushes die here.
    const reopened =
      state.inbox.length > 0 && (await steps.readPullRequest({ pr }).catch(() => undefined))?.state === 'open';
    if (reopened) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof previewEnvironment>({
        repository,
        pr,
        state: { inbox: state.inbox, candidates: [], ownCommits: [], outcomes: state.outcomes, handled: 0 },
      });
    }
    return view();
  }

  /** The PR's head is the commit, or our overlay commit on top of it. */
  function isHead(head: string, commit: string): boolean {
    return head === commit || state.ownCommits.some((c) => c.overlayCommit === head && c.commit === commit);
  }

  /** Markdown for the Web UI's current details. */
  function publish(): void {
    const lines = [
      `**preview of #${pr}** runs ${state.preview ? `${state.preview.tag} (rule ${state.preview.rule}, from ${state.preview.commit.slice(0, 7)})` : 'nothing deployed by this workflow yet'}`,
    ];
    if (applying) lines.push(`Now: ${applying.tag} for ${applying.commit.slice(0, 7)} (${applying.phase})`);
    if (state.latest) lines.push(`Latest push: ${state.latest.commit.slice(0, 7)} → ${state.latest.workflowId}`);
    const last = state.outcomes.at(-1);
    if (last) lines.push(`Last: ${last.kind} ${last.tag ?? ''} — ${last.message}`);
    setCurrentDetails(lines.join('\n\n'));
  }
}
