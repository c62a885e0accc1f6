import { environmentHandle, signalEnvironment, startDeploy } from '../../src/client/deploys';
import type { Outcome } from '../../src/plan/environment';
import { shaTag } from '../../src/plan/tags';
import { deployWorkflowId, statusQuery } from '../../src/workflows/definitions';
import {
  environmentStatusQuery,
  pauseSignal,
  resumeSignal,
  rollbackSignal,
  type EnvironmentView,
} from '../../src/workflows/environment-definitions';
import type { DeployPhase, DeployStatus } from '../../src/workflows/types';
import { eventually, phaseOf as phaseOfDeploy } from '../support/wait';
import { recordHistories } from '../support/histories';
import { INITIAL_TAG, OWNER, REPO, startRunningStack, type Stack } from '../support/stack';

/** One production, in order: ordering, superseding, rollback, hold and pause on real parts. */
const OVERLAY = 'k8s/overlays/prod/kustomization.yaml';
const FULL = `${OWNER}/${REPO}`;
let stack: Stack;
let merges = 0;

beforeAll(async () => {
  ({ stack } = await startRunningStack());
}, 120_000);

afterAll(async () => {
  // `RECORD_HISTORIES=1 npm test -- test/e2e/environment test/e2e/preview` refreshes the histories the replay test uses.
  await recordHistories(stack, ['environment', 'productionDeploy']);
  await stack?.stop();
});

const handleOf = (commit: string) => stack.client.workflow.getHandle(deployWorkflowId(FULL, commit));
const envView = () => environmentHandle(stack.client, stack.config).query(environmentStatusQuery);
const overlayTag = async (rev = 'main') => /newTag: (\S+)/.exec(await stack.origin.readAt(rev, OVERLAY))![1]!;

const phaseOf = (commit: string, phase: DeployPhase) => phaseOfDeploy(stack.client, FULL, commit, phase);

/** Merges a change and requests its deploy, as the relay does on a push. CI stays pending. */
async function merge(kind: 'code' | 'k8s'): Promise<{ commit: string; run?: number }> {
  const n = ++merges;
  const file: Record<string, string> =
    kind === 'code'
      ? { 'services/api/main.py': `print(${n})\n` }
      : { 'k8s/base/deployment.yaml': `# replicas: ${n}\n` };
  const before = await stack.origin.head();
  const commit = await stack.origin.commit(file, `${kind}: change ${n}`);
  const run =
    kind === 'code'
      ? stack.github.addRun({ owner: OWNER, repo: REPO, headSha: commit, status: 'in_progress' }).id
      : undefined;
  await startDeploy(stack.client, stack.config, { commit, before, requestedBy: 'test' });
  if (kind === 'code') await phaseOf(commit, 'waiting-for-ci');
  return { commit, run };
}

/** CI pushes the images and completes; the deploy's polling notices. */
async function ciPasses(change: { commit: string; run?: number }): Promise<void> {
  await stack.pushImages(shaTag(change.commit));
  stack.github.setRun(change.run!, { status: 'completed', conclusion: 'success' });
}

const result = (commit: string) => handleOf(commit).result() as Promise<DeployStatus>;

async function nextOutcome(kinds: Outcome['kind'][], seen: number): Promise<Outcome> {
  return eventually(`an outcome of ${kinds.join('/')}`, async () => {
    const outcomes = (await envView()).outcomes;
    return outcomes.slice(seen).find((o) => kinds.includes(o.kind));
  });
}

/** The tags the overlay had on origin's main, oldest first. */
async function tagHistory(): Promise<string[]> {
  const log = (await stack.origin.log(OVERLAY)).reverse();
  return Promise.all(log.map((entry) => overlayTag(entry.sha)));
}

describe('one production, in order', () => {
  test("A then B merged, B's CI first: B deploys, A is superseded, the tag never goes back", async () => {
    const a = await merge('code');
    const b = await merge('code');
    await ciPasses(b);
    expect(await result(b.commit)).toMatchObject({ phase: 'succeeded', tag: shaTag(b.commit) });
    await ciPasses(a);
    const outcome = await result(a.commit);
    expect(outcome.phase).toBe('superseded');
    expect(outcome.overlayCommit ?? null).toBeNull();
    expect(await overlayTag()).toBe(shaTag(b.commit));
    expect(await tagHistory()).not.toContain(shaTag(a.commit));
  });

  test("A then B merged, A's CI first: A deploys, then B", async () => {
    const a = await merge('code');
    const b = await merge('code');
    await ciPasses(a);
    expect((await result(a.commit)).phase).toBe('succeeded');
    await ciPasses(b);
    expect((await result(b.commit)).phase).toBe('succeeded');
    expect((await tagHistory()).slice(-2)).toEqual([shaTag(a.commit), shaTag(b.commit)]);
  });

  test('a k8s-only merge after a pending code merge confirms at once with the old tag; the code still deploys', async () => {
    const running = await overlayTag();
    const a = await merge('code');
    const b = await merge('k8s');
    expect(await result(b.commit)).toMatchObject({ phase: 'succeeded', path: 'k8s', tag: running });
    expect((await handleOf(a.commit).query(statusQuery)).phase).toBe('waiting-for-ci');
    await ciPasses(a);
    expect(await result(a.commit)).toMatchObject({ phase: 'succeeded', tag: shaTag(a.commit) });
  });
});

