import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Activities } from '../../src/activities';
import { inspectDeploy, listQuery, startDeploy } from '../../src/client/deploys';
import { environmentHandle, resumeEnvironment, rollbackEnvironment } from '../../src/client/environment';
import { readProductionHistory } from '../../src/client/stats';
import { parseConfig } from '../../src/config/load';
import { environmentStatusQuery, type ProductionTarget } from '../../src/contract/environment';
import { deployWorkflowId } from '../../src/contract/ids';
import { DeployPhase, SEARCH_ATTRIBUTES } from '../../src/contract/search-attributes';
import { span } from '../../src/cli/span';
import { startDevServer, type DevServer } from '../../harness/temporal';
import { phaseOf } from '../support/wait';
import {
  argoAt,
  ciRun,
  deployResult,
  endWorkers,
  gate,
  planFor,
  runWorker,
  settingsFor,
  unused,
  until,
  reportingOff,
} from '../workflows/fakes';

/**
 * `deployctl stats` against a real Temporal dev server: the real deploy and environment workflows
 * on a worker in this process, their steps faked as in the workflow tests, drive seven production
 * deploys to every end the measures tell apart, and two rollbacks; then deployctl, spawned from
 * dist/ as a person runs it, is checked against what the workflows themselves report. The tests
 * run in order on one server: usage errors and the empty case, then that history, then the same
 * history once no worker runs.
 */
const BIN = resolve(__dirname, '../../dist/cli/deployctl.js');
const TASK_QUEUE = 'stats-test';
const REPOSITORY = 'o/stats';
const RAW_CONFIG = {
  repository: { owner: 'o', name: 'stats' },
  ci: { workflow: 'ci.yml' },
  registry: { endpoint: 'https://acr.test' },
  images: [{ name: 'api', repository: 'api' }],
  argocd: { server: 'https://argocd.test', application: 'app' },
  environment: { name: 'production', autoRollback: true },
  temporal: { taskQueue: TASK_QUEUE, searchAttributes: true },
};
const config = parseConfig(RAW_CONFIG);
const PRODUCTION = { kind: 'production', name: 'production' } as const;
const ENV_ID = 'env-production';

/** Commit i of a linear main is `iii…i` (i from 0 to 9): its tag sha-iiiiiii names it. */
const commitOf = (i: number) => String(i).repeat(40);
const indexOf = (commit: string) => Number(commit[0]);
const tagOf = (commit: string) => `sha-${commit.slice(0, 7)}`;
const idOf = (commit: string) => deployWorkflowId(REPOSITORY, PRODUCTION, commit);
const overlayOf = (commit: string) => `f${commit.slice(1)}`;
const [D1, DOCS, CI_FAILS, DEGRADED, D5, OLDER, NEWER] = [1, 2, 3, 4, 5, 6, 7].map(commitOf) as [
  string,
  string,
  string,
  string,
  string,
  string,
  string,
];

let server: DevServer;
let connection: Connection;
let client: Client;
let native: NativeConnection;
let dir: string;
let configPath: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  server = await startDevServer({ searchAttributes: SEARCH_ATTRIBUTES });
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection });
  native = await NativeConnection.connect({ address: server.address });
  dir = mkdtempSync(join(tmpdir(), 'stats-'));
  // YAML is a superset of JSON: the file deployctl reads is the object the worker's config came from.
  configPath = join(dir, 'deploy.config.yaml');
  writeFileSync(configPath, JSON.stringify(RAW_CONFIG));
}, 120_000);
afterEach(async () => {
  children.forEach((child) => child.kill('SIGKILL'));
  await endWorkers();
});
afterAll(async () => {
  await native?.close();
  await connection?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs deployctl as a person would: a child process with the test's config and TEMPORAL_ADDRESS. */
function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TEMPORAL_')));
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...env, TEMPORAL_ADDRESS: server.address } });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((ok) => child.once('close', (code) => (children.delete(child), ok({ code, stdout, stderr }))));
}
const stats = (...args: string[]) => cli('--config', configPath, ...args);
async function statsJson(...args: string[]) {
  const { code, stdout, stderr } = await stats('--json', 'stats', '--env', 'production', ...args);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  return JSON.parse(stdout);
}

