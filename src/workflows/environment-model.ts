import {
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  ParentClosePolicy,
  setCurrentDetails,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  batches,
  bounded,
  deployRequestProblem,
  emptyState,
  handover,
  holdRequestProblem,
  MAX_OUTCOMES,
  MAX_OWN_COMMITS,
  MAX_REQUESTS,
  ORDER_BATCH,
  planNext,
  planTurn,
  resolveRollbackTag,
  rollbackRequestProblem,
  shouldAutoRollback,
  SIGNAL_BATCH,
  verdictOfOutcome,
  type Candidate,
  type EnvironmentState,
  type NextChange,
  type Outcome,
  type PendingRollback,
  type RollbackRequest,
} from '../plan/environment';
import { policyOf, type Policy } from '../plan/policy';
import { decideClose, decidePreviewRequest, type PullFacts } from '../plan/preview-request';
import { failedVerdict, supersededVerdict, syncVerdict, type Verdict } from '../plan/verdict';
import {
  queueNoticeSignal,
  supersededSignal,
  verdictSignal,
  type DeployInput,
  type QueueNotice,
} from '../contract/deploy';
import type {
  DeployRequest,
  EnvironmentInput,
  EnvironmentView,
  PauseRequest,
  RequestResult,
  TargetSettings,
} from '../contract/environment';
import { deployWorkflowId } from '../contract/ids';
import {
  DeployCommit,
  DeployEnvironment,
  DeployPhase,
  DeployPullRequest,
  ImageTag,
} from '../contract/search-attributes';
import { targetLabel } from '../contract/target';
import { confirmSync } from './confirm';
import { innermostMessage } from './errors';
import {
  deployVerdict,
  environmentStepTook,
  holdStarted,
  outcomeRecorded,
  queueDepthChanged,
  rollbackRequested,
  runningTagChanged,
  type RollbackTrigger,
} from './metrics';
import { SignalSender } from './notices';
import { ReportLink } from './report-link';
import { steps } from './steps';

/**
 * One environment's state and what its messages and its main loop do with it, in the shape of
 * Temporal's safe-message-handlers sample: the workflow function (environment.ts) only wires the
 * messages to these methods and runs `next()` one change at a time. Every decision is a pure
 * function in plan/; this class gathers the facts for them and carries out their answers.
 */
export class EnvironmentModel {
  readonly state: EnvironmentState;
  readonly policy: Policy;
  private settings!: TargetSettings;
  private readonly notices = new SignalSender(queueNoticeSignal, SIGNAL_BATCH);
  /** Verdicts told again to deploys that hand themselves over again: bounded like the notices. */
  private readonly resends = new SignalSender(verdictSignal, SIGNAL_BATCH);
  /** Requests decided one at a time where each depends on the newest push so far (a preview). */
  private requestChain: Promise<unknown> = Promise.resolve();
  /** Rollbacks finished in this run, for the updates waiting on them. */
  private readonly rollbackResults = new Map<string, Outcome>();
  /** When this run started each deploy (workflow id → time), for its lead time; rebuilt on replay, not carried over. */
  private readonly deployStarts = new Map<string, string>();

  constructor(private readonly input: EnvironmentInput) {
    this.state = { ...emptyState(), ...input.state };
    this.policy = policyOf(input.target);
  }

  private get label(): string {
    return targetLabel(this.input.target);
  }

  private get frozen() {
    return this.state.paused ?? this.state.held;
  }

  private now(): string {
    return new Date().toISOString();
  }

  /** Reads the worker's policy for the target; a fresh production learns what it runs from the overlay's history. */
  async init(): Promise<void> {
    this.settings = await steps.targetSettings({ target: this.input.target });
    if (this.policy.rollbacks && !this.state.current) {
      // If git cannot tell now, what runs stays unknown until the next change: the environment goes on.
      const [current] = await steps.listTargets({ limit: 1 }).catch(() => []);
      if (current) this.state.current = { tag: current.tag, since: current.date, by: current.by };
    }
    // Each run (a fresh start, a continue-as-new) says what runs, for the worker that runs it now.
    if (this.state.current) runningTagChanged(this.input.target, this.state.current.tag);
    // Requests that came while the previous run closed its preview belong to the reopened pull request.
    const replay = this.state.afterClose ?? [];
    this.state.afterClose = undefined;
    for (const request of replay) void this.request(request);
    this.publish();
  }

  // ---- queries and messages ----