describe('rollback, hold and pause', () => {
  test('rollback to previous: overlay and Argo CD go back, and a later merge is held until resume', async () => {
    const history = await tagHistory();
    const [previous, current] = history.slice(-2);
    const seen = (await envView()).outcomes.length;
    await signalEnvironment(stack.client, stack.config, rollbackSignal, {
      to: 'previous',
      reason: 'errors after deploy',
      requestedBy: 'ana',
    });
    const outcome = await nextOutcome(['rolled-back', 'rollback-refused', 'failed'], seen);
    expect(outcome).toMatchObject({ kind: 'rolled-back', tag: previous });
    expect(current).not.toBe(previous);
    expect(await overlayTag()).toBe(previous);
    const [last] = await stack.origin.log();
    expect(last!.subject).toBe(`rollback: revert to ${previous} [skip ci]`);
    expect(last!.body).toContain('Requested-By: ana');
    expect((await envView()).held).toMatchObject({ tag: previous });

    const c = await merge('code');
    await ciPasses(c);
    await phaseOf(c.commit, 'held');
    expect((await envView()).queue).toEqual([expect.objectContaining({ commit: c.commit, state: 'held' })]);
    expect(await overlayTag()).toBe(previous);

    await signalEnvironment(stack.client, stack.config, resumeSignal, { by: 'ana' });
    expect(await result(c.commit)).toMatchObject({ phase: 'succeeded', tag: shaTag(c.commit) });
    expect((await envView()).held).toBeUndefined();
  });

  test('rollback to a named tag whose images retention removed is refused; the overlay is untouched', async () => {
    const head = await stack.origin.head();
    const gone = (await tagHistory()).at(-2)!;
    for (const image of ['yt-summarizer-api', 'yt-summarizer-workers']) await stack.registry.deleteImage(image, gone);
    const seen = (await envView()).outcomes.length;
    await signalEnvironment(stack.client, stack.config, rollbackSignal, {
      to: gone,
      reason: 'try',
      requestedBy: 'ana',
    });
    const outcome = await nextOutcome(['rolled-back', 'rollback-refused', 'failed'], seen);
    expect(outcome.kind).toBe('rollback-refused');
    expect(outcome.message).toMatch(new RegExp(`image not found: .*${gone}`));
    expect(await stack.origin.head()).toBe(head);
    expect((await envView()).held).toBeUndefined();
  });

  test('rollback to a named tag goes there and holds', async () => {
    const seen = (await envView()).outcomes.length;
    await signalEnvironment(stack.client, stack.config, rollbackSignal, {
      to: INITIAL_TAG,
      reason: 'back to the start',
      requestedBy: 'bo',
    });
    expect(await nextOutcome(['rolled-back', 'rollback-refused', 'failed'], seen)).toMatchObject({
      kind: 'rolled-back',
      tag: INITIAL_TAG,
    });
    expect(await overlayTag()).toBe(INITIAL_TAG);
    await signalEnvironment(stack.client, stack.config, resumeSignal, { by: 'bo' });
  });

  test('pause, two merges, resume: only the newest deploys, the older one is superseded', async () => {
    await signalEnvironment(stack.client, stack.config, pauseSignal, { reason: 'release freeze', by: 'cy' });
    const d = await merge('code');
    const e = await merge('code');
    await ciPasses(d);
    await ciPasses(e);
    await phaseOf(d.commit, 'held');
    await phaseOf(e.commit, 'held');
    const view: EnvironmentView = await envView();
    expect(view.paused?.reason).toMatch(/release freeze/);
    expect(view.queue.map((q) => q.state)).toEqual(['held', 'held']);

    await signalEnvironment(stack.client, stack.config, resumeSignal, { by: 'cy' });
    expect((await result(e.commit)).phase).toBe('succeeded');
    expect((await result(d.commit)).phase).toBe('superseded');
    expect(await overlayTag()).toBe(shaTag(e.commit));
    expect(await tagHistory()).not.toContain(shaTag(d.commit));
  });
});
