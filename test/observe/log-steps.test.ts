import { reportConfig } from '../../src/activities';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { OverlayUpdate } from '../../src/contract/deploy';
import { MockActivityEnvironment } from '@temporalio/testing';
import { overlayDeps } from '../../src/activities';
import { detectSteps } from '../../src/activities/detect';
import { logStepsOutsideActivities, stepLog, withFailureLogs } from '../../src/activities/log';
import { overlaySteps } from '../../src/activities/overlay';
import { createLogger } from '../../src/observe/log';
import { createOrigin, type Origin } from '../../harness/origin';
import { localRepo } from '../support/local-repo';

// The steps' lines as the worker writes them: through the SDK's activity logger (which adds the
// activity's context) into createLogger, here into memory. Real steps run against a real git origin.

let dir: string;
let origin: Origin;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'log-steps-'));
  origin = await createOrigin({ root: dir });
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => logStepsOutsideActivities(undefined));

interface Line {
  level: string;
  msg: string;
  [field: string]: unknown;
}

function capture() {
  const chunks: string[] = [];
  const logger = createLogger({
    component: 'worker',
    format: 'json',
    level: 'DEBUG',
    secrets: [],
    stream: { write: (chunk: string) => (chunks.push(chunk), true) } as unknown as NodeJS.WritableStream,
  });
  const entries = () =>
    chunks
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Line);
  return { logger, entries };
}

const WORKFLOW = { workflowId: 'deploy-yt-summarizer-org-yt-summarizer-abc', runId: '0199-run-1' };

/** A mock activity context whose logger is the worker's, as Runtime.install({ logger }) makes it. */
function activity(activityType: string, attempt = 1) {
  const lines = capture();
  const env = new MockActivityEnvironment(
    { activityType, attempt, workflowExecution: WORKFLOW, workflowType: 'deploy' },
    { logger: lines.logger },
  );
  // Typed: MockActivityEnvironment.run() answers `unknown`.
  const run = <T>(work: () => Promise<T>) => env.run(work) as Promise<T>;
  return { env, run, entries: () => lines.entries().filter((e) => e.sdkComponent === 'activity') };
}

describe('inside an activity: the SDK adds the activity’s context to every step line', () => {
  test('update-overlay: fetched, committed, pushed; run again: already committed', async () => {
    const { config, repo } = localRepo(origin, dir);
    const steps = withFailureLogs(overlaySteps(overlayDeps(config, repo)));
    const commit = await origin.commit({ 'services/api/main.py': 'print("logged")\n' }, 'feat(api): logged');
    const change = {
      kind: 'deploy' as const,
      tag: `sha-${commit.slice(0, 7)}`,
      workflowId: WORKFLOW.workflowId,
      commit,
    };

    const first = activity('updateOverlay', 1);
    const result: OverlayUpdate = await first.run(() => steps.updateOverlay(change));
    const lines = first.entries();
    expect(lines.map((e) => e.msg)).toEqual([
      `cloned ${origin.url} into ${repo.dir}`,
      `fetched main to ${commit.slice(0, 7)}`,
      `committed ${result.overlayCommit!.slice(0, 7)}: deploy: production to ${change.tag} [skip ci]`,
      `pushed ${result.overlayCommit!.slice(0, 7)} to main`,
    ]);
    for (const line of lines) {
      expect(line).toMatchObject({
        level: 'info',
        component: 'worker',
        workflowId: WORKFLOW.workflowId,
        runId: WORKFLOW.runId,
        activityType: 'updateOverlay',
        attempt: 1,
      });
    }
    expect(lines[3]).toMatchObject({ pushed: result.overlayCommit, branch: 'main' });

    // A retry after a crash between push and completion: the step finds its own commit.
    const retry = activity('updateOverlay', 2);
    expect(await retry.run(() => steps.updateOverlay(change))).toEqual(result);
    expect(retry.entries().map((e) => [e.msg, e.attempt])).toEqual([
      [`fetched main to ${result.overlayCommit!.slice(0, 7)}`, 2],
      [
        `already committed ${result.overlayCommit!.slice(0, 7)} on main: an earlier attempt pushed it (its Deploy-Workflow-Id trailer)`,
        2,
      ],
    ]);
  });

  test('detect: the commits compared, the files classified, the verdict', async () => {
    const { config, repo } = localRepo(origin, dir);
    const before = await origin.head();
    const commit = await origin.commit(
      { 'services/api/a.py': 'a\n', 'k8s/base/x.yaml': 'kind: X\n', 'docs/a.md': '# a\n' },
      'mixed change',
    );
    const { detect } = detectSteps({
      repo,
      rules: config.changeRules,
      images: config.images,
      repositoryUrl: 'https://github.com/o/r',
      searchAttributes: false,
      ci: { timeoutMs: 1, pollInitialMs: 1, pollMaxMs: 1, rerunWindowMs: 0 },
      reannounceMs: 1,
      production: { syncTimeoutMs: 1 },
      report: reportConfig(config),
    });
    const { run, entries } = activity('detect');
    await run(() => detect({ target: { kind: 'production', name: 'production' }, commit, before }));
    const [line] = entries().filter((e) => e.msg.startsWith('push to production'));
    expect(line).toMatchObject({
      msg: `push to production: compared ${before.slice(0, 7)}..${commit.slice(0, 7)}, 3 files changed (ignored 1, code 1, k8s 1): code, code changed: services/api/a.py`,
      from: before,
      to: commit,
      changedFiles: 3,
      files: { ignored: 1, code: 1, k8s: 1 },
      path: 'code',
      activityType: 'detect',
      workflowId: WORKFLOW.workflowId,
    });
  });
});