  view(): EnvironmentView {
    const s = this.state;
    const freeze = this.frozen;
    return {
      repository: this.input.repository,
      target: this.input.target,
      current: s.current,
      applying: s.applying,
      queue: s.queue.map((c) => ({ ...c, state: freeze ? 'held' : 'queued', why: freeze?.reason })),
      paused: s.paused,
      held: s.held,
      pendingRollbacks: s.rollbacks,
      requests: s.requests,
      outcomes: s.outcomes,
      latest: s.latest,
      closed: s.closed,
    };
  }

  validateRequest(request: DeployRequest): void {
    const problem = deployRequestProblem(request, this.policy.source === 'main');
    if (problem) throw new Error(problem);
  }

  /**
   * A deploy is asked for (the relay's signal, or deployctl's update): the environment starts it as
   * its child, so the request and the start are one step whoever asks (see README, "Starting a deploy").
   */
  async request(request: DeployRequest): Promise<RequestResult> {
    // The first message to a new environment arrives before init() has read the target's settings.
    await condition(() => this.settings !== undefined);
    const problem = deployRequestProblem(request, this.policy.source === 'main');
    if (problem) {
      this.record({ kind: 'ignored', message: `a deploy request was ignored: ${problem}` });
      return { started: false, note: problem };
    }
    this.state.requests = bounded(
      this.state.requests,
      { commit: request.commit?.toLowerCase() ?? 'head', by: request.requestedBy ?? 'unknown', at: this.now() },
      MAX_REQUESTS,
    );
    try {
      return this.policy.serialRequests
        ? await this.serialized(() => this.decideRequest(request))
        : await this.startDeploy(request.commit!.toLowerCase(), request);
    } catch (err) {
      // A request that cannot be served (GitHub unreadable for minutes) is an outcome, never the environment's end.
      if (isCancellation(err)) throw err;
      const note = `a deploy request failed: ${innermostMessage(err)}`;
      this.record({ kind: 'failed', reason: 'step-failed', commit: request.commit?.toLowerCase(), message: note });
      return { started: false, note };
    }
  }

