import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { EnvironmentSettings } from '../activities/settings';
import {
  batches,
  bounded,
  emptyState,
  MAX_OUTCOMES,
  MAX_REQUESTS,
  ORDER_BATCH,
  planTurn,
  resolveRollbackTag,
  rollbackRequestProblem,
  SIGNAL_BATCH,
  type Candidate,
  type EnvironmentState,
  type Outcome,
  type RollbackRequest,
} from '../plan/environment';
import { confirmSync } from './confirm';
import {
  candidateReadySignal,
  deployRequestedSignal,
  environmentStatusQuery,
  pauseSignal,
  queueNoticeSignal,
  resumeSignal,
  rollbackSignal,
  targetsUpdate,
  verdictSignal,
  type EnvironmentInput,
  type EnvironmentView,
  type QueueNotice,
  type Verdict,
} from './environment-definitions';
import { NoticeSender } from './notices';
import { steps } from './steps';
import { innermostMessage } from './errors';

/**
 * Owns one environment's overlay: deploys run their checks (CI, images) in parallel in their own
 * workflows, then take turns here, one overlay change at a time, newest commit first, so
 * production's tag only moves forward. Rollbacks run here too and hold production until resumed.
 */
export async function environment(input: EnvironmentInput): Promise<void> {
  const state = input.state ?? emptyState();
  const now = () => new Date().toISOString();
  let applying: EnvironmentView['applying'];
  const frozen = () => state.paused ?? state.held;
  const view = (): EnvironmentView => ({
    environment: input.environment,
    production: state.production,
    applying,
    queue: state.queue.map((c) => ({ ...c, state: frozen() ? 'held' : 'queued', why: frozen()?.reason })),
    paused: state.paused,
    held: state.held,
    pendingRollbacks: state.rollbacks,
    requests: state.requests ?? [],
    outcomes: state.outcomes,
  });
  const publish = () => setCurrentDetails(describe(input.environment, state, applying));
  const notices = new NoticeSender(SIGNAL_BATCH);
  const notify = (workflowId: string, notice: QueueNotice) =>
    getExternalWorkflowHandle(workflowId)
      .signal(queueNoticeSignal, notice)
      .catch(() => undefined);
  const record = (outcome: Omit<Outcome, 'at'>) => {
    state.outcomes = bounded(state.outcomes, { ...outcome, at: now() }, MAX_OUTCOMES);
    publish();
  };
  const queueNotice = (): QueueNotice => {
    const freeze = frozen();
    return freeze
      ? { phase: 'held', note: `held: ${freeze.reason}; waits for \`deployctl resume\`` }
      : { phase: 'queued', note: 'waiting for its turn at the overlay' };
  };
  /** Tells every queued deploy whether it is held or waiting its turn, so its own status agrees. */
  const announceQueue = () => {
    const notice = queueNotice();
    for (const candidate of state.queue) notices.send(candidate.workflowId, notice);
    publish();
  };

  setHandler(environmentStatusQuery, view);
  // Starters signal-with-start this before they start the deploy: the environment exists and
  // its history is the ordered log of every request.
  setHandler(deployRequestedSignal, (request) => {
    state.requests = bounded(
      state.requests ?? [],
      { commit: request.commit, by: request.requestedBy ?? 'unknown', at: now() },
      MAX_REQUESTS,
    );
  });
  setHandler(candidateReadySignal, (candidate) => {
    if (state.queue.some((c) => c.workflowId === candidate.workflowId)) return;
    state.queue.push(candidate);
    if (frozen()) notices.send(candidate.workflowId, queueNotice());
    publish();
  });
  setHandler(rollbackSignal, (request) => {
    const problem = rollbackRequestProblem(request);
    if (problem) record({ kind: 'rollback-refused', by: request.requestedBy, message: problem });
    else state.rollbacks.push(request);
    publish();
  });
  setHandler(pauseSignal, ({ reason, by }) => {
    state.paused = { reason: `paused by ${by}: ${reason}`, by, since: now() };
    announceQueue();
  });
  setHandler(resumeSignal, () => {
    state.paused = undefined;
    state.held = undefined;
    announceQueue();
  });
  setHandler(targetsUpdate, ({ limit }) => steps.listTargets({ limit }), {
    validator: ({ limit }) => {
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 100))
        throw new Error('limit must be an integer from 1 to 100');
    },
  });
  const settings: EnvironmentSettings = await steps.environmentSettings();
  // A fresh environment learns what production runs from the overlay's history; if git cannot
  // tell now, production stays unknown until the next change: the environment itself goes on.
  state.production ??= await steps.listTargets({ limit: 1 }).then(
    ([current]) => current && { tag: current.tag, since: current.date, by: current.by },
    () => undefined,
  );
  publish();

  for (;;) {
    await condition(() => state.rollbacks.length > 0 || (!frozen() && state.queue.length > 0) || timeToContinue());
    if (timeToContinue()) break;
    if (state.rollbacks.length) {
      await rollback(state.rollbacks.shift()!);
    } else {
      // Planned over the queue as it was ordered: a deploy that arrives meanwhile waits for the next turn.
      const ordered = [...state.queue];
      const turn = planTurn(ordered, ordered.length > 1 ? await newestOf(ordered) : [])!;
      // A pause or a rollback that came while git ordered the queue goes first.
      if (frozen() || state.rollbacks.length) continue;
      state.queue = state.queue.filter((c) => c !== turn.next);
      await apply(turn.next, turn.supersededOnCommit);
    }
    applying = undefined;
    state.handled++;
    publish();
  }
  // Keep history bounded: carry the queue, the hold and the outcomes into a fresh run.
  await condition(() => allHandlersFinished() && notices.idle);
  await continueAsNew<typeof environment>({ ...input, state: { ...state, handled: 0 } });

  function timeToContinue(): boolean {
    return state.handled >= settings.continueAsNewAfter || workflowInfo().continueAsNewSuggested;
  }

  /**
   * The commits of `queue` that no other of them descends from (in queue order): one git process
   * per batch of ORDER_BATCH, then among the batches' survivors, however long the queue. If git
   * cannot order them, arrival order is used: the overlay step still supersedes older code.
   */
  async function newestOf(queue: Candidate[]): Promise<string[]> {
    let heads = [...new Set(queue.map((c) => c.commit))];
    try {
      while (heads.length > ORDER_BATCH) {
        const survivors: string[] = [];
        for (const batch of batches(heads, ORDER_BATCH))
          survivors.push(...(await steps.orderCommits({ commits: batch })));
        // Unrelated histories (a rewritten main) may not shrink: order the first batch only.
        heads = survivors.length < heads.length ? survivors : survivors.slice(0, ORDER_BATCH);
      }
      return await steps.orderCommits({ commits: heads });
    } catch (err) {
      if (isCancellation(err)) throw err;
      return [];
    }
  }

  /** Tells each deploy its verdict, a batch at a time (Temporal bounds a workflow's pending signals). */
  async function tell(workflowIds: string[], verdict: Verdict): Promise<void> {
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

  /**
   * One deploy's turn: commit the tag (unless older than production's), then confirm Argo CD.
   * `older` are queued code deploys whose commits the candidate's contains: once its tag is in the
   * overlay they are superseded at once, without a git operation each.
   */
  async function apply(candidate: Candidate, older: Candidate[] = []): Promise<void> {
    applying = {
      kind: 'deploy',
      tag: candidate.tag,
      commit: candidate.commit,
      workflowId: candidate.workflowId,
      phase: 'committing',
      since: now(),
    };
    publish();
    const verdict = await attempt(async (): Promise<Verdict> => {
      let revision = candidate.commit;
      let overlayCommit: string | null = null;
      if (candidate.path === 'code') {
        notices.forget(candidate.workflowId);
        await notify(candidate.workflowId, { phase: 'committing', note: 'committing the overlay' });
        const update = await steps.updateOverlay({
          kind: 'deploy',
          tag: candidate.tag,
          commit: candidate.commit,
          workflowId: candidate.workflowId,
        });
        if (update.outcome === 'superseded') {
          await supersede(older, update.current!);
          return {
            outcome: 'superseded',
            message: `production already runs ${update.current!.tag}, built from a newer commit that contains ${candidate.commit.slice(0, 7)}`,
          };
        }
        revision = update.revision;
        overlayCommit = update.overlayCommit;
        // Git is what production runs, healthy or not: record it before waiting for Argo CD.
        state.production = { tag: candidate.tag, since: now() };
      }
      applying!.phase = 'syncing';
      await notify(candidate.workflowId, {
        phase: 'syncing',
        note: 'waiting for Argo CD',
        ...(candidate.path === 'code' ? { overlayCommit } : {}),
      });
      const sync = await confirmSync(revision, settings.syncTimeoutMs, () => undefined);
      // Only now are the older deploys done: were this one Degraded (and rolled back), they stay queued.
      if (sync.state === 'healthy') await supersede(older, candidate);
      return {
        outcome: sync.state === 'healthy' ? 'deployed' : 'failed',
        message: sync.message,
        overlayCommit,
        argo: sync.message,
      };
    });
    await getExternalWorkflowHandle(candidate.workflowId)
      .signal(verdictSignal, verdict)
      .catch(() => undefined);
    record({
      kind: verdict.outcome,
      tag: candidate.tag,
      commit: candidate.commit,
      workflowId: candidate.workflowId,
      message: verdict.message,
    });
    if (
      verdict.outcome === 'failed' &&
      settings.autoRollback &&
      verdict.overlayCommit &&
      /Degraded/.test(verdict.message)
    ) {
      await rollback({ to: 'previous', reason: `automatic: ${verdict.message}`, requestedBy: 'gitops-deployer' });
    }
  }

  /** Ends queued deploys whose commits production's tag (built from `by`) already contains. */
  async function supersede(older: Candidate[], by: { tag: string; commit: string }): Promise<void> {
    if (!older.length) return;
    const ids = new Set(older.map((c) => c.workflowId));
    state.queue = state.queue.filter((c) => !ids.has(c.workflowId));
    const message = `production runs ${by.tag}, built from ${by.commit.slice(0, 7)}, a newer commit that contains this one`;
    await tell([...ids], { outcome: 'superseded', message });
    for (const c of older)
      state.outcomes = bounded(
        state.outcomes,
        { kind: 'superseded', tag: c.tag, commit: c.commit, workflowId: c.workflowId, message, at: now() },
        MAX_OUTCOMES,
      );
    publish();
  }

  /** A rollback: validate the target's images, commit it, confirm Argo CD, then hold production there. */
  async function rollback(request: RollbackRequest): Promise<void> {
    state.sequence = (state.sequence ?? 0) + 1;
    const id = `${workflowInfo().workflowId}/rollback-${state.sequence}`;
    const by = request.requestedBy;
    applying = { kind: 'rollback', tag: request.to, phase: 'resolving', since: now() };
    publish();
    const result = await attempt(async (): Promise<Omit<Outcome, 'at'>> => {
      const resolved = resolveRollbackTag(request.to, await steps.listTargets({ limit: 20 }));
      if ('problem' in resolved) return { kind: 'rollback-refused', workflowId: id, by, message: resolved.problem };
      const tag = resolved.tag;
      Object.assign(applying!, { tag, phase: 'validating' });
      publish();
      try {
        await steps.validateImages({ tag });
      } catch (err) {
        return {
          kind: 'rollback-refused',
          tag,
          workflowId: id,
          by,
          message: `rollback to ${tag} refused, the overlay is untouched: ${innermostMessage(err)}`,
        };
      }
      applying!.phase = 'committing';
      const update = await steps.updateOverlay({
        kind: 'rollback',
        tag,
        workflowId: id,
        reason: request.reason,
        requestedBy: by,
      });
      // Committed: production is rolled back and held from here on, whatever Argo CD says next.
      state.production = { tag, since: now(), by };
      state.held = { tag, reason: `rolled back to ${tag} by ${by}: ${request.reason}`, by, since: now() };
      announceQueue();
      applying!.phase = 'syncing';
      const sync = await confirmSync(update.revision, settings.syncTimeoutMs, () => undefined);
      return sync.state === 'healthy'
        ? { kind: 'rolled-back', tag, workflowId: id, by, message: state.held.reason }
        : { kind: 'failed', tag, workflowId: id, by, message: `rollback to ${tag}: ${sync.message}` };
    });
    record('kind' in result ? result : { kind: 'failed', workflowId: id, by, message: result.message });
  }
}