describe('failed attempts say how Temporal handles them', () => {
  const failing = (err: unknown) => withFailureLogs({ findCiRun: async () => Promise.reject(err) });

  test.each([
    [
      'a plain error: retryable with backoff, warn',
      new Error('cannot reach GitHub at api.github.com (ECONNREFUSED)'),
      'warn',
      'findCiRun failed, retryable with backoff (Error): cannot reach GitHub at api.github.com (ECONNREFUSED)',
      { classification: 'retry', failureType: 'Error' },
    ],
    [
      'a wait the server named: retryable at that time, warn',
      ApplicationFailure.create({ message: 'GitHub rate limit', type: 'RateLimited', nextRetryDelay: 90_000 }),
      'warn',
      'findCiRun failed, retryable in 1 min 30 s as the server asked (RateLimited): GitHub rate limit',
      { classification: 'wait', failureType: 'RateLimited', retryIn: '1 min 30 s' },
    ],
    [
      'a permanent failure: not retryable, error',
      ApplicationFailure.nonRetryable('image not found: acr/api:sha-abc1234', 'ImageNotFound'),
      'error',
      'findCiRun failed, not retryable (ImageNotFound): image not found: acr/api:sha-abc1234',
      { classification: 'permanent', failureType: 'ImageNotFound' },
    ],
  ])('%s', async (_, err, level, msg, fields) => {
    const { env, entries } = activity('findCiRun', 3);
    await expect(env.run(failing(err).findCiRun)).rejects.toBe(err);
    expect(entries()).toEqual([
      expect.objectContaining({ level, msg, ...fields, activityType: 'findCiRun', attempt: 3 }),
    ]);
  });

  test('a cancellation is not a failure', async () => {
    const err = new CancelledFailure('cancelled');
    const { env, entries } = activity('findCiRun');
    await expect(env.run(failing(err).findCiRun)).rejects.toBe(err);
    expect(entries()).toEqual([expect.objectContaining({ level: 'info', msg: 'findCiRun cancelled' })]);
  });
});

describe('outside an activity (unit tests, deployctl doctor)', () => {
  const failing = (err: unknown) => withFailureLogs({ step: async () => Promise.reject(err) }).step;

  test('by default warnings and errors reach the console, info does not; a failure is the caller’s to report', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      stepLog.info('fetched main to 3f2a1b4');
      stepLog.warn('git cache /c is in use by process 7 too', { cacheDir: '/c' });
      stepLog.error('something a person must fix');
      const err = new Error('offline');
      await expect(failing(err)()).rejects.toBe(err);
      expect(warn.mock.calls).toEqual([['git cache /c is in use by process 7 too']]);
      expect(error.mock.calls).toEqual([['something a person must fix']]);
    } finally {
      warn.mockRestore();
      error.mockRestore();
    }
  });

  test('a logger given takes every level, without an activity’s context', async () => {
    const lines = capture();
    logStepsOutsideActivities(lines.logger);
    stepLog.info('validated 1 image', { tag: 'sha-abc1234' });
    stepLog.warn('careful');
    const err = new Error('offline');
    await expect(failing(err)()).rejects.toBe(err);
    expect(lines.entries()).toEqual([
      expect.objectContaining({ level: 'info', msg: 'validated 1 image', tag: 'sha-abc1234' }),
      expect.objectContaining({ level: 'warn', msg: 'careful' }),
    ]);
    expect(lines.entries()[0]).not.toHaveProperty('workflowId');
  });
});