  /** Runs `work` after every earlier serialized piece: requests and a close see each other's effects, in order. */
  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const done = this.requestChain.then(work);
    this.requestChain = done.catch(() => undefined);
    return done;
  }

  /** A newest-push request: ask the pure decision, gather what it asks for, carry out its answer. */
  private async decideRequest(request: DeployRequest): Promise<RequestResult> {
    const pr = this.pr();
    if (this.state.closed) {
      this.state.afterClose = [...(this.state.afterClose ?? []), request];
      return { started: false, note: `#${pr} closed: a reopened pull request gets a fresh preview` };
    }
    const reads: PullFacts[] = [];
    for (;;) {
      const decision = decidePreviewRequest(this.previewFacts(), request, reads, pr);
      switch (decision.kind) {
        case 'wait-for-commit':
          await condition(() => this.state.applying?.phase !== 'committing');
          reads.length = 0;
          continue;
        case 'read':
          if (decision.delayMs)
            await sleep(decision.delayMs, {
              summary: 'GitHub may report a new head a moment after the event: ask again',
            });
          reads.push(await steps.readPullRequest({ pr }));
          continue;
        case 'ignore':
          this.record({ kind: 'ignored', commit: decision.commit, message: decision.message });
          return { started: false, note: decision.message };
        case 'noop':
          return { workflowId: this.state.latest?.workflowId, started: false, note: decision.message };
        case 'close':
          this.state.closeRequest ??= {
            by: 'github: the pull request is closed',
            merged: decision.merged,
            at: this.now(),
          };
          return { started: false, note: `#${pr} is closed: the preview closes` };
        case 'deploy':
          return this.supersedeAndStart(decision.commit, request, decision.supersedes);
      }
    }
  }

  private async supersedeAndStart(
    commit: string,
    request: DeployRequest,
    previous?: { commit: string; workflowId: string },
  ): Promise<RequestResult> {
    const workflowId = deployWorkflowId(this.input.repository, this.input.target, commit);
    this.state.latest = { commit, workflowId, at: this.now() };
    // The superseded deploy's candidate must not be applied later.
    this.state.queue = this.state.queue.filter((c) => c.workflowId !== previous?.workflowId);
    if (previous) {
      await getExternalWorkflowHandle(previous.workflowId)
        .signal(supersededSignal, { by: commit })
        .catch(() => undefined);
    }
    return this.startDeploy(commit, request);
  }

  private async startDeploy(commit: string, request: DeployRequest): Promise<RequestResult> {
    const { repository, target } = this.input;
    const workflowId = deployWorkflowId(repository, target, commit);
    const searchable = this.settings.searchAttributes;
    try {
      const input: DeployInput = {
        repository,
        target,
        commit,
        before: request.before,
        requestedBy: request.requestedBy,
        environmentWorkflowId: workflowInfo().workflowId,
        searchAttributes: searchable,
      };
      // By type name: the deploy workflow hands itself back here, so neither module imports the other.
      const child = await startChild('deploy', {
        workflowId,
        args: [input],
        // Deploys outlive a continue-as-new of this workflow; they report back by signal.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        // Production: a failed deploy may run again, a succeeded one not; a preview's head pushed back by force runs anew.
        workflowIdReusePolicy:
          this.policy.rerun === 'always'
            ? WorkflowIdReusePolicy.ALLOW_DUPLICATE
            : WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        staticSummary: `deploy ${repository}@${commit.slice(0, 7)} to ${this.label}`,
        staticDetails: `Commit ${commit}${request.before ? ` (before: ${request.before.slice(0, 7)})` : ''}, requested by ${request.requestedBy ?? 'unknown'}.`,
        // Set at start so the deploy is searchable before its first task runs.
        typedSearchAttributes: searchable
          ? [
              { key: DeployEnvironment, value: target.kind === 'preview' ? 'preview' : target.name },
              ...(target.kind === 'preview' ? [{ key: DeployPullRequest, value: String(target.pr) }] : []),
              { key: DeployCommit, value: commit },
              { key: DeployPhase, value: 'detecting' },
            ]
          : [],
      });
      void child.result().catch(() => undefined);
      this.deployStarts.set(workflowId, this.now());
      this.publish();
      return { workflowId, started: true, note: `started ${workflowId}` };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      return { workflowId, started: false, note: `${workflowId} is running or has run already (a repeated request)` };
    }
  }

  /** A deploy whose checks passed hands itself over, for the first time or again (no verdict came in time). */
  candidateReady(candidate: Candidate): void {
    const found = handover(this.state, candidate.workflowId, candidate.runId);
    if (found === 'in-queue' || found === 'applying') return;
    if (found !== 'enqueue') {
      this.resends.send(candidate.workflowId, verdictOfOutcome(found.verdictOf)!);
      return;
    }
    // A newest-push target applies only its newest push; an older one is told so at once.
    if (
      this.policy.order === 'newest-push' &&
      this.state.latest &&
      candidate.workflowId !== this.state.latest.workflowId
    ) {
      const stale = this.staleVerdict();
      deployVerdict(this.input.target, stale, new Date());
      this.resends.send(candidate.workflowId, stale);
      return;
    }
    this.state.queue.push(candidate);
    // A deploy handed over again may have been told `held` by a run that is gone: it learns its place now.
    if (this.frozen || candidate.again) this.notices.send(candidate.workflowId, this.queueNotice());
    this.publish();
  }

  validateRollback(request: RollbackRequest): void {
    const problem = this.rollbackProblem(request);
    if (problem) throw new Error(problem);
  }

  /** The rollback signal and the rollback update both land here; the update then waits for `rollbackOutcome`. */
  enqueueRollback(request: RollbackRequest, trigger: RollbackTrigger): PendingRollback | undefined {
    const problem = this.rollbackProblem(request);
    if (problem) {
      this.record({ kind: 'rollback-refused', by: request.requestedBy, message: problem });
      return undefined;
    }
    rollbackRequested(this.input.target, trigger);
    this.state.sequence = (this.state.sequence ?? 0) + 1;
    const pending = { ...request, id: `${workflowInfo().workflowId}/rollback-${this.state.sequence}` };
    this.state.rollbacks.push(pending);
    this.publish();
    return pending;
  }

  async rollbackOutcome(id: string): Promise<Outcome> {
    await condition(() => this.rollbackResults.has(id));
    return this.rollbackResults.get(id)!;
  }

  private rollbackProblem(request: Partial<RollbackRequest>): string | undefined {
    if (!this.policy.rollbacks) return `${this.label} does not roll back: push a fix to the pull request instead`;
    return rollbackRequestProblem(request);
  }

  validateHold(who: { by?: string; reason?: string }, needsReason: boolean): void {
    if (!this.policy.rollbacks) throw new Error(`${this.label} cannot be paused or resumed`);
    const problem = holdRequestProblem(who, needsReason);
    if (problem) throw new Error(problem);
  }

  pause({ reason, by }: PauseRequest): EnvironmentView {
    if (!this.state.paused) holdStarted(this.input.target, 'pause');
    this.state.paused = { reason: `paused by ${by}: ${reason}`, by, since: this.now() };
    this.announceQueue();
    return this.view();
  }

  /** Lifts a pause and a rollback's hold. */
  resume(_: { by: string }): EnvironmentView {
    this.state.paused = undefined;
    this.state.held = undefined;
    this.announceQueue();
    return this.view();
  }

  validateTargets({ limit }: { limit?: number }): void {
    if (!this.policy.rollbacks) throw new Error(`${this.label} has no rollback targets`);
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 100)) {
      throw new Error('limit must be an integer from 1 to 100');
    }
  }

  targets({ limit }: { limit?: number }) {
    return steps.listTargets({ limit });
  }

  pullRequestClosed({ by, merged }: { by: string; merged?: boolean }): void {
    if (!this.policy.closes) return;
    this.state.closeRequest ??= { by, merged: merged ?? false, at: this.now() };
  }

  // ---- the main loop's work, one change at a time ----

  /** What to do next (plan/environment.ts planNext); the workflow waits while it is `wait`. */
  next(): NextChange {
    return planNext({
      closeRequested: this.state.closeRequest !== undefined,
      rollbacks: this.state.rollbacks.length,
      queue: this.state.queue.length,
      frozen: !!this.frozen,
      dueToContinue: this.dueToContinue(),
    });
  }

  get closed(): boolean {
    return this.state.closed !== undefined;
  }

  /** Nothing in flight that a continue-as-new would lose. */
  get idle(): boolean {
    return this.notices.idle && this.resends.idle;
  }

  private dueToContinue(): boolean {
    return this.state.handled >= this.settings.continueAsNewAfter || workflowInfo().continueAsNewSuggested;
  }

  /** Carries out one change: a close, a rollback or a deploy's turn. */
  async run(change: NextChange): Promise<void> {
    if (change === 'close') await this.serialized(() => this.close());
    else if (change === 'rollback') await this.rollback(this.state.rollbacks.shift()!);
    else if (change === 'deploy') await this.deployTurn();
    else return;
    this.state.applying = undefined;
    this.state.handled++;
    this.publish();
  }

  /** The state a continue-as-new carries into the next run. */
  continueInput(): EnvironmentInput {
    return { ...this.input, state: { ...this.state, applying: undefined, handled: 0 } };
  }

  private async deployTurn(): Promise<void> {
    // Planned over the queue as it was ordered: a deploy that arrives meanwhile waits for the next turn.
    const ordered = [...this.state.queue];
    const heads = this.policy.order === 'git-history' && ordered.length > 1 ? await this.newestOf(ordered) : [];
    // A pause, a rollback or a close that came while git ordered the queue goes first; a due
    // continue-as-new waits for this turn (the ordering is not thrown away).
    if (this.frozen || this.state.rollbacks.length || this.state.closeRequest) return;
    const turn = planTurn(ordered, heads)!;
    this.state.queue = this.state.queue.filter((c) => c !== turn.next);
    await this.apply(turn.next, turn.supersededOnCommit);
  }

  /**
   * The commits of `queue` that no other of them descends from (in queue order): one git process
   * per batch of ORDER_BATCH, then among the batches' survivors, however long the queue. If git
   * cannot order them, arrival order is used: the overlay step still supersedes older code.
   */
  private async newestOf(queue: Candidate[]): Promise<string[]> {
    let heads = [...new Set(queue.map((c) => c.commit))];
    try {
      while (heads.length > ORDER_BATCH) {
        const survivors: string[] = [];
        for (const batch of batches(heads, ORDER_BATCH)) {
          survivors.push(...(await steps.orderCommits({ commits: batch })));
        }
        // Unrelated histories (a rewritten main) may not shrink: order the first batch only.
        heads = survivors.length < heads.length ? survivors : survivors.slice(0, ORDER_BATCH);
      }
      return await steps.orderCommits({ commits: heads });
    } catch (err) {
      if (isCancellation(err)) throw err;
      return [];
    }
  }

  /**
   * One deploy's turn: commit the tag (unless superseded), then confirm Argo CD. `older` are queued
   * code deploys whose commits the candidate's contains: once its tag is healthy they are superseded
   * at once, without a git operation each.
   */
  private async apply(candidate: Candidate, older: Candidate[]): Promise<void> {
    const s = this.state;
    s.applying = {
      kind: 'deploy',
      tag: candidate.tag,
      commit: candidate.commit,
      workflowId: candidate.workflowId,
      phase: 'committing',
      since: this.now(),
    };
    this.publish();
    const verdict = await attempt(async (): Promise<Verdict | undefined> => {
      if (!this.isLatest(candidate)) return this.staleVerdict();
      let revision = candidate.commit;
      /** What ran before this commit's overlay change: its GitHub Deployment is retired once this one is healthy. */
      let replaced: EnvironmentState['current'];
      let overlayCommit: string | null = null;
      if (candidate.path === 'code' || this.policy.commitsK8s) {
        this.notices.forget(candidate.workflowId);
        await this.notify(candidate.workflowId, {
          phase: 'committing',
          note: `committing ${candidate.tag} to the overlay`,
        });
        const update = await steps.updateOverlay(this.overlayChange(candidate));
        environmentStepTook(this.input.target, 'committing', s.applying!.since, new Date());
        if (this.policy.ownCommits && update.overlayCommit) {
          s.ownCommits = bounded(
            s.ownCommits,
            { overlayCommit: update.overlayCommit, commit: candidate.commit },
            MAX_OWN_COMMITS,
          );
        }
        if (update.outcome === 'superseded') {
          if (update.current) {
            await this.supersede(older, update.current);
            return supersededVerdict(
              `${this.label} already runs ${update.current.tag}, built from a newer commit that contains ${candidate.commit.slice(0, 7)}`,
            );
          }
          return supersededVerdict(
            `${candidate.branch ?? 'the branch'} moved on to ${update.revision.slice(0, 7)}: the author pushed again, and that push has its own deploy`,
          );
        }
        revision = update.revision;
        overlayCommit = update.overlayCommit;
        // Git is what the target runs, healthy or not: record it before waiting for Argo CD.
        runningTagChanged(this.input.target, candidate.tag, s.current?.tag);
        replaced = s.current;
        s.current = {
          tag: candidate.tag,
          since: this.now(),
          commit: candidate.commit,
          rule: candidate.rule,
          overlayCommit,
          workflowId: candidate.workflowId,
        };
        if (this.settings.searchAttributes) upsertSearchAttributes([{ key: ImageTag, value: candidate.tag }]);
        if (!this.isLatest(candidate)) return this.staleVerdict(overlayCommit);
      }
      s.applying!.phase = 'syncing';
      const syncing = (argo?: string): QueueNotice => ({
        phase: 'syncing',
        note: `waiting for Argo CD application ${this.settings.application}`,
        ...(candidate.path === 'code' || this.policy.commitsK8s ? { overlayCommit } : {}),
        ...(argo ? { argo } : {}),
      });
      await this.notify(candidate.workflowId, syncing());
      const syncingSince = this.now();
      const sync = await confirmSync({
        revision,
        timeoutMs: this.settings.syncTimeoutMs,
        application: this.settings.application,
        branch: this.settings.trackedBranch ?? (this.policy.source === 'pull-request' ? candidate.branch : undefined),
        missingIsWaiting: this.policy.applicationMayBeMissing,
        onArgo: (argo) => {
          // Only news is sent: a deploy's history grows by what changed, not by each poll.
          if (s.applying?.argo === argo) return;
          s.applying!.argo = argo;
          this.publish();
          void this.notify(candidate.workflowId, syncing(argo));
        },
        stop: this.policy.order === 'newest-push' ? () => !this.isLatest(candidate) || !!s.closeRequest : undefined,
      });
      environmentStepTook(this.input.target, 'syncing', syncingSince, new Date());
      if (sync.state === 'stopped') {
        // A close cancels the deploy itself (it is the newest push); an older push is told it was superseded.
        return this.isLatest(candidate) ? undefined : this.staleVerdict(overlayCommit);
      }
      // Only now are the older deploys done: were this one Degraded (and rolled back), they stay queued.
      if (sync.state === 'healthy') await this.supersede(older, candidate);
      const verdict = syncVerdict(sync.state, sync.message, overlayCommit);
      return sync.state === 'healthy' && replaced?.workflowId && replaced.commit
        ? { ...verdict, replaces: { workflowId: replaced.workflowId, commit: replaced.commit } }
        : verdict;
    });
    if (!verdict) return;
    deployVerdict(this.input.target, verdict, new Date(), this.startOf(candidate));
    this.tellOne(candidate.workflowId, verdict);
    this.record({
      kind: verdict.outcome,
      reason: verdict.reason,
      tag: candidate.tag,
      commit: candidate.commit,
      rule: candidate.rule,
      workflowId: candidate.workflowId,
      runId: candidate.runId,
      overlayCommit: verdict.overlayCommit,
      message: verdict.message,
    });
    if (shouldAutoRollback(this.policy.rollbacks && this.settings.autoRollback, verdict)) {
      this.enqueueRollback(
        { to: 'previous', reason: `automatic: ${verdict.message}`, requestedBy: 'gitops-deployer' },
        'auto',
      );
    }
  }

  private overlayChange(candidate: Candidate) {
    if (this.policy.source === 'pull-request') {
      return {
        kind: 'preview' as const,
        tag: candidate.tag,
        workflowId: candidate.workflowId,
        commit: candidate.commit,
        pr: this.pr(),
        branch: candidate.branch!,
        rule: candidate.rule,
        target: this.settings.previewBranch,
      };
    }
    return { kind: 'deploy' as const, tag: candidate.tag, commit: candidate.commit, workflowId: candidate.workflowId };
  }

  /** Ends queued deploys whose commits the target's tag (built from `by`) already contains. */
  private async supersede(older: Candidate[], by: { tag: string; commit: string }): Promise<void> {
    if (!older.length) return;
    const ids = new Set(older.map((c) => c.workflowId));
    this.state.queue = this.state.queue.filter((c) => !ids.has(c.workflowId));
    const message = `${this.label} runs ${by.tag}, built from ${by.commit.slice(0, 7)}, a newer commit that contains this one`;
    // Recorded before they are told: one that hands itself over meanwhile finds its verdict, not an empty place.
    for (const c of older) {
      this.state.outcomes = bounded(
        this.state.outcomes,
        {
          kind: 'superseded',
          reason: 'superseded',
          tag: c.tag,
          commit: c.commit,
          workflowId: c.workflowId,
          runId: c.runId,
          message,
          at: this.now(),
        },
        MAX_OUTCOMES,
      );
    }
    this.publish();
    const verdict = supersededVerdict(message);
    for (const _ of ids) deployVerdict(this.input.target, verdict, new Date());
    await this.tell([...ids], verdict);
  }

  /** A rollback: validate the target's images, commit it, confirm Argo CD, then hold the target there. */
  private async rollback(request: PendingRollback): Promise<void> {
    const { id, requestedBy: by } = request;
    const s = this.state;
    let report: ReportLink | undefined;
    let retire: { workflowId: string; commit: string } | undefined;
    s.applying = { kind: 'rollback', tag: request.to, phase: 'resolving', since: this.now() };
    this.publish();
    const result = await attempt(async (): Promise<Omit<Outcome, 'at'>> => {
      const targets = await steps.listTargets({ limit: 20 });
      const resolved = resolveRollbackTag(request.to, targets);
      if ('problem' in resolved) return { kind: 'rollback-refused', workflowId: id, by, message: resolved.problem };
      const tag = resolved.tag;
      const to = targets.find((t) => t.tag === tag);
      const toCommit = to?.deployedCommit ?? to?.overlayCommit;
      Object.assign(s.applying!, { tag, phase: 'validating' });
      this.publish();
      try {
        await steps.validateImages({ tag });
      } catch (err) {
        if (isCancellation(err)) throw err;
        return {
          kind: 'rollback-refused',
          tag,
          workflowId: id,
          by,
          message: `rollback to ${tag} refused, the overlay is untouched: ${innermostMessage(err)}`,
        };
      }
      s.applying!.phase = 'committing';
      const replaced = s.current;
      // Its Deployment is for the commit it goes back to, and appears as the rollback starts to change the overlay.
      report = toCommit
        ? ReportLink.open(
            this.settings.report,
            {
              repository: this.input.repository,
              target: this.input.target,
              kind: 'rollback',
              workflowId: id,
              link: { workflowId: workflowInfo().workflowId, runId: workflowInfo().runId },
              commit: toCommit,
              requestedBy: by,
              order: this.now(),
            },
            { stage: 'committing', at: this.now(), tag, message: request.reason },
          )
        : undefined;
      const update = await steps.updateOverlay({
        kind: 'rollback',
        tag,
        workflowId: id,
        reason: request.reason,
        requestedBy: by,
      });
      // Committed: the target is rolled back and held from here on, whatever Argo CD says next.
      runningTagChanged(this.input.target, tag, s.current?.tag);
      if (!s.held) holdStarted(this.input.target, 'rollback');
      s.current = {
        tag,
        since: this.now(),
        by,
        overlayCommit: update.overlayCommit,
        ...(toCommit ? { commit: toCommit, workflowId: id } : {}),
      };
      retire =
        replaced?.workflowId && replaced.commit
          ? { workflowId: replaced.workflowId, commit: replaced.commit }
          : undefined;
      report?.send({ stage: 'syncing', at: this.now() });
      s.held = { tag, reason: `rolled back to ${tag} by ${by}: ${request.reason}`, by, since: this.now() };
      this.announceQueue();
      s.applying!.phase = 'syncing';
      const sync = await confirmSync({
        revision: update.revision,
        timeoutMs: this.settings.syncTimeoutMs,
        application: this.settings.application,
        branch: this.settings.trackedBranch ?? undefined,
        missingIsWaiting: this.policy.applicationMayBeMissing,
        onArgo: (argo) => {
          if (s.applying?.argo === argo) return;
          s.applying!.argo = argo;
          this.publish();
        },
      });
      return sync.state === 'healthy'
        ? { kind: 'rolled-back', tag, workflowId: id, by, overlayCommit: update.overlayCommit, message: s.held.reason }
        : {
            kind: 'failed',
            reason: sync.state === 'degraded' ? 'degraded' : 'sync-timeout',
            tag,
            workflowId: id,
            by,
            overlayCommit: update.overlayCommit,
            message: `rollback to ${request.to === 'previous' ? tag : request.to}: ${sync.message}`,
          };
    });
    const outcome: Outcome = {
      ...('kind' in result
        ? result
        : { kind: 'failed', reason: 'step-failed', workflowId: id, by, message: result.message }),
      at: this.now(),
    };
    const healthy = outcome.kind === 'rolled-back';
    report?.send({
      stage: healthy ? 'rolled-back' : 'failed',
      at: outcome.at,
      message: outcome.message,
      ...(healthy && retire ? { replaces: retire } : {}),
    });
    await report?.flushed();
    outcomeRecorded(this.input.target, this.state.outcomes, outcome);
    this.state.outcomes = bounded(this.state.outcomes, outcome, MAX_OUTCOMES);
    this.rollbackResults.set(id, outcome);
    this.publish();
  }

  /**
   * The pull request closed: cancel what is in flight (cancelled, not failed), record the preview
   * as gone, remove the deployer's branch. A late or redelivered `closed` of a PR GitHub reports
   * open changes nothing.
   */
  private async close(): Promise<void> {
    const request = this.state.closeRequest!;
    this.state.closeRequest = undefined;
    const pr = this.pr();
    const pull = await steps.readPullRequest({ pr }).catch(() => undefined);
    const decision = decideClose(pull, request.merged);
    if (!decision.close) {
      this.record({
        kind: 'ignored',
        message: `a close of #${pr} by ${request.by} was ignored: GitHub reports the pull request open (a late or redelivered event)`,
      });
      return;
    }
    const closed = (this.state.closed = { ...request, merged: decision.merged });
    const inFlight = new Set([this.state.latest?.workflowId, ...this.state.queue.map((c) => c.workflowId)]);
    inFlight.delete(undefined);
    await Promise.all(
      [...inFlight].map((id) =>
        getExternalWorkflowHandle(id!)
          .cancel()
          .catch(() => undefined),
      ),
    );
    this.state.queue = [];
    const branch = this.settings.previewBranch;
    const removed = branch
      ? await steps.removePreviewBranch({ branch }).then(
          ({ removed }) => (removed ? `; ${branch} removed` : ''),
          (err: unknown) => `; ${branch} could not be removed: ${innermostMessage(err)}`,
        )
      : '';
    await this.reportClosed();
    const ran = this.state.current ? ` (it ran ${this.state.current.tag})` : '';
    this.record({
      kind: 'gone',
      message: `#${pr} was ${closed.merged ? 'merged' : 'closed'} by ${closed.by}: the preview is gone${ran}${removed}`,
    });
  }

  /** The preview comment says the preview is gone; the Deployment of what it ran goes inactive. */
  private async reportClosed(): Promise<void> {
    const { current, latest } = this.state;
    const commit = current?.commit ?? latest?.commit;
    if (!commit) return;
    const at = this.now();
    const link = ReportLink.open(
      this.settings.report,
      {
        repository: this.input.repository,
        target: this.input.target,
        kind: 'close',
        workflowId: `${workflowInfo().workflowId}/close`,
        link: { workflowId: workflowInfo().workflowId, runId: workflowInfo().runId },
        commit,
        order: at,
      },
      {
        stage: 'removed',
        at,
        ...(current?.tag ? { tag: current.tag } : {}),
        ...(current?.workflowId && current.commit
          ? { replaces: { workflowId: current.workflowId, commit: current.commit } }
          : {}),
      },
    );
    await link?.flushed();
  }

  /** Requests that came while closing, when GitHub reports the pull request open again: for a fresh run. */
  async reopened(): Promise<EnvironmentInput | undefined> {
    const waiting = this.state.afterClose ?? [];
    if (!waiting.length) return undefined;
    const pull = await steps.readPullRequest({ pr: this.pr() }).catch(() => undefined);
    if (pull?.state !== 'open') return undefined;
    return { ...this.input, state: { ...emptyState(), outcomes: this.state.outcomes, afterClose: waiting } };
  }

  // ---- helpers ----

  /**
   * When the deploy of `candidate` started: this run started it, or (started by an earlier run) its
   * request is among the recent ones. Unknown otherwise: its lead time is not observed.
   */
  private startOf(candidate: Candidate): string | undefined {
    return (
      this.deployStarts.get(candidate.workflowId) ??
      this.state.requests.find((r) => r.commit === candidate.commit.toLowerCase())?.at
    );
  }

  private pr(): number {
    const { target } = this.input;
    if (target.kind !== 'preview') throw new Error(`${this.label} has no pull request`);
    return target.pr;
  }

  /** For a newest-push target: the candidate is still the newest push. */
  private isLatest(candidate: Candidate): boolean {
    return this.policy.order !== 'newest-push' || candidate.commit === this.state.latest?.commit;
  }

  private staleVerdict(overlayCommit?: string | null): Verdict {
    const latest = this.state.latest?.commit.slice(0, 7) ?? 'unknown';
    return supersededVerdict(`a newer push to ${this.label} (${latest}) has its own deploy`, overlayCommit);
  }

  private previewFacts() {
    const s = this.state;
    return {
      latest: s.latest,
      ownCommits: s.ownCommits,
      deployed: s.outcomes
        .filter((o) => o.kind === 'deployed' && o.commit)
        .map((o) => ({ commit: o.commit!, at: o.at })),
      committing: s.applying?.phase === 'committing' && s.applying.commit ? { commit: s.applying.commit } : undefined,
    };
  }

  private record(outcome: Omit<Outcome, 'at'>): void {
    const recorded = { ...outcome, at: this.now() };
    outcomeRecorded(this.input.target, this.state.outcomes, recorded);
    this.state.outcomes = bounded(this.state.outcomes, recorded, MAX_OUTCOMES);
    this.publish();
  }

  private notify(workflowId: string, notice: QueueNotice): Promise<void> {
    return getExternalWorkflowHandle(workflowId)
      .signal(queueNoticeSignal, notice)
      .catch(() => undefined);
  }

  private tellOne(workflowId: string, verdict: Verdict): void {
    void getExternalWorkflowHandle(workflowId)
      .signal(verdictSignal, verdict)
      .catch(() => undefined);
  }

  /** Tells each deploy its verdict, a batch at a time (Temporal bounds a workflow's pending signals). */
  private async tell(workflowIds: string[], verdict: Verdict): Promise<void> {
    for (const batch of batches(workflowIds, SIGNAL_BATCH)) {
      await Promise.all(
        batch.map((id) =>
          getExternalWorkflowHandle(id)
            .signal(verdictSignal, verdict)
            .catch(() => undefined),
        ),
      );
    }
  }

  private queueNotice(): QueueNotice {
    const freeze = this.frozen;
    return freeze
      ? { phase: 'held', note: `held: ${freeze.reason}; waits for \`deployctl resume\`` }
      : { phase: 'queued', note: 'waiting for its turn at the overlay' };
  }

  /** Tells every queued deploy whether it is held or waiting its turn, so its own status agrees. */
  private announceQueue(): void {
    const notice = this.queueNotice();
    for (const candidate of this.state.queue) this.notices.send(candidate.workflowId, notice);
    this.publish();
  }

  /** Markdown for the Web UI's current details; a burst may queue thousands, so it names the first few. */
  private publish(): void {
    const s = this.state;
    queueDepthChanged(this.input.target, s.queue.length);
    const lines = [
      `**${this.label}** runs ${s.current?.tag ?? 'an unknown tag (no change since this workflow started)'}`,
    ];
    if (s.applying) {
      lines.push(
        `Now: ${s.applying.kind} ${s.applying.tag} (${s.applying.phase})${s.applying.argo ? `: ${s.applying.argo}` : ''}`,
      );
    }
    if (s.held) lines.push(`Held: ${s.held.reason}`);
    if (s.paused) lines.push(`Paused: ${s.paused.reason}`);
    if (s.latest) lines.push(`Latest push: ${s.latest.commit.slice(0, 7)} → ${s.latest.workflowId}`);
    const how = this.frozen ? 'held' : 'queued';
    const shown = s.queue.slice(0, 10).map((c) => `${c.tag} (${c.path}, ${how})`);
    if (shown.length) {
      const more = s.queue.length > shown.length ? ` and ${s.queue.length - shown.length} more` : '';
      lines.push(`Queue: ${shown.join(', ')}${more}`);
    }
    const last = s.outcomes.at(-1);
    if (last) lines.push(`Last: ${last.kind} ${last.tag ?? ''} — ${last.message}`);
    setCurrentDetails(lines.join('\n\n'));
  }
}

/** Runs one change; a failure ends that change, never the environment. */
async function attempt<T>(work: () => Promise<T>): Promise<T | Verdict> {
  try {
    return await work();
  } catch (err) {
    if (isCancellation(err)) throw err;
    return failedVerdict(innermostMessage(err));
  }
}
