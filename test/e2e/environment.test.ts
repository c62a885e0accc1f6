import { startDeploy } from '../../src/client/deploys';
import {
  environmentHandle,
  pauseEnvironment,
  productionTarget,
  resumeEnvironment,
  rollbackEnvironment,
} from '../../src/client/environment';
import { statusQuery, type DeployPhase, type DeployStatus } from '../../src/contract/deploy';
import { environmentStatusQuery, type EnvironmentView, type RollbackRequest } from '../../src/contract/environment';
import { deployWorkflowId } from '../../src/contract/ids';
import { shaTag } from '../../src/plan/tags';
import { phaseOf as phaseOfDeploy } from '../support/wait';
import { recordHistories } from '../support/histories';
import { INITIAL_TAG, OWNER, REPO, startRunningStack, type Stack } from '../../harness/stack';

/** One production, in order: ordering, superseding, rollback, hold and pause on real parts. */
const OVERLAY = 'k8s/overlays/prod/kustomization.yaml';
const FULL = `${OWNER}/${REPO}`;
let stack: Stack;
let merges = 0;

beforeAll(async () => {
  ({ stack } = await startRunningStack());
}, 120_000);

afterAll(async () => {
  // `RECORD_HISTORIES=1 npm test -- test/e2e/environment test/e2e/preview test/e2e/production` refreshes test/histories.
  await recordHistories(stack);
  await stack?.stop();
});

const handleOf = (commit: string) =>
  stack.client.workflow.getHandle(deployWorkflowId(FULL, productionTarget(stack.config), commit));
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

/** The rollback Update (deployctl rollback): answered with the rollback's outcome once Argo CD confirmed it. */
const rollback = async (request: RollbackRequest) =>
  (await rollbackEnvironment(stack.client, stack.config, request, { wait: true }))!;

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
    const outcome = await rollback({ to: 'previous', reason: 'errors after deploy', requestedBy: 'ana' });
    expect(outcome).toMatchObject({
      kind: 'rolled-back',
      tag: previous,
      by: 'ana',
      workflowId: expect.stringMatching(/^env-production\/rollback-\d+$/),
    });
    expect(current).not.toBe(previous);
    expect(await overlayTag()).toBe(previous);
    const [last] = await stack.origin.log();
    expect(outcome.overlayCommit).toBe(last!.sha);
    expect(last!.subject).toBe(`rollback: revert to ${previous} [skip ci]`);
    expect(last!.body).toContain('Requested-By: ana');
    // The outcome is the one the environment recorded.
    expect((await envView()).outcomes.at(-1)).toEqual(outcome);
    expect((await envView()).held).toMatchObject({ tag: previous });

    const c = await merge('code');
    await ciPasses(c);
    await phaseOf(c.commit, 'held');
    expect((await envView()).queue).toEqual([expect.objectContaining({ commit: c.commit, state: 'held' })]);
    expect(await overlayTag()).toBe(previous);

    const resumed = await resumeEnvironment(stack.client, stack.config, { by: 'ana' });
    expect(resumed.held).toBeUndefined();
    expect(await result(c.commit)).toMatchObject({ phase: 'succeeded', tag: shaTag(c.commit) });
    expect((await envView()).held).toBeUndefined();
  });

  test('rollback to a named tag whose images retention removed is refused; the overlay is untouched', async () => {
    const head = await stack.origin.head();
    const gone = (await tagHistory()).at(-2)!;
    for (const image of ['yt-summarizer-api', 'yt-summarizer-workers']) await stack.registry.deleteImage(image, gone);
    const outcome = await rollback({ to: gone, reason: 'try', requestedBy: 'ana' });
    expect(outcome).toMatchObject({ kind: 'rollback-refused', tag: gone, by: 'ana' });
    expect(outcome.message).toMatch(new RegExp(`image not found: .*${gone}`));
    expect(await stack.origin.head()).toBe(head);
    expect((await envView()).held).toBeUndefined();
  });

  test('rollback to a named tag goes there and holds', async () => {
    expect(await rollback({ to: INITIAL_TAG, reason: 'back to the start', requestedBy: 'bo' })).toMatchObject({
      kind: 'rolled-back',
      tag: INITIAL_TAG,
    });
    expect(await overlayTag()).toBe(INITIAL_TAG);
    expect((await envView()).held).toMatchObject({ tag: INITIAL_TAG, by: 'bo' });
    await resumeEnvironment(stack.client, stack.config, { by: 'bo' });
  });

  test('pause, two merges, resume: only the newest deploys, the older one is superseded', async () => {
    const paused = await pauseEnvironment(stack.client, stack.config, { reason: 'release freeze', by: 'cy' });
    expect(paused.paused).toMatchObject({ reason: expect.stringMatching(/release freeze/), by: 'cy' });
    const d = await merge('code');
    const e = await merge('code');
    await ciPasses(d);
    await ciPasses(e);
    await phaseOf(d.commit, 'held');
    await phaseOf(e.commit, 'held');
    const view: EnvironmentView = await envView();
    expect(view.paused?.reason).toMatch(/release freeze/);
    expect(view.queue.map((q) => q.state)).toEqual(['held', 'held']);

    expect((await resumeEnvironment(stack.client, stack.config, { by: 'cy' })).paused).toBeUndefined();
    expect((await result(e.commit)).phase).toBe('succeeded');
    expect((await result(d.commit)).phase).toBe('superseded');
    expect(await overlayTag()).toBe(shaTag(e.commit));
    expect(await tagHistory()).not.toContain(shaTag(d.commit));
  });
});
