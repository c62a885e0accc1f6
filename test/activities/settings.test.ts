import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../src/activities';
import { parseConfig } from '../../src/config/load';
import { createDeps } from '../../src/worker/deps';

/** The target-settings step as the worker wires it (createDeps): read from the configuration only, no I/O. */
const base = {
  repository: { owner: 'o', name: 'r' },
  ci: { workflow: 'ci.yml' },
  registry: { endpoint: 'https://acr.example.io' },
  images: [{ name: 'api', repository: 'api' }],
  argocd: { server: 'https://argocd.example.com', application: 'app-prod', syncTimeout: '20m' },
  environment: { autoRollback: true, continueAsNewAfter: 50 },
  temporal: { taskQueue: 'deploys', searchAttributes: false },
};
const settingsFor = (config: Record<string, unknown>) =>
  createActivities(createDeps(parseConfig(config), {})).targetSettings;

async function failure(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe('target-settings', () => {
  // Reporting is off by default: no Deployments, no comment, no sinks.
  const common = {
    continueAsNewAfter: 50,
    searchAttributes: false,
    taskQueue: 'deploys',
    report: { notify: [], repositoryUrl: 'https://github.com/o/r' },
  };

  test("production: argocd's application and sync timeout, the environment's auto-rollback, on main", async () => {
    const targetSettings = settingsFor({ ...base, preview: { application: 'app-pr-{number}' } });
    expect(await targetSettings({ target: { kind: 'production', name: 'production' } })).toEqual({
      application: 'app-prod',
      trackedBranch: null,
      previewBranch: null,
      syncTimeoutMs: 1_200_000,
      autoRollback: true,
      ...common,
    });
  });

  test("a preview on the PR's own branch: its application, argocd's sync timeout, never an auto-rollback", async () => {
    const targetSettings = settingsFor({ ...base, preview: { application: 'app-pr-{number}' } });
    expect(await targetSettings({ target: { kind: 'preview', pr: 7 } })).toEqual({
      application: 'app-pr-7',
      trackedBranch: null,
      previewBranch: null,
      syncTimeoutMs: 1_200_000,
      autoRollback: false,
      ...common,
    });
  });

  test("a preview on the deployer's own branch (preview.branch): tracked there, with preview.syncTimeout", async () => {
    const targetSettings = settingsFor({
      ...base,
      preview: { application: 'app-pr-{number}', branch: 'gitops-deployer/preview-{number}', syncTimeout: '5m' },
    });
    expect(await targetSettings({ target: { kind: 'preview', pr: 12 } })).toEqual({
      application: 'app-pr-12',
      trackedBranch: 'gitops-deployer/preview-12',
      previewBranch: 'gitops-deployer/preview-12',
      syncTimeoutMs: 300_000,
      autoRollback: false,
      ...common,
    });
  });

  test('reporting on: production and each preview get their GitHub environment, URL, comment and sinks', async () => {
    const targetSettings = settingsFor({
      ...base,
      environment: { ...base.environment, githubDeployments: true, url: 'https://app.example.com' },
      preview: {
        application: 'app-pr-{number}',
        githubDeployments: true,
        comment: true,
        url: 'https://pr-{number}.preview.example.com',
      },
      temporal: { ...base.temporal, uiUrl: 'https://temporal.example.com' },
      notifications: [
        { name: 'chat', format: 'slack' },
        { name: 'audit', format: 'cloudevents', environments: ['production'], on: ['succeeded', 'superseded'] },
      ],
    });
    const ui = { url: 'https://temporal.example.com', namespace: 'default' };
    expect((await targetSettings({ target: { kind: 'production', name: 'production' } })).report).toEqual({
      repositoryUrl: 'https://github.com/o/r',
      ui,
      deployments: { environment: 'production', url: 'https://app.example.com', transient: false, production: true },
      notify: [
        { sink: 'chat', on: ['succeeded', 'failed', 'rolled-back', 'held'] },
        { sink: 'audit', on: ['succeeded', 'superseded'] },
      ],
    });
    expect((await targetSettings({ target: { kind: 'preview', pr: 12 } })).report).toEqual({
      repositoryUrl: 'https://github.com/o/r',
      ui,
      deployments: {
        environment: 'pr-12',
        url: 'https://pr-12.preview.example.com',
        transient: true,
        production: false,
      },
      comment: { pr: 12, url: 'https://pr-12.preview.example.com' },
      notify: [{ sink: 'chat', on: ['succeeded', 'failed', 'rolled-back', 'held'] }],
    });
  });

  test('previews not configured: a preview is refused for good; production is not affected', async () => {
    const targetSettings = settingsFor(base);
    const err = await failure(targetSettings({ target: { kind: 'preview', pr: 7 } }));
    expect(err).toMatchObject({ type: 'PreviewNotConfigured', nonRetryable: true });
    expect(err.message).toMatch(/^previews are not configured: add a preview section/);
    expect((await targetSettings({ target: { kind: 'production', name: 'production' } })).application).toBe('app-prod');
  });

  test('bad input is a permanent BadInput', async () => {
    const targetSettings = settingsFor(base);
    const bad = async (raw: unknown) => failure(targetSettings(raw as never));
    expect(await bad({ target: { kind: 'preview', pr: 0 } })).toMatchObject({
      type: 'BadInput',
      nonRetryable: true,
      message: 'target-settings: bad input: target.pr: must be more than 0',
    });
    expect((await bad({ target: { kind: 'staging' } })).type).toBe('BadInput');
    expect((await bad({})).message).toBe('target-settings: bad input: target: required');
  });
});
