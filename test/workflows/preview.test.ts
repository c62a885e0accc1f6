import type { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Activities } from '../../src/activities';
import type { OverlayChange } from '../../src/activities/overlay';
import type { PullRequestInfo } from '../../src/activities/pulls';
import { requestPreview } from '../../src/client/deploys';
import { closePreview, environmentHandle } from '../../src/client/environment';
import { statusQuery, type DeployStatus, type OverlayUpdate } from '../../src/contract/deploy';
import {
  deployRequestedSignal,
  environmentStatusQuery,
  pullRequestClosedSignal,
  type EnvironmentView,
} from '../../src/contract/environment';
import { workflowTestConfig } from '../support/workflow-config';
import {
  argoAt,
  ciRun,
  deployResult,
  endTracked,
  gate,
  pause,
  planFor,
  realTime,
  recorded,
  runWorker,
  scenario,
  type Scenario,
  settingsFor,
  timeSkipping,
  unused,
  until,
  watched,
  reportingOff,
} from './fakes';

/** A pull request's preview environment on the time-skipping server, with the steps replaced: the races E2E cannot stage. */
const PR = 5;
const [HEAD, HEAD2, OVERLAY, OVERLAY2] = ['a', 'b', 'c', 'd'].map((c) => c.repeat(40)) as [
  string,
  string,
  string,
  string,
];
const overlayOf: Record<string, string> = { [HEAD]: OVERLAY, [HEAD2]: OVERLAY2 };

let env: TestWorkflowEnvironment;
/** Pushes overlap here: results are awaited in real time (see realTime). */
let clock: Client;
beforeAll(async () => {
  env = await timeSkipping();
  clock = realTime(env);
});
afterEach(() => endTracked(env.client));
afterAll(() => env?.teardown());

/** The PR's head and state as GitHub reports them, changed by the test as pushes happen. */
let head = HEAD;
let prState: 'open' | 'closed' = 'open';
let prMerged = false;
beforeEach(() => {
  head = HEAD;
  prState = 'open';
  prMerged = false;
});

const pull = (headSha: string): PullRequestInfo => ({
  number: PR,
  state: prState,
  merged: prMerged,
  headSha,
  headRef: 'feature/x',
  baseRef: 'main',
  fork: false,
  headRepository: 'o/r',
  headIsMain: false,
  url: 'https://github.test/o/r/pull/5',
});

/** One test's preview of #5: its own task queue and repository. */
type Preview = Scenario;

let counter = 0;
function preview(previewConfig: Record<string, unknown> = {}): Preview {
  const n = ++counter;
  const config = workflowTestConfig(`r${n}`, `preview-${n}`, {
    preview: { application: 'app-pr-{number}', ...previewConfig },
  });
  return scenario(config, `o/r${n}`, { kind: 'preview', pr: PR });
}

function fakes(pv: Preview, over: Partial<Activities> = {}) {
  return recorded({
    ...reportingOff(),
    targetSettings: async ({ target }) => settingsFor(pv.config, target),
    readPullRequest: async () => pull(head),
    listPullCommits: async () => [{ sha: head, overlay: false }],
    detect: async ({ commit }) =>
      planFor(pv.config, 'code', {
        reason: `pull request #${PR}: code changed`,
        sameCode: [commit],
        headRef: 'feature/x',
      }),
    findImages: async () => null,
    findCiRun: async ({ commit }) => ciRun(commit, 'completed', 'success', { id: 9, url: 'https://github.test/run/9' }),
    validateImages: async ({ tag }) => [{ name: 'api', reference: `acr.test/api:${tag}`, digest: 'sha256:aa' }],
    updateOverlay: async (change: OverlayChange): Promise<OverlayUpdate> => {
      const commit = overlayOf[(change as { commit: string }).commit]!;
      head = commit;
      return { outcome: 'committed', overlayCommit: commit, revision: commit };
    },
    observeArgoApp: async ({ revision }) => argoAt(revision),
    readRunningTag: async () => ({ tag: 'sha-1111111' }),
    removePreviewBranch: async () => ({ removed: false }),
    listTargets: unused('a preview'),
    orderCommits: unused('a preview'),
    ...over,
  });
}

function withPreview<T>(pv: Preview, activities: Activities, work: () => Promise<T>): Promise<T> {
  return runWorker(env.nativeConnection, pv.config.temporal.taskQueue, activities, work);
}

/** A push to the PR (or `deployctl preview`), as the gateway asks the preview's environment. */
const request = (pv: Preview, commit?: string, before?: string) =>
  watched(
    env.client,
    [pv.environmentId],
    requestPreview(env.client, pv.config, PR, { commit, before, requestedBy: 'test' }),
  );