/**
 * Steps over a linear main (commit i descends from every commit below i): DOCS changes nothing
 * deployable, CI fails for CI_FAILS, Argo CD reports DEGRADED's overlay commit Degraded. The
 * history the rollbacks read is what update-overlay committed. The automatic rollback waits for
 * `rollbackMayStart`, so the Degraded deploy has closed before its rollback ends, as in production
 * (a rollback's git and registry work takes far longer than the deploy's last workflow task).
 */
function fakes() {
  const rollbackMayStart = gate();
  const history: ProductionTarget[] = [entry('sha-0000000', '0'.repeat(40), 'manual')];
  let rollbacks = 0;
  const activities: Activities = {
    ...reportingOff(),
    targetSettings: async ({ target }) => settingsFor(config, target),
    detect: async ({ commit }) => planFor(config, commit === DOCS ? 'none' : 'code'),
    findCiRun: async ({ commit }) =>
      ciRun(commit, 'completed', commit === CI_FAILS ? 'failure' : 'success', { url: 'https://github.test/run/7' }),
    validateImages: async ({ tag }) => [{ name: 'api', reference: `acr.test/api:${tag}`, digest: 'sha256:aa' }],
    updateOverlay: async (change) => {
      if (change.kind === 'rollback') {
        const overlayCommit = `b${String(++rollbacks).padStart(39, '0')}`;
        history.unshift(entry(change.tag, overlayCommit, 'rollback'));
        return { outcome: 'committed', overlayCommit, revision: overlayCommit };
      }
      const { commit } = change as { commit: string };
      const running = history.find((t) => t.deployedCommit)?.deployedCommit ?? commitOf(0);
      if (indexOf(commit) < indexOf(running))
        return {
          outcome: 'superseded',
          overlayCommit: null,
          revision: running,
          current: { tag: tagOf(running), commit: running },
        };
      history.unshift({ ...entry(tagOf(commit), overlayOf(commit), 'deploy'), deployedCommit: commit });
      return { outcome: 'committed', overlayCommit: overlayOf(commit), revision: overlayOf(commit) };
    },
    observeArgoApp: async ({ revision }) =>
      revision === overlayOf(DEGRADED)
        ? argoAt(revision, {
            healthStatus: 'Degraded',
            healthMessage: 'Deployment "api" exceeded its progress deadline',
          })
        : argoAt(revision),
    listTargets: async ({ limit }) => {
      if (history.some((t) => t.deployedCommit === DEGRADED)) await rollbackMayStart.opened;
      return history.slice(0, limit ?? 20);
    },
    orderCommits: async ({ commits }) => [commits.reduce((a, b) => (indexOf(a) > indexOf(b) ? a : b))],
    readRunningTag: unused('a history of code changes'),
    readPullRequest: unused('production'),
    listPullCommits: unused('production'),
    findImages: unused('production'),
    removePreviewBranch: unused('production'),
  };
  return { activities, rollbackMayStart };
}

function entry(tag: string, overlayCommit: string, kind: ProductionTarget['kind']): ProductionTarget {
  return { tag, overlayCommit, date: new Date().toISOString(), by: 'test', subject: tag, kind, imagesExist: true };
}

/** The deploy's final phase, once the environment started it and it closed. */
function ended(commit: string): Promise<string> {
  return deployResult(client, ENV_ID, idOf(commit)).then(
    (status) => status.phase,
    (err: unknown) => {
      if (err instanceof WorkflowFailedError) return 'failed';
      throw err;
    },
  );
}

async function deploy(commit: string): Promise<string> {
  await startDeploy(client, config, { commit, requestedBy: 'test' });
  return ended(commit);
}

const FINAL = new Set(['succeeded', 'failed', 'superseded', 'skipped', 'cancelled']);
/** Visibility is eventually consistent: wait until it lists every closed deploy in its final phase. */
function visible(count: number): Promise<true> {
  return until(
    `visibility to list ${count} closed deploys`,
    async () => {
      let closed = 0;
      for await (const info of client.workflow.list({ query: listQuery(config, { env: 'production' }) }))
        if (info.closeTime && FINAL.has(info.typedSearchAttributes.get(DeployPhase) ?? '')) closed++;
      return closed === count ? true : undefined;
    },
    60_000,
  );
}

const seconds = (from: string | Date, to: string | Date) => (new Date(to).getTime() - new Date(from).getTime()) / 1000;
const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

