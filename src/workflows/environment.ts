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
import { bounded, emptyState, MAX_OUTCOMES, MAX_REQUESTS, nextCandidate, resolveRollbackTag, rollbackRequestProblem, type Candidate, type Outcome, type RollbackRequest } from '../plan/environment';
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
  const publish = () => setCurrentDetails(describe(view()));
  const notify = (workflowId: string, notice: QueueNotice) => getExternalWorkflowHandle(workflowId).signal(queueNoticeSignal, notice).catch(() => undefined);
  const record = (outcome: Omit<Outcome, 'at'>) => {
    state.outcomes = bounded(state.outcomes, { ...outcome, at: now() }, MAX_OUTCOMES);
    publish();
  };
  const queueNotice = (): QueueNotice => {
    const freeze = frozen();
    return freeze ? { phase: 'held', note: `held: ${freeze.reason}; waits for \`deployctl resume\`` } : { phase: 'queued', note: 'waiting for its turn at the overlay' };
  };
  /** Tells every queued deploy whether it is held or waiting its turn, so its own status agrees. */
  const announceQueue = () => {
    for (const candidate of state.queue) void notify(candidate.workflowId, queueNotice());
    publish();
  };

  setHandler(environmentStatusQuery, view);
  // Starters signal-with-start this before they start the deploy: the environment exists and
  // its history is the ordered log of every request.
  setHandler(deployRequestedSignal, (request) => {
    state.requests = bounded(state.requests ?? [], { commit: request.commit, by: request.requestedBy ?? 'unknown', at: now() }, MAX_REQUESTS);
  });
  setHandler(candidateReadySignal, (candidate) => {
    if (state.queue.some((c) => c.workflowId === candidate.workflowId)) return;
    state.queue.push(candidate);
    if (frozen()) void notify(candidate.workflowId, queueNotice());
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
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 100)) throw new Error('limit must be an integer from 1 to 100');
    },
  });
  const settings: EnvironmentSettings = await steps.environmentSettings();
  // A fresh environment learns what production runs from the overlay's history.
  state.production ??= await steps.listTargets({ limit: 1 }).then(([current]) => current && { tag: current.tag, since: current.date, by: current.by });
  publish();

  for (;;) {
    await condition(() => state.rollbacks.length > 0 || (!frozen() && state.queue.length > 0) || timeToContinue());
    if (timeToContinue()) break;
    if (state.rollbacks.length) {
      await rollback(state.rollbacks.shift()!);
    } else {
      const order = state.queue.length > 1 ? await steps.orderCommits({ commits: state.queue.map((c) => c.commit) }) : [];
      const next = nextCandidate(state.queue, order)!;
      state.queue = state.queue.filter((c) => c !== next);
      await apply(next);
    }
    applying = undefined;
    state.handled++;
    publish();
  }
  // Keep history bounded: carry the queue, the hold and the outcomes into a fresh run.
  await condition(allHandlersFinished);
  await continueAsNew<typeof environment>({ ...input, state: { ...state, handled: 0 } });

  function timeToContinue(): boolean {
    return state.handled >= settings.continueAsNewAfter || workflowInfo().continueAsNewSuggested;
  }

  /** One deploy's turn: commit the tag (unless older than production's), then confirm Argo CD. */
  async function apply(candidate: Candidate): Promise<void> {
    applying = { kind: 'deploy', tag: candidate.tag, commit: candidate.commit, workflowId: candidate.workflowId, phase: 'committing', since: now() };
    publish();
    const verdict = await attempt(async (): Promise<Verdict> => {
      let revision = candidate.commit;
      let overlayCommit: string | null = null;
      if (candidate.path === 'code') {
        await notify(candidate.workflowId, { phase: 'committing', note: 'committing the overlay' });
        const update = await steps.updateOverlay({ kind: 'deploy', tag: candidate.tag, commit: candidate.commit, workflowId: candidate.workflowId });
        if (update.outcome === 'superseded') {
          return { outcome: 'superseded', message: `production already runs ${update.current!.tag}, built from a newer commit that contains ${candidate.commit.slice(0, 7)}` };
        }
        revision = update.revision;
        overlayCommit = update.overlayCommit;
        // Git is what production runs, healthy or not: record it before waiting for Argo CD.
        state.production = { tag: candidate.tag, since: now() };
      }
      applying!.phase = 'syncing';
      await notify(candidate.workflowId, { phase: 'syncing', note: 'waiting for Argo CD', ...(candidate.path === 'code' ? { overlayCommit } : {}) });
      const sync = await confirmSync(revision, settings.syncTimeoutMs, () => undefined);
      return { outcome: sync.state === 'healthy' ? 'deployed' : 'failed', message: sync.message, overlayCommit, argo: sync.message };
    });
    await getExternalWorkflowHandle(candidate.workflowId).signal(verdictSignal, verdict).catch(() => undefined);
    record({ kind: verdict.outcome, tag: candidate.tag, commit: candidate.commit, workflowId: candidate.workflowId, message: verdict.message });
    if (verdict.outcome === 'failed' && settings.autoRollback && verdict.overlayCommit && /Degraded/.test(verdict.message)) {
      await rollback({ to: 'previous', reason: `automatic: ${verdict.message}`, requestedBy: 'gitops-deployer' });
    }
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
        return { kind: 'rollback-refused', tag, workflowId: id, by, message: `rollback to ${tag} refused, the overlay is untouched: ${innermostMessage(err)}` };
      }
      applying!.phase = 'committing';
      const update = await steps.updateOverlay({ kind: 'rollback', tag, workflowId: id, reason: request.reason, requestedBy: by });
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


/** Markdown for the Web UI's current details of env-<name>. */
function describe(view: EnvironmentView): string {
  const lines = [`**${view.environment}** runs ${view.production?.tag ?? 'an unknown tag (no change since this workflow started)'}`];
  if (view.applying) lines.push(`Now: ${view.applying.kind} ${view.applying.tag} (${view.applying.phase})`);
  if (view.held) lines.push(`Held: ${view.held.reason}`);
  if (view.paused) lines.push(`Paused: ${view.paused.reason}`);
  if (view.queue.length) lines.push(`Queue: ${view.queue.map((c) => `${c.tag} (${c.path}, ${c.state})`).join(', ')}`);
  const last = view.outcomes.at(-1);
  if (last) lines.push(`Last: ${last.kind} ${last.tag ?? ''} — ${last.message}`);
  return lines.join('\n\n');
}
