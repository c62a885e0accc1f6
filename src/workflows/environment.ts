import { allHandlersFinished, condition, continueAsNew, setHandler } from '@temporalio/workflow';
import {
  candidateReadySignal,
  deployRequestedSignal,
  environmentStatusQuery,
  pauseSignal,
  pauseUpdate,
  pullRequestClosedSignal,
  requestDeployUpdate,
  resumeSignal,
  resumeUpdate,
  rollbackSignal,
  rollbackUpdate,
  targetsUpdate,
  type EnvironmentInput,
  type EnvironmentView,
} from '../contract/environment';
import { EnvironmentModel } from './environment-model';

/**
 * Owns one target's overlay (production's `env-production`, a pull request's preview): it starts
 * the target's deploys, which run their checks in parallel in their own workflows, then applies
 * them one change at a time by the target's policy. Production lives forever and only moves
 * forward; a preview ends when its pull request closes. The message API and the loop are here;
 * state, handler bodies and decisions are in EnvironmentModel and plan/.
 */
export async function environment(input: EnvironmentInput): Promise<EnvironmentView> {
  const env = new EnvironmentModel(input);
  setHandler(environmentStatusQuery, () => env.view());
  // The relay signals (durable while no worker runs); deployctl updates and gets the answer.
  setHandler(deployRequestedSignal, async (request) => void (await env.request(request)));
  setHandler(requestDeployUpdate, (request) => env.request(request), {
    validator: (request) => env.validateRequest(request),
  });
  setHandler(candidateReadySignal, (candidate) => env.candidateReady(candidate));
  // The signal stays for the Temporal Web UI; the update waits for the outcome. One code path.
  setHandler(rollbackSignal, (request) => void env.enqueueRollback(request, 'signal'));
  setHandler(rollbackUpdate, (request) => env.rollbackOutcome(env.enqueueRollback(request, 'update')!.id), {
    validator: (request) => env.validateRollback(request),
  });
  setHandler(pauseSignal, (request) => void env.pause(request));
  setHandler(pauseUpdate, (request) => env.pause(request), { validator: (r) => env.validateHold(r, true) });
  setHandler(resumeSignal, (request) => void env.resume(request));
  setHandler(resumeUpdate, (request) => env.resume(request), { validator: (r) => env.validateHold(r, false) });
  setHandler(targetsUpdate, (request) => env.targets(request), { validator: (r) => env.validateTargets(r) });
  setHandler(pullRequestClosedSignal, (request) => env.pullRequestClosed(request));

  await env.init();
  while (!env.closed) {
    await condition(() => env.next() !== 'wait');
    const change = env.next();
    if (change !== 'continue') {
      await env.run(change);
      continue;
    }
    // Keep history bounded: once every handler is done, carry the state into a fresh run. A
    // rollback or a close that arrives meanwhile is served first (its caller waits for it).
    await condition(() => (allHandlersFinished() && env.idle) || env.next() !== 'continue');
    if (env.next() === 'continue') return continueAsNew<typeof environment>(env.continueInput());
  }
  await condition(allHandlersFinished);
  // Reopened while this run closed? Then a fresh preview, in a fresh run.
  const reopened = await env.reopened();
  if (reopened) return continueAsNew<typeof environment>(reopened);
  return env.view();
}
