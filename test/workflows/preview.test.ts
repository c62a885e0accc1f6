import type { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { Activities } from '../../src/activities';
import type { PullRequestInfo } from '../../src/activities/pulls';
import type { PreviewPlan, PreviewSettings } from '../../src/activities/preview';
import { requestPreview } from '../../src/client/previews';
import { workflowTestConfig } from '../support/workflow-config';
import type { ArgoObservation } from '../../src/plan/argocd';
import type { OverlayChange } from '../../src/activities/overlay';
import {
  previewDeployWorkflowId,
  previewEnvironmentWorkflowId,
  previewRequestedSignal,
  previewStatusQuery,
  pullRequestClosedSignal,
  type PreviewView,
} from '../../src/workflows/preview-definitions';
import type { DeployStatus, OverlayUpdate } from '../../src/workflows/types';
import { timeSkippingServerPath } from '../support/temporal';

/** The PR's preview workflow on the time-skipping server, with the steps replaced: the races E2E cannot stage. */
const MIN = 60_000;
const [HEAD, HEAD2, OVERLAY, OVERLAY2] = ['a', 'b', 'c', 'd'].map((c) => c.repeat(40)) as [
  string,
  string,
  string,
  string,
];
const overlayOf: Record<string, string> = { [HEAD]: OVERLAY, [HEAD2]: OVERLAY2 };

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: timeSkippingServerPath() } },
  });
});
afterAll(() => env?.teardown());

const pull = (headSha: string): PullRequestInfo => ({
  number: 5,
  state: prState,
  merged: false,
  headSha,
  headRef: 'feature/x',
  baseRef: 'main',
  fork: false,
  headRepository: 'o/r',
  headIsMain: false,
  url: 'https://github.test/o/r/pull/5',
});
const plan = (): PreviewPlan => ({
  path: 'code',
  reason: 'pull request #5: code changed',
  images: ['api'],
  sameCode: [HEAD],
  headRef: 'feature/x',
  changedFiles: 1,
  repositoryUrl: 'https://github.test/o/r',
  searchAttributes: false,
  ciTimeoutMs: 60 * MIN,
  ciPollInitialMs: 15_000,
  ciPollMaxMs: 2 * MIN,
  syncTimeoutMs: 15 * MIN,
});
const healthy = (revision: string): ArgoObservation => ({
  syncStatus: 'Synced',
  syncRevision: revision,
  revisionContainsTarget: true,
  healthStatus: 'Healthy',
  operationPhase: 'Succeeded',
  operationFinishedAt: '2026-01-01T00:00:00Z',
  reconciledAt: '2026-01-01T00:00:01Z',
});
const unused = async (): Promise<never> => {
  throw new Error('not a preview step');
};

/** The PR's head and state as GitHub reports them, changed by the test as pushes happen. */
let head = HEAD;
let prState: 'open' | 'closed' = 'open';
function fakes(over: Partial<Activities> = {}, settings: Partial<PreviewSettings> = {}): Activities {
  return {
    readPullRequest: async () => pull(head),
    listPullCommits: async () => [{ sha: head, overlay: false }],
    detectPreview: async ({ commit }) => ({ ...plan(), sameCode: [commit] }),
    findPreviewImages: async () => null,
    previewSettings: async () => ({
      application: 'app-pr-5',
      branch: null,
      syncTimeoutMs: 15 * MIN,
      searchAttributes: false,
      continueAsNewAfter: 100,
      ...settings,
    }),
    findCiRun: async ({ commit }) => ({
      id: 9,
      status: 'completed',
      conclusion: 'success',
      url: 'https://github.test/run/9',
      headSha: commit,
    }),
    validateImages: async ({ tag }) => [{ name: 'api', reference: `acr.test/api:${tag}`, digest: 'sha256:aa' }],
    updateOverlay: async (change: OverlayChange): Promise<OverlayUpdate> => {
      const commit = overlayOf[(change as { commit: string }).commit]!;
      head = commit;
      return { outcome: 'committed', overlayCommit: commit, revision: commit };
    },
    observeArgoApp: async ({ revision }) => healthy(revision),
    readRunningTag: async () => ({ tag: 'sha-1111111' }),
    removePreviewBranch: async () => ({ removed: false }),
    detectChanges: unused,
    environmentSettings: unused,
    listTargets: unused,
    orderCommits: unused,
    ...over,
  };
}

let counter = 0;
async function withPreview<T>(
  activities: Activities,
  work: (ctx: {
    client: Client;
    repository: string;
    request: (commit?: string, before?: string) => Promise<void>;
  }) => Promise<T>,
): Promise<T> {
  const taskQueue = `preview-${++counter}`;
  const config = workflowTestConfig(`r${counter}`, taskQueue, { preview: { application: 'app-pr-{number}' } });
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowsPath: require.resolve('../../src/workflows'),
    activities,
  });
  const request = async (commit?: string, before?: string) =>
    void (await requestPreview(env.client, config, 5, { commit, before, requestedBy: 'test' }));
  return worker.runUntil(work({ client: env.client, repository: `o/r${counter}`, request }));
}