const environmentOf = (pv: Preview) => environmentHandle(env.client, pv.config, pv.target);
const view = (pv: Preview) => environmentOf(pv).query(environmentStatusQuery);
function untilView(pv: Preview, what: string, done: (v: EnvironmentView) => boolean): Promise<EnvironmentView> {
  return until(`the preview: ${what}`, async () => {
    const v = await view(pv);
    return done(v) ? v : undefined;
  });
}
const deployOf = (pv: Preview, commit: string) => env.client.workflow.getHandle(pv.idOf(commit));
const resultOf = (pv: Preview, commit: string) => deployResult(clock, pv.environmentId, pv.idOf(commit));
/** The result of the deploy's next run (a head previewed again runs under the same workflow id). */
async function nextRunResult(pv: Preview, commit: string, previousRun: string): Promise<DeployStatus> {
  await until(`a new run of ${commit.slice(0, 7)}'s deploy`, async () =>
    (await deployOf(pv, commit).describe()).runId !== previousRun ? true : undefined,
  );
  return watched(
    clock,
    [pv.environmentId],
    clock.workflow.getHandle(pv.idOf(commit)).result() as Promise<DeployStatus>,
  );
}

describe('environment workflow (a preview): newest push wins, own commits ignored, ends on close', () => {
  test('the synchronize of its own overlay push, arriving before the commit step returned, starts nothing', async () => {
    const pv = preview();
    let signalled!: Promise<void>;
    const { activities, calls } = fakes(pv, {
      updateOverlay: async () => {
        head = OVERLAY; // pushed: GitHub sends synchronize(before=HEAD, after=OVERLAY) at once...
        signalled = environmentOf(pv).signal(deployRequestedSignal, {
          commit: OVERLAY,
          before: HEAD,
          requestedBy: 'github',
        });
        await signalled;
        await pause(300); // ...and it reaches the workflow before this step returns
        return { outcome: 'committed', overlayCommit: OVERLAY, revision: OVERLAY };
      },
    });
    const final = await withPreview(pv, activities, async () => {
      expect(await request(pv, HEAD)).toMatchObject({
        environmentWorkflowId: pv.environmentId,
        workflowId: pv.idOf(HEAD),
        started: true,
      });
      expect(await resultOf(pv, HEAD)).toMatchObject({
        phase: 'succeeded',
        target: pv.target,
        pr: PR,
        branch: 'feature/x',
        rule: 'ci',
        tag: 'pr-5-aaaaaaa',
        overlayCommit: OVERLAY,
      });
      return untilView(pv, 'its own push ignored', (v) => v.outcomes.some((o) => o.kind === 'ignored'));
    });
    // Its own push is recognised as soon as the commit step returns, before Argo CD confirms the deploy.
    expect(final.outcomes.map((o) => [o.kind, o.commit])).toEqual([
      ['ignored', OVERLAY],
      ['deployed', HEAD],
    ]);
    expect(final.latest?.commit).toBe(HEAD);
    await expect(deployOf(pv, OVERLAY).describe()).rejects.toThrow(/not found/i);
    // The preview's form of the one detect step, and its overlay change on the PR branch.
    expect(calls.detect).toEqual([
      {
        target: pv.target,
        commit: HEAD,
        baseRef: 'main',
        headRef: 'feature/x',
        commits: [{ sha: HEAD, overlay: false }],
      },
    ]);
    expect(calls.findCiRun![0]).toEqual({ commit: HEAD, event: 'pull_request' });
    expect(calls.updateOverlay).toEqual([
      {
        kind: 'preview',
        tag: 'pr-5-aaaaaaa',
        workflowId: pv.idOf(HEAD),
        commit: HEAD,
        pr: PR,
        branch: 'feature/x',
        rule: 'ci',
        target: null,
      },
    ]);
    expect(calls.observeArgoApp![0]).toMatchObject({
      revision: OVERLAY,
      application: 'app-pr-5',
      missingIsWaiting: true,
    });
  });

  test('a push while the older head waits for Argo CD stops that wait; the newer head deploys', async () => {
    const pv = preview();
    const held = gate();
    const syncing = gate();
    const { activities } = fakes(pv, {
      // The first overlay commit never gets healthy while the test holds it.
      observeArgoApp: async ({ revision }) => {
        if (revision !== OVERLAY) return argoAt(revision);
        syncing.open();
        await held.opened;
        return { ...argoAt(revision), syncStatus: 'OutOfSync' };
      },
    });
    const { first, second, final } = await withPreview(pv, activities, async () => {
      await request(pv, HEAD);
      await syncing.opened;
      head = HEAD2; // the author pushed on top of the overlay commit
      await request(pv, HEAD2, OVERLAY);
      const result = {
        first: await resultOf(pv, HEAD),
        second: await resultOf(pv, HEAD2),
        final: await view(pv),
      };
      held.open();
      return result;
    });
    expect(first).toMatchObject({
      phase: 'superseded',
      note: expect.stringContaining(HEAD2.slice(0, 7)),
      verdict: { outcome: 'superseded', reason: 'superseded' },
    });
    expect(second).toMatchObject({ phase: 'succeeded', overlayCommit: OVERLAY2 });
    expect(final.outcomes.map((o) => [o.kind, o.commit])).toEqual([
      ['superseded', HEAD],
      ['deployed', HEAD2],
    ]);
    expect(final.current).toMatchObject({ commit: HEAD2, overlayCommit: OVERLAY2 });
    expect(final.latest).toMatchObject({ commit: HEAD2, workflowId: pv.idOf(HEAD2) });
  });

  test('continues as new after its threshold, carrying the latest push, its own commits and the outcomes', async () => {
    // The first run continues as new after one change; the next keeps going (read at each run's start).
    const pv = preview();
    let runs = 0;
    const { activities } = fakes(pv, {
      targetSettings: async ({ target }) =>
        settingsFor(pv.config, target, { continueAsNewAfter: ++runs === 1 ? 1 : 100 }),
    });
    const final = await withPreview(pv, activities, async () => {
      const handle = environmentOf(pv);
      await request(pv, HEAD);
      const firstRun = (await handle.describe()).runId;
      expect(await resultOf(pv, HEAD)).toMatchObject({ phase: 'succeeded' });
      const carried = await until('the next run with what the first one knew', async () => {
        const d = await handle.describe();
        if (d.runId === firstRun) return undefined;
        const current = await view(pv);
        return current.current ? current : undefined;
      });
      // Its own overlay commit is still recognised by the new run.
      await request(pv, OVERLAY, HEAD);
      const v = await untilView(pv, 'its own push ignored', (x) => x.outcomes.some((o) => o.kind === 'ignored'));
      return { ...v, carried };
    });
    expect(runs).toBe(2);
    expect(final.carried).toMatchObject({
      latest: { commit: HEAD },
      current: { commit: HEAD, overlayCommit: OVERLAY },
      outcomes: [expect.objectContaining({ kind: 'deployed', commit: HEAD })],
    });
    expect(final.outcomes.at(-1)).toMatchObject({ kind: 'ignored', commit: OVERLAY });
  });

  test('closing the PR while its deploy waits for Argo CD cancels that deploy (not superseded, not failed) and the preview is gone', async () => {
    const pv = preview();
    const syncing = gate();
    const held = gate();
    const { activities } = fakes(pv, {
      // Held in flight, so the time-skipping server cannot run the sync timeout out meanwhile.
      observeArgoApp: async ({ revision }) => {
        syncing.open();
        await held.opened;
        return { ...argoAt(revision), syncStatus: 'OutOfSync' };
      },
    });
    const { description, status, gone } = await withPreview(pv, activities, async () => {
      await request(pv, HEAD);
      await syncing.opened;
      prState = 'closed';
      await environmentOf(pv).signal(pullRequestClosedSignal, { by: 'github' });
      const gone = (await watched(
        clock,
        [pv.environmentId],
        clock.workflow.getHandle(pv.environmentId).result(),
      )) as EnvironmentView;
      held.open();
      return {
        gone,
        description: await deployOf(pv, HEAD).describe(),
        status: await deployOf(pv, HEAD).query(statusQuery),
      };
    });
    expect(description.status.name).toBe('CANCELLED');
    expect(status).toMatchObject({ phase: 'cancelled', note: expect.stringMatching(/pull request was closed/) });
    expect(status.verdict).toBeUndefined();
    expect(gone.outcomes.map((o) => o.kind)).toEqual(['gone']);
    expect(gone.outcomes[0]!.message).toMatch(/^#5 was closed by github: the preview is gone \(it ran pr-5-aaaaaaa\)$/);
    expect(gone.closed).toMatchObject({ by: 'github', merged: false });
    expect(gone.queue).toEqual([]);
  });

  test('a merge while its deploy still waits for CI cancels that deploy too; the preview ends closed, its own branch removed', async () => {
    const pv = preview({ branch: 'gitops-deployer/preview-{number}' });
    const { activities, calls } = fakes(pv, {
      findCiRun: async ({ commit }) => ciRun(commit, 'in_progress', null),
      removePreviewBranch: async () => ({ removed: true }),
    });
    const { description, gone } = await withPreview(pv, activities, async () => {
      await request(pv, HEAD);
      await until('the deploy to wait for CI', async () =>
        (await deployOf(pv, HEAD).query(statusQuery)).phase === 'waiting-for-ci' ? true : undefined,
      );
      prState = 'closed';
      prMerged = true;
      expect(await closePreview(env.client, pv.config, PR, { by: 'github', merged: true })).toBe(true);
      const gone = (await watched(
        clock,
        [pv.environmentId],
        clock.workflow.getHandle(pv.environmentId).result(),
      )) as EnvironmentView;
      return { gone, description: await deployOf(pv, HEAD).describe() };
    });
    expect(description.status.name).toBe('CANCELLED');
    expect(gone.closed).toMatchObject({ by: 'github', merged: true });
    expect(gone.outcomes.map((o) => o.kind)).toEqual(['gone']);
    expect(gone.outcomes[0]!.message).toMatch(
      /was merged by github: the preview is gone; gitops-deployer\/preview-5 removed$/,
    );
    expect(calls.removePreviewBranch).toEqual([{ branch: 'gitops-deployer/preview-5' }]);
    expect(calls.updateOverlay).toBeUndefined();
  });

  test('a late `closed` of a PR GitHub reports open changes nothing', async () => {
    const pv = preview();
    const { activities } = fakes(pv);
    const final = await withPreview(pv, activities, async () => {
      await request(pv, HEAD);
      expect(await resultOf(pv, HEAD)).toMatchObject({ phase: 'succeeded' });
      await environmentOf(pv).signal(pullRequestClosedSignal, { by: 'a redelivery' });
      return untilView(pv, 'the close ignored', (v) => v.outcomes.some((o) => o.kind === 'ignored'));
    });
    expect(final.closed).toBeUndefined();
    expect(final.outcomes.at(-1)).toMatchObject({
      kind: 'ignored',
      message: expect.stringMatching(/reports the pull request open/),
    });
    expect((await environmentOf(pv).describe()).status.name).toBe('RUNNING');
  });

  test('a head superseded earlier deploys again when a force-push makes it the head once more', async () => {
    const pv = preview();
    const held = gate();
    const { activities } = fakes(pv, {
      // The first CI probe of HEAD stays in flight (no time skips past its timeout) until the force-push.
      findCiRun: async ({ commit }) => {
        if (commit === HEAD && !held.isOpen) await held.opened;
        return ciRun(commit, 'completed', 'success', { id: 9, url: 'u' });
      },
    });
    const result = await withPreview(pv, activities, async () => {
      await request(pv, HEAD); // waits for CI
      await until('the deploy of HEAD to run', async () =>
        (await deployOf(pv, HEAD).describe()).status.name === 'RUNNING' ? true : undefined,
      );
      head = HEAD2;
      await request(pv, HEAD2, HEAD);
      expect(await resultOf(pv, HEAD)).toMatchObject({ phase: 'superseded' });
      expect(await resultOf(pv, HEAD2)).toMatchObject({ phase: 'succeeded' });
      head = HEAD; // force-pushed back
      held.open();
      const run = (await deployOf(pv, HEAD).describe()).runId;
      expect(await request(pv, HEAD)).toMatchObject({ workflowId: pv.idOf(HEAD), started: true });
      return nextRunResult(pv, HEAD, run);
    });
    expect(result).toMatchObject({ phase: 'succeeded', overlayCommit: OVERLAY });
  });

  test('a head deployed earlier deploys again when a force-push makes it the head once more (not its old verdict)', async () => {
    const pv = preview();
    const { activities, calls } = fakes(pv);
    const { result, final } = await withPreview(pv, activities, async () => {
      await request(pv, HEAD);
      expect(await resultOf(pv, HEAD)).toMatchObject({ phase: 'succeeded', overlayCommit: OVERLAY });
      head = HEAD2; // pushed on top of our overlay commit
      await request(pv, HEAD2, OVERLAY);
      expect(await resultOf(pv, HEAD2)).toMatchObject({ phase: 'succeeded', overlayCommit: OVERLAY2 });
      head = HEAD; // force-pushed back to HEAD, dropping HEAD2 and both overlay commits
      const run = (await deployOf(pv, HEAD).describe()).runId;
      expect(await request(pv, HEAD, OVERLAY2)).toMatchObject({ workflowId: pv.idOf(HEAD), started: true });
      const result = await nextRunResult(pv, HEAD, run);
      return { result, final: await untilView(pv, 'idle', (v) => !v.applying) };
    });
    expect(result).toMatchObject({ phase: 'succeeded', overlayCommit: OVERLAY });
    // HEAD's tag is committed again: the branch lost it with the force-push.
    expect(calls.updateOverlay!.map((c) => (c as { commit: string }).commit)).toEqual([HEAD, HEAD2, HEAD]);
    expect(final.current).toMatchObject({ commit: HEAD, tag: 'pr-5-aaaaaaa' });
    expect(final.outcomes.filter((o) => o.kind === 'deployed').map((o) => o.commit)).toEqual([HEAD, HEAD2, HEAD]);
  });
});