/** Runs one change; a failure ends that change, never the environment. */
async function attempt<T extends object>(work: () => Promise<T>): Promise<T | Verdict> {
  try {
    return await work();
  } catch (err) {
    if (isCancellation(err)) throw err;
    return { outcome: 'failed', message: innermostMessage(err) };
  }
}

/** Markdown for the Web UI's current details of env-<name>; a burst may queue thousands, so it names the first few. */
function describe(environment: string, state: EnvironmentState, applying: EnvironmentView['applying']): string {
  const lines = [
    `**${environment}** runs ${state.production?.tag ?? 'an unknown tag (no change since this workflow started)'}`,
  ];
  if (applying) lines.push(`Now: ${applying.kind} ${applying.tag} (${applying.phase})`);
  if (state.held) lines.push(`Held: ${state.held.reason}`);
  if (state.paused) lines.push(`Paused: ${state.paused.reason}`);
  const how = (state.paused ?? state.held) ? 'held' : 'queued';
  const shown = state.queue.slice(0, 10).map((c) => `${c.tag} (${c.path}, ${how})`);
  if (shown.length)
    lines.push(
      `Queue: ${shown.join(', ')}${state.queue.length > shown.length ? ` and ${state.queue.length - shown.length} more` : ''}`,
    );
  const last = state.outcomes.at(-1);
  if (last) lines.push(`Last: ${last.kind} ${last.tag ?? ''} — ${last.message}`);
  return lines.join('\n\n');
}
