import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Activities } from '../../src/activities';
import { startDeploy } from '../../src/client/deploys';
import { productionTarget, rollbackEnvironment } from '../../src/client/environment';
import type { ProductionTarget } from '../../src/contract/environment';
import type { DeployStatus } from '../../src/contract/deploy';
import { reportWorkflowId } from '../../src/contract/ids';
import type { ReportResult } from '../../src/contract/report';
import { workflowTestConfig } from '../support/workflow-config';
import {
  argoAt,
  ciRun,
  endTracked,
  gate,
  planFor,
  recorded,
  runWorker,
  scenario,
  settingsFor,
  timeSkipping,
  track,
  unused,
  until,
  watched,
  type Scenario,
} from './fakes';

/**
 * Reporting on the time-skipping server, the steps replaced by fakes: which reporter steps a deploy
 * causes, in which order, and that neither GitHub nor a sink can hold up or fail the deploy. The
 * steps themselves (against the GitHub stand-in and a webhook receiver) are tested in
 * test/activities; the whole path end to end in test/e2e/report.test.ts.
 */
const COMMIT = 'e43f28a9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6';
const OVERLAY_COMMIT = 'f'.repeat(40);
const UI = 'https://temporal.example.test';
const APP_URL = 'https://app.example.test';

let env: TestWorkflowEnvironment;
beforeEach(async () => {
  env = await timeSkipping();
});
afterEach(async () => {
  await endTracked(env.client);
  await env.teardown();
});

let counter = 0;
function production(extra: Record<string, unknown> = {}): Scenario {
  const n = ++counter;
  const config = workflowTestConfig(`rep${n}`, `report-${n}`, {
    environment: { githubDeployments: true, url: APP_URL },
    temporal: { uiUrl: UI },
    notifications: [{ name: 'chat', format: 'slack' }],
    ...extra,
  });
  return scenario(config, `o/rep${n}`, productionTarget(config));
}

function fakes(p: Scenario, over: Partial<Activities> = {}) {
  return recorded({
    targetSettings: async ({ target }) => settingsFor(p.config, target),
    detect: async () => planFor(p.config, 'code'),
    findCiRun: async () => ciRun(COMMIT, 'completed', 'success'),
    readRunningTag: unused('a code deploy'),
    validateImages: async ({ tag }) => [{ name: 'api', reference: `acr.test/api:${tag}`, digest: 'sha256:aa' }],
    updateOverlay: async () => ({ outcome: 'committed', overlayCommit: OVERLAY_COMMIT, revision: OVERLAY_COMMIT }),
    observeArgoApp: async () => argoAt(OVERLAY_COMMIT),
    listTargets: async () => [],
    orderCommits: async ({ commits }) => commits,
    readPullRequest: unused('production'),
    listPullCommits: unused('production'),
    findImages: unused('production'),
    removePreviewBranch: unused('production'),
    openDeployment: async () => ({ deploymentId: 42, created: true }),
    setDeploymentStatus: async () => undefined,
    retireDeployment: async () => ({}),
    upsertPreviewComment: unused('production'),
    deliverNotification: async () => ({ status: 200 }),
    ...over,
  });
}

/** Asks for the deploy of COMMIT and returns its id and run once it ended (or how it failed). */
async function deployOnce(
  p: Scenario,
  commit = COMMIT,
): Promise<{ workflowId: string; runId: string; result: unknown }> {
  const started = await watched(env.client, [p.environmentId], startDeploy(env.client, p.config, { commit }));
  const handle = env.client.workflow.getHandle(started.workflowId!);
  const result = await watched(env.client, [p.environmentId, handle.workflowId], handle.result()).catch(
    (err: unknown) => err,
  );
  const { runId } = await handle.describe();
  return { workflowId: handle.workflowId, runId, result };
}

/** The deploy's reporter, tracked so a test that leaves it running ends it. */
function reporterOf(deploy: { workflowId: string; runId: string }) {
  return env.client.workflow.getHandle(track(reportWorkflowId(deploy.workflowId, deploy.runId)));
}