describe('deployctl stats', () => {
  test.each([
    [['stats'], /required option '--env <name>'/],
    [['stats', '--env', 'staging'], /--env staging: this configuration deploys the "production" environment/],
    [['stats', '--env', 'production', '--since', '30'], /--since: 30 has no unit: add a unit, e.g. 30s/],
    [['stats', '--env', 'production', '--since', 'a month'], /--since: expected a duration like "5s"/],
  ])('%j exits 2 naming the problem', async (args, problem) => {
    const { code, stdout, stderr } = await stats(...(args as string[]));
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr).toMatch(problem);
  });

  test('without the search attributes it exits 2 saying why', async () => {
    const off = join(dir, 'no-search-attributes.yaml');
    writeFileSync(off, JSON.stringify({ ...RAW_CONFIG, temporal: { taskQueue: TASK_QUEUE, searchAttributes: false } }));
    const { code, stdout, stderr } = await cli('--config', off, 'stats', '--env', 'production');
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr).toMatch(
      /stats reads the Deploy\* search attributes, which temporal.searchAttributes: false turns off/,
    );
  });

  test('no deploys yet: says so, and --json has zero counts and nothing measured', async () => {
    const human = await stats('stats', '--env', 'production');
    expect(human).toEqual({ code: 0, stdout: 'no deploys in the last 30d\n', stderr: '' });
    const json = await statsJson('--since', '7d');
    expect(json).toMatchObject({
      environment: 'production',
      window: { seconds: 7 * 86_400 },
      deploymentFrequency: { deployments: 0, perDay: 0, perWeek: 0 },
      leadTime: { deployments: 0, medianSeconds: null, p90Seconds: null },
      changeFailureRate: { failures: 0, reachedProduction: 0, rate: null },
      timeToRestore: { failures: 0, restored: 0, open: 0, medianSeconds: null },
      deploys: { closed: 0, succeeded: 0 },
      // The environment never ran: nothing was ever rolled back.
      rollbacks: { committed: 0, healthy: 0, source: ENV_ID, complete: true },
    });
    expect(Date.parse(json.window.until) - Date.parse(json.window.since)).toBe(7 * 86_400_000);
  });

  test('seven deploys and two rollbacks: the counts and the four measures, as a table and as JSON', async () => {
    const { activities, rollbackMayStart } = fakes();
    await runWorker(native, TASK_QUEUE, activities, async () => {
      expect(await deploy(D1)).toBe('succeeded');
      expect(await deploy(DOCS)).toBe('skipped');
      expect(await deploy(CI_FAILS)).toBe('failed');
      // Degraded in production; the environment rolls it back by itself (autoRollback) and holds.
      expect(await deploy(DEGRADED)).toBe('failed');
      rollbackMayStart.open();
      const env = environmentHandle(client, config);
      await until(
        'the automatic rollback',
        async () =>
          (await env.query(environmentStatusQuery)).outcomes.some((o) => o.kind === 'rolled-back') ? true : undefined,
        60_000,
      );
      await resumeEnvironment(client, config, { by: 'test' });
      expect(await deploy(D5)).toBe('succeeded');
      // D5 was healthy, but a person rolls it back.
      const rollback = { to: 'previous', reason: 'errors after deploy', requestedBy: 'test' };
      expect(await rollbackEnvironment(client, config, rollback, { wait: true })).toMatchObject({
        kind: 'rolled-back',
      });
      // Two merges wait while production is held; resumed, the newer goes and supersedes the older.
      for (const commit of [OLDER, NEWER]) await startDeploy(client, config, { commit, requestedBy: 'test' });
      await phaseOf(client, REPOSITORY, OLDER, 'held');
      await phaseOf(client, REPOSITORY, NEWER, 'held');
      await resumeEnvironment(client, config, { by: 'test' });
      expect(await ended(NEWER)).toBe('succeeded');
      expect(await ended(OLDER)).toBe('superseded');
      await visible(7);

      // What the workflows themselves say, to check deployctl against.
      const described = async (commit: string) => client.workflow.getHandle(idOf(commit)).describe();
      const lead = await Promise.all([D1, D5, NEWER].map(async (c) => described(c)));
      const leadTimes = lead.map((d) => seconds(d.startTime, d.closeTime!)).sort((a, b) => a - b);
      const wentLive = (await inspectDeploy(client, config, DEGRADED)).status.phases.syncing!;
      const rolledBack = (await env.query(environmentStatusQuery)).outcomes.filter((o) => o.kind === 'rolled-back');
      expect(rolledBack).toHaveLength(2);
      const restores = [
        seconds(wentLive, rolledBack[0]!.at),
        seconds((await described(D5)).closeTime!, rolledBack[1]!.at),
      ];
      const expected = {
        leadMedian: leadTimes[1]!,
        leadP90: leadTimes[1]! + 0.8 * (leadTimes[2]! - leadTimes[1]!),
        restoreMedian: median(restores),
      };
      const json = await statsJson();
      expect(json).toEqual({
        environment: 'production',
        window: { since: expect.any(String), until: expect.any(String), seconds: 30 * 86_400 },
        deploymentFrequency: { deployments: 3, perDay: 0.1, perWeek: 0.7 },
        leadTime: {
          deployments: 3,
          medianSeconds: expect.closeTo(expected.leadMedian, 2),
          p90Seconds: expect.closeTo(expected.leadP90, 2),
        },
        // DEGRADED failed in production and was rolled back; D5 was rolled back: two failures of four.
        changeFailureRate: { failures: 2, failedInProduction: 1, rolledBack: 2, reachedProduction: 4, rate: 0.5 },
        timeToRestore: { failures: 2, restored: 2, open: 0, medianSeconds: expect.closeTo(expected.restoreMedian, 2) },
        deploys: {
          closed: 7,
          succeeded: 3,
          failedInProduction: 1,
          failedBeforeProduction: 1,
          superseded: 1,
          skipped: 1,
          cancelled: 0,
          other: 0,
        },
        rollbacks: { committed: 2, healthy: 2, source: ENV_ID, complete: true },
      });

      // The table says the same in words.
      const { code, stdout, stderr } = await stats('stats', '--env', 'production');
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      const dur = (s: number) => span(s * 1000);
      const lines = stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(
        /^production {13}the last 30d \(\d{4}-\d\d-\d\d \d\d:\d\d to \d{4}-\d\d-\d\d \d\d:\d\d\)$/,
      );
      expect(lines.slice(1)).toEqual([
        'deployment frequency   0.1 a day, 0.7 a week (3 deploys succeeded)',
        `lead time for changes  median ${dur(json.leadTime.medianSeconds)}, p90 ${dur(json.leadTime.p90Seconds)} (merge to healthy)`,
        'change failure rate    50% (2 of 4 deploys that reached production: 1 failed there, 2 rolled back)',
        `time to restore        median ${dur(json.timeToRestore.medianSeconds)} (2 restored, none open)`,
        'deploys                7 closed: 3 succeeded, 1 failed in production, 1 failed before it, 1 superseded, 1 skipped, 0 cancelled',
        "rollbacks              2 (2 healthy), from env-production's outcomes",
      ]);
      // `--json` after the command name works too, as scripts write it.
      expect(JSON.parse((await stats('stats', '--env', 'production', '--json')).stdout)).toEqual(
        expect.objectContaining({ deploys: json.deploys, changeFailureRate: json.changeFailureRate }),
      );

      // Paged a few at a time, visibility lists the same deploys.
      const window = { since: json.window.since, until: json.window.until };
      const paged = await readProductionHistory(client, config, window, { pageSize: 2 });
      expect(paged.deploys.map((d) => d.end).sort()).toEqual([
        'failed-before-production',
        'failed-in-production',
        'skipped',
        'succeeded',
        'succeeded',
        'succeeded',
        'superseded',
      ]);
    });
  }, 300_000);

  test('no worker to answer for the environment: deploys still counted, rollbacks said to be missing', async () => {
    const json = await statsJson();
    expect(json).toMatchObject({
      deploymentFrequency: { deployments: 3 },
      deploys: { closed: 7, failedInProduction: 1 },
      changeFailureRate: { failures: 1, failedInProduction: 1, rolledBack: 0, reachedProduction: 4, rate: 0.25 },
      rollbacks: {
        committed: 0,
        source: ENV_ID,
        complete: false,
        unavailable: expect.stringMatching(/^env-production did not answer the environmentStatus query/),
      },
    });
    const { code, stdout } = await stats('stats', '--env', 'production');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^deploys +7 closed: 3 succeeded, 1 failed in production, /m);
    expect(stdout).toMatch(/^rollbacks +unknown \(see the note\)$/m);
    expect(stdout).toMatch(
      /^note +rollbacks not counted, so the failure rate and time to restore count deploys that failed in production only: env-production did not answer the environmentStatus query \(is a worker polling task queue "stats-test"\?\): .+$/m,
    );
  }, 180_000);
});