const view = (client: Client, repository: string) =>
  client.workflow
    .getHandle(previewEnvironmentWorkflowId(repository, 5))
    .query(previewStatusQuery) as Promise<PreviewView>;
const deployOf = (client: Client, repository: string, commit: string) =>
  client.workflow.getHandle(previewDeployWorkflowId(repository, 5, commit));
/** The preview's workflow starts the deploy a moment after the request: wait for it, then for its result. */
async function resultOf(client: Client, repository: string, commit: string): Promise<DeployStatus> {
  await until(() => deployOf(client, repository, commit).describe());
  return (await deployOf(client, repository, commit).result()) as DeployStatus;
}

/** A promise the test opens: a fake step waits on it while the test arranges the next event. */
function gate(): { opened: Promise<void>; open(): void; readonly isOpen: boolean } {
  let open!: () => void;
  let isOpen = false;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return {
    opened,
    open: () => ((isOpen = true), open()),
    get isOpen() {
      return isOpen;
    },
  };
}

async function until<T>(probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('condition never held');
}

beforeEach(() => {
  head = HEAD;
  prState = 'open';
});

describe('previewEnvironment workflow', () => {
  test('the synchronize of its own overlay push, arriving before the commit step returned, starts nothing', async () => {
    let signalled!: Promise<void>;
    const activities = fakes({
      updateOverlay: async () => {
        head = OVERLAY; // pushed: GitHub sends synchronize(before=HEAD, after=OVERLAY) at once...
        signalled = env.client.workflow
          .getHandle(previewEnvironmentWorkflowId(repository, 5))
          .signal(previewRequestedSignal, { commit: OVERLAY, before: HEAD, requestedBy: 'github' });
        await signalled;
        await new Promise((r) => setTimeout(r, 300)); // ...and it reaches the workflow before this step returns
        return { outcome: 'committed', overlayCommit: OVERLAY, revision: OVERLAY };
      },
    });
    let repository = '';
    const final = await withPreview(activities, async (ctx) => {
      repository = ctx.repository;
      await ctx.request(HEAD);
      expect(await resultOf(ctx.client, repository, HEAD)).toMatchObject({
        phase: 'succeeded',
        pr: 5,
        rule: 'ci',
        overlayCommit: OVERLAY,
      });
      return until(async () => {
        const v = await view(ctx.client, repository);
        return v.outcomes.some((o) => o.kind === 'ignored') ? v : undefined;
      });
    });
    // Its own push is recognised as soon as the commit step returns, before Argo CD confirms the deploy.
    expect(final.outcomes.map((o) => [o.kind, o.commit])).toEqual([
      ['ignored', OVERLAY],
      ['deployed', HEAD],
    ]);
    expect(final.latest?.commit).toBe(HEAD);
    await expect(deployOf(env.client, repository, OVERLAY).describe()).rejects.toThrow(/not found/i);
  });

  test('a push while the older head waits for Argo CD stops that wait; the newer head deploys', async () => {
    const held = gate();
    const syncing = gate();
    const activities = fakes({
      // The first overlay commit never gets healthy while the test holds it.
      observeArgoApp: async ({ revision }) => {
        if (revision !== OVERLAY) return healthy(revision);
        syncing.open();
        await held.opened;
        return { ...healthy(revision), syncStatus: 'OutOfSync' };
      },
    });
    const { first, second, final } = await withPreview(activities, async (ctx) => {
      await ctx.request(HEAD);
      await syncing.opened;
      head = HEAD2; // the author pushed on top of the overlay commit
      await ctx.request(HEAD2, OVERLAY);
      const result = {
        first: await resultOf(ctx.client, ctx.repository, HEAD),
        second: await resultOf(ctx.client, ctx.repository, HEAD2),
        final: await view(ctx.client, ctx.repository),
      };
      held.open();
      return result;
    });
    expect(first).toMatchObject({ phase: 'superseded', note: expect.stringContaining(HEAD2.slice(0, 7)) });
    expect(second).toMatchObject({ phase: 'succeeded', overlayCommit: OVERLAY2 });
    expect(final.outcomes.map((o) => [o.kind, o.commit])).toEqual([
      ['superseded', HEAD],
      ['deployed', HEAD2],
    ]);
    expect(final.preview).toMatchObject({ commit: HEAD2, overlayCommit: OVERLAY2 });
  });

  test('continues as new after its threshold, carrying the latest push, its own commits and the outcomes', async () => {
    // The first run continues as new after one request; the next keeps going (read at each run's start).
    let runs = 0;
    const settings = fakes().previewSettings;
    const activities = fakes({
      previewSettings: async (raw) => ({ ...(await settings(raw)), continueAsNewAfter: ++runs === 1 ? 1 : 100 }),
    });
    const final = await withPreview(activities, async (ctx) => {
      const handle = ctx.client.workflow.getHandle(previewEnvironmentWorkflowId(ctx.repository, 5));
      await ctx.request(HEAD);
      const firstRun = (await handle.describe()).runId;
      expect(await resultOf(ctx.client, ctx.repository, HEAD)).toMatchObject({ phase: 'succeeded' });
      const v = await until(async () => {
        const d = await handle.describe();
        if (d.runId === firstRun) return undefined;
        const current = await view(ctx.client, ctx.repository);
        return current.preview ? current : undefined;
      });
      // Its own overlay commit is still recognised by the new run.
      await ctx.request(OVERLAY, HEAD);
      return until(async () => {
        const current = await view(ctx.client, ctx.repository);
        return current.outcomes.some((o) => o.kind === 'ignored') ? { ...current, carried: v } : undefined;
      });
    });
    expect(final.carried).toMatchObject({
      latest: { commit: HEAD },
      preview: { commit: HEAD, overlayCommit: OVERLAY },
    });
    expect(final.outcomes.at(-1)).toMatchObject({ kind: 'ignored', commit: OVERLAY });
  });

  test('closing the PR while its deploy waits for Argo CD cancels that deploy (not superseded) and the preview is gone', async () => {
    const syncing = gate();
    const held = gate();
    const activities = fakes({
      // Held in flight, so the time-skipping server cannot run the sync timeout out meanwhile.
      observeArgoApp: async ({ revision }) => {
        syncing.open();
        await held.opened;
        return { ...healthy(revision), syncStatus: 'OutOfSync' };
      },
    });
    const { deploy, gone } = await withPreview(activities, async (ctx) => {
      await ctx.request(HEAD);
      await syncing.opened;
      prState = 'closed';
      const handle = ctx.client.workflow.getHandle(previewEnvironmentWorkflowId(ctx.repository, 5));
      await handle.signal(pullRequestClosedSignal, { by: 'github' });
      const gone = (await handle.result()) as PreviewView;
      held.open();
      return { deploy: await deployOf(ctx.client, ctx.repository, HEAD).describe(), gone };
    });
    expect(deploy.status.name).toBe('CANCELLED');
    expect(gone.outcomes.map((o) => o.kind)).toEqual(['gone']);
    expect(gone.closed).toMatchObject({ by: 'github', merged: false });
  });

  test('a late `closed` of a PR GitHub reports open changes nothing', async () => {
    const final = await withPreview(fakes(), async (ctx) => {
      await ctx.request(HEAD);
      expect(await resultOf(ctx.client, ctx.repository, HEAD)).toMatchObject({ phase: 'succeeded' });
      await ctx.client.workflow
        .getHandle(previewEnvironmentWorkflowId(ctx.repository, 5))
        .signal(pullRequestClosedSignal, { by: 'a redelivery' });
      return until(async () => {
        const v = await view(ctx.client, ctx.repository);
        return v.outcomes.some((o) => o.kind === 'ignored') ? v : undefined;
      });
    });
    expect(final.closed).toBeUndefined();
    expect(final.outcomes.at(-1)).toMatchObject({
      kind: 'ignored',
      message: expect.stringMatching(/reports the pull request open/),
    });
  });

  test('a head superseded earlier deploys again when a force-push makes it the head once more', async () => {
    const held = gate();
    const activities = fakes({
      // The first CI probe of HEAD stays in flight (no time skips past its timeout) until the force-push.
      findCiRun: async ({ commit }) => {
        if (commit === HEAD && !held.isOpen) await held.opened;
        return { id: 9, status: 'completed', conclusion: 'success', url: 'u', headSha: commit };
      },
    });
    const result = await withPreview(activities, async (ctx) => {
      await ctx.request(HEAD); // waits for CI
      await until(async () =>
        (await deployOf(ctx.client, ctx.repository, HEAD).describe()).status.name === 'RUNNING' ? true : undefined,
      );
      head = HEAD2;
      await ctx.request(HEAD2, HEAD);
      expect(await resultOf(ctx.client, ctx.repository, HEAD)).toMatchObject({ phase: 'superseded' });
      expect(await resultOf(ctx.client, ctx.repository, HEAD2)).toMatchObject({ phase: 'succeeded' });
      head = HEAD; // force-pushed back
      held.open();
      const runs = (await deployOf(ctx.client, ctx.repository, HEAD).describe()).runId;
      await ctx.request(HEAD);
      await until(async () =>
        (await deployOf(ctx.client, ctx.repository, HEAD).describe()).runId !== runs ? true : undefined,
      );
      return deployOf(ctx.client, ctx.repository, HEAD).result();
    });
    expect(result).toMatchObject({ phase: 'succeeded', overlayCommit: OVERLAY });
  });
});