describe('reporting a deploy (time-skipping server, fake steps)', () => {
  test('a production deploy: its Deployment queued, in progress, then successful with the links; one notification', async () => {
    const p = production();
    const { activities, calls } = fakes(p);
    await runWorker(env.nativeConnection, p.config.temporal.taskQueue, activities, async () => {
      const deploy = await deployOnce(p);
      expect((deploy.result as DeployStatus).phase).toBe('succeeded');
      const report = (await reporterOf(deploy).result()) as ReportResult;
      expect(report).toEqual({
        deploymentId: 42,
        statuses: ['queued', 'in_progress', 'success'],
        delivered: ['chat:succeeded'],
        notes: [],
      });
      const logUrl = `${UI}/namespaces/default/workflows/${deploy.workflowId}/${deploy.runId}/history`;
      expect(calls.openDeployment).toEqual([
        expect.objectContaining({
          commit: COMMIT,
          environment: p.config.environment.name,
          workflowId: deploy.workflowId,
          tag: 'sha-e43f28a',
          kind: 'deploy',
          state: 'queued',
          transient: false,
          production: true,
          logUrl,
        }),
      ]);
      expect(calls.setDeploymentStatus).toEqual([
        expect.objectContaining({ deploymentId: 42, state: 'in_progress', logUrl }),
        {
          deploymentId: 42,
          state: 'success',
          description: 'sha-e43f28a is synced and healthy',
          logUrl,
          environmentUrl: APP_URL,
        },
      ]);
      expect(calls.deliverNotification).toEqual([
        {
          sink: 'chat',
          id: `${reportWorkflowId(deploy.workflowId, deploy.runId)}/succeeded`,
          event: expect.objectContaining({
            outcome: 'succeeded',
            repository: p.repository,
            commit: COMMIT,
            tag: 'sha-e43f28a',
            links: expect.objectContaining({ workflow: logUrl, environment: APP_URL }),
          }),
        },
      ]);
    });
  });

  test('a sink that never answers holds up nothing: the deploy has closed while its reporter still delivers', async () => {
    const p = production();
    const never = gate();
    const { activities } = fakes(p, {
      deliverNotification: async () => {
        await never.opened;
        return { status: 200 };
      },
    });
    await runWorker(env.nativeConnection, p.config.temporal.taskQueue, activities, async () => {
      const deploy = await deployOnce(p);
      expect((deploy.result as DeployStatus).phase).toBe('succeeded');
      const reporter = reporterOf(deploy);
      // GitHub has its final status; only the delivery is outstanding.
      await until('the success status', async () => {
        const report = await reporter.query<ReportResult>('report');
        return report.statuses.includes('success') ? report : undefined;
      });
      expect((await reporter.describe()).status.name).toBe('RUNNING');
      never.open();
      expect(await reporter.result()).toMatchObject({ delivered: ['chat:succeeded'], notes: [] });
    });
  });

  test('GitHub refusing every write is a note of the reporter, never a failure of the deploy', async () => {
    const p = production();
    const refuse = async (): Promise<never> => {
      throw ApplicationFailure.nonRetryable('GitHub refused: the token needs deployments: write', 'Forbidden');
    };
    const { activities, calls } = fakes(p, { openDeployment: refuse });
    await runWorker(env.nativeConnection, p.config.temporal.taskQueue, activities, async () => {
      const deploy = await deployOnce(p);
      expect((deploy.result as DeployStatus).phase).toBe('succeeded');
      const report = (await reporterOf(deploy).result()) as ReportResult;
      expect(report.deploymentId).toBeUndefined();
      expect(report.delivered).toEqual(['chat:succeeded']);
      // Each status tries to open the Deployment again: GitHub may have come back.
      expect(calls.openDeployment!.length).toBe(3);
      expect(report.notes).toEqual(
        Array(3).fill(
          'the GitHub Deployment could not be reported: GitHub refused: the token needs deployments: write',
        ),
      );
    });
  });

  test('a failed CI run: the Deployment fails with the reason, and the failure is notified', async () => {
    const p = production();
    const { activities, calls } = fakes(p, { findCiRun: async () => ciRun(COMMIT, 'completed', 'failure') });
    await runWorker(env.nativeConnection, p.config.temporal.taskQueue, activities, async () => {
      const deploy = await deployOnce(p);
      expect(deploy.result).toBeInstanceOf(WorkflowFailedError);
      const report = (await reporterOf(deploy).result()) as ReportResult;
      expect(report).toMatchObject({ statuses: ['queued', 'failure'], delivered: ['chat:failed'] });
      const failure = calls.setDeploymentStatus!.at(-1) as { state: string; description: string };
      expect(failure.state).toBe('failure');
      expect(failure.description).toMatch(/CI/);
      expect(failure.description.length).toBeLessThanOrEqual(140);
      expect(calls.openDeployment![0]).toMatchObject({
        state: 'queued',
        description: expect.stringMatching(/^deploy sha-e43f28a/),
      });
    });
  });

  test('reporting off (the default): no reporter, no marker in the history, no reporter step', async () => {
    const n = ++counter;
    const config = workflowTestConfig(`rep${n}`, `report-${n}`);
    const p = scenario(config, `o/rep${n}`, productionTarget(config));
    const off = unused('a target that reports nothing');
    const { activities, calls } = fakes(p, {
      openDeployment: off,
      setDeploymentStatus: off,
      retireDeployment: off,
      deliverNotification: off,
    });
    await runWorker(env.nativeConnection, config.temporal.taskQueue, activities, async () => {
      const deploy = await deployOnce(p);
      expect((deploy.result as DeployStatus).phase).toBe('succeeded');
      const history = await env.client.workflow.getHandle(deploy.workflowId).fetchHistory();
      const kinds = (history.events ?? []).map((e) => e.eventType);
      // Neither a child (the reporter) nor a marker (its patch): the history is what it was before reporting.
      expect(JSON.stringify(kinds)).not.toMatch(/CHILD_WORKFLOW|MARKER/);
      expect(Object.keys(calls).filter((name) => /Deployment|Notification|Comment/.test(name))).toEqual([]);
    });
  });

  test('a newer deploy retires the Deployment it replaced; a rollback gets its own, for the commit it goes back to, and retires that', async () => {
    const p = production();
    const NEWER = 'a'.repeat(40);
    const PREVIOUS = '1'.repeat(40);
    const history: ProductionTarget[] = [
      {
        tag: 'sha-aaaaaaa',
        overlayCommit: 'b'.repeat(40),
        date: '2026-01-02T00:00:00Z',
        by: 'ci',
        subject: 'deploy',
        deployedCommit: NEWER,
        kind: 'deploy',
        imagesExist: true,
      },
      {
        tag: 'sha-1111111',
        overlayCommit: 'c'.repeat(40),
        date: '2026-01-01T00:00:00Z',
        by: 'ci',
        subject: 'deploy',
        deployedCommit: PREVIOUS,
        kind: 'deploy',
        imagesExist: true,
      },
    ];
    const { activities, calls } = fakes(p, {
      findCiRun: async ({ commit }) => ciRun(commit, 'completed', 'success'),
      listTargets: async () => history,
    });
    await runWorker(env.nativeConnection, p.config.temporal.taskQueue, activities, async () => {
      const first = await deployOnce(p);
      await reporterOf(first).result();
      const second = await deployOnce(p, NEWER);
      expect(await reporterOf(second).result()).toMatchObject({ statuses: ['queued', 'in_progress', 'success'] });
      expect(calls.retireDeployment).toEqual([
        expect.objectContaining({
          commit: COMMIT,
          workflowId: first.workflowId,
          environment: p.config.environment.name,
        }),
      ]);

      const outcome = await rollbackEnvironment(
        env.client,
        p.config,
        { to: 'previous', reason: 'errors after sha-aaaaaaa', requestedBy: 'alice' },
        { wait: true },
      );
      expect(outcome).toMatchObject({ kind: 'rolled-back', tag: 'sha-1111111' });
      const { runId } = await env.client.workflow.getHandle(p.environmentId).describe();
      const rollbackId = `${p.environmentId}/rollback-1`;
      const report = (await reporterOf({ workflowId: rollbackId, runId }).result()) as ReportResult;
      expect(report).toMatchObject({
        statuses: ['in_progress', 'success'],
        delivered: ['chat:rolled-back'],
        notes: [],
      });
      expect(calls.openDeployment!.at(-1)).toMatchObject({
        commit: PREVIOUS,
        workflowId: rollbackId,
        kind: 'rollback',
        tag: 'sha-1111111',
        description: 'rollback to sha-1111111 by alice: errors after sha-aaaaaaa',
        logUrl: `${UI}/namespaces/default/workflows/${encodeURIComponent(p.environmentId)}/${runId}/history`,
      });
      expect(calls.retireDeployment!.at(-1)).toMatchObject({ commit: NEWER, workflowId: second.workflowId });
    });
  });
});
