import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Activities } from '../../src/activities';
import { startDeploy } from '../../src/client/deploys';
import { environmentHandle, productionTarget, signalEnvironment } from '../../src/client/environment';
import type { DeployConfig } from '../../src/config/schema';
import type { DeployStatus } from '../../src/contract/deploy';
import {
  candidateReadySignal,
  environmentStatusQuery,
  pauseSignal,
  resumeSignal,
  type Candidate,
} from '../../src/contract/environment';
import { deployWorkflowId } from '../../src/contract/ids';
import { startDevServer, type DevServer } from '../../harness/temporal';
import { workflowTestConfig } from '../support/workflow-config';
import { argoAt, ciRun, endWorkers, planFor, runWorker, settingsFor } from './fakes';

/**
 * A burst: thousands of deploys whose checks passed at once (a long pause, catching up after an
 * outage). Real workflows on a real Temporal server; the steps are fakes over a linear history, so
 * the test counts what the environment asks git to do.
 */
const MIN = 60_000;
let server: DevServer;
let connection: Connection;
let client: Client;
let native: NativeConnection;

beforeAll(async () => {
  server = await startDevServer();
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection });
  native = await NativeConnection.connect({ address: server.address });
}, 120_000);
afterEach(() => endWorkers());
afterAll(async () => {
  await native?.close();
  await connection?.close();
  await server?.stop();
});

const commitOf = (i: number) => i.toString(16).padStart(40, '0');
const indexOf = (commit: string) => parseInt(commit, 16);

function linearHistory(config: DeployConfig, beforeOrder?: () => Promise<void>) {
  const calls = { updateOverlay: [] as string[], orderCommits: [] as number[] };
  let production = commitOf(0);
  const activities: Partial<Activities> = {
    targetSettings: async ({ target }) => settingsFor(config, target),
    detect: async () => planFor(config, 'code'),
    findCiRun: async ({ commit }) => ciRun(commit, 'completed', 'success', { id: 1, url: 'https://github.test/run/1' }),
    validateImages: async ({ tag }) => [{ name: 'api', reference: `acr.test/api:${tag}`, digest: 'sha256:aa' }],
    // A linear main: commit i descends from every commit below i.
    orderCommits: async ({ commits }) => {
      if (commits.length > 200) throw new Error('order-commits: bad input: at most 200 commits');
      calls.orderCommits.push(commits.length);
      await beforeOrder?.();
      return [commits.reduce((a, b) => (indexOf(a) > indexOf(b) ? a : b))];
    },
    updateOverlay: async (change) => {
      const { commit } = change as { commit: string };
      calls.updateOverlay.push(commit);
      if (indexOf(commit) < indexOf(production))
        return {
          outcome: 'superseded',
          overlayCommit: null,
          revision: production,
          current: { tag: `sha-${production.slice(0, 7)}`, commit: production },
        };
      production = commit;
      return { outcome: 'committed', overlayCommit: 'f'.repeat(40), revision: 'f'.repeat(40) };
    },
    observeArgoApp: async () => argoAt('f'.repeat(40)),
    listTargets: async () => [],
  };
  return { activities: activities as Activities, calls };
}

/** A deploy whose checks passed, as the deploy of commit i hands itself over (no such workflow runs). */
const candidate = (repository: string, config: DeployConfig, i: number): Candidate => ({
  workflowId: deployWorkflowId(repository, productionTarget(config), commitOf(i)),
  commit: commitOf(i),
  path: 'code',
  tag: `sha-${commitOf(i).slice(0, 7)}`,
  rule: 'ci',
  readyAt: new Date().toISOString(),
});

async function burst(size: number): Promise<void> {
  const taskQueue = `burst-${size}`;
  const config = workflowTestConfig(`burst${size}`, taskQueue);
  const { activities, calls } = linearHistory(config);
  await runWorker(
    native,
    taskQueue,
    activities,
    async () => {
      // Paused, the environment lets every deploy run its checks and queue: then all are ready at once.
      await signalEnvironment(client, config, pauseSignal, { reason: 'collect a burst', by: 'test' });
      const commits = Array.from({ length: size }, (_, i) => commitOf(i + 1));
      for (let i = 0; i < commits.length; i += 50) {
        await Promise.all(
          commits.slice(i, i + 50).map((commit) => startDeploy(client, config, { commit, requestedBy: 'test' })),
        );
      }
      const env = environmentHandle(client, config);
      await eventually(async () =>
        (await env.query(environmentStatusQuery)).queue.length === size ? true : undefined,
      );
      await env.signal(resumeSignal, { by: 'test' });

      const results: DeployStatus[] = [];
      for (let i = 0; i < commits.length; i += 100) {
        results.push(
          ...(await Promise.all(
            commits
              .slice(i, i + 100)
              .map(
                (c) =>
                  client.workflow
                    .getHandle(deployWorkflowId(`o/burst${size}`, productionTarget(config), c))
                    .result() as Promise<DeployStatus>,
              ),
          )),
        );
      }
      const newest = commits.at(-1)!;
      expect(results.filter((r) => r.phase === 'succeeded').map((r) => r.commit)).toEqual([newest]);
      expect(results.filter((r) => r.phase === 'superseded')).toHaveLength(size - 1);
      // One overlay change for the whole burst, and git asked once per batch of at most 200.
      expect(calls.updateOverlay).toEqual([newest]);
      expect(calls.orderCommits.every((n) => n <= 200)).toBe(true);
      expect(calls.orderCommits.length).toBeLessThanOrEqual(Math.ceil(size / 200) + 1);
      const description = await env.describe();
      expect(description.status.name).toBe('RUNNING');
      const view = await env.query(environmentStatusQuery);
      expect(view.queue).toHaveLength(0);
      expect(view.current?.tag).toBe(`sha-${newest.slice(0, 7)}`);
    },
    { maxConcurrentWorkflowTaskExecutions: 50 },
  );
}

/**
 * The same burst told to the environment directly (candidateReady, as deploys send it) so its
 * size is not bounded by how fast a test can start workflows: every candidate must be told its
 * verdict, which the environment's own history shows as one outgoing verdict signal each.
 */
async function burstAtEnvironment(size: number): Promise<void> {
  const taskQueue = `burst-env-${size}`;
  const config = workflowTestConfig(`env${size}`, taskQueue);
  const { activities, calls } = linearHistory(config);
  await runWorker(native, taskQueue, activities, async () => {
    await signalEnvironment(client, config, pauseSignal, { reason: 'collect a burst', by: 'test' });
    const env = environmentHandle(client, config);
    const candidates = Array.from({ length: size }, (_, i) => candidate(`o/env${size}`, config, i + 1));
    for (let i = 0; i < size; i += 100) {
      await Promise.all(candidates.slice(i, i + 100).map((c) => env.signal(candidateReadySignal, c)));
    }
    await eventually(async () => ((await env.query(environmentStatusQuery)).queue.length === size ? true : undefined));
    await env.signal(resumeSignal, { by: 'test' });
    const newest = commitOf(size);
    await eventually(async () => {
      const view = await env.query(environmentStatusQuery);
      return view.queue.length === 0 && !view.applying && view.outcomes.at(-1)?.kind === 'deployed' ? view : undefined;
    });
    expect(calls.updateOverlay).toEqual([newest]);
    expect(calls.orderCommits.every((n) => n <= 200)).toBe(true);
    expect(calls.orderCommits.length).toBeLessThanOrEqual(Math.ceil(size / 200) + 1);
    expect((await env.describe()).status.name).toBe('RUNNING');
    expect((await env.query(environmentStatusQuery)).current?.tag).toBe(`sha-${newest.slice(0, 7)}`);
    // Every candidate was told its verdict, across however many runs the environment continued into.
    const told = new Map<string, number>();
    for await (const execution of client.workflow.list({ query: `WorkflowId="${env.workflowId}"` })) {
      const history = await client.workflow.getHandle(env.workflowId, execution.runId).fetchHistory();
      for (const event of history.events ?? []) {
        const attrs = event.signalExternalWorkflowExecutionInitiatedEventAttributes;
        if (attrs?.signalName === 'verdict')
          told.set(attrs.workflowExecution!.workflowId!, (told.get(attrs.workflowExecution!.workflowId!) ?? 0) + 1);
      }
    }
    expect(told.size).toBe(size);
    expect([...told.values()].every((n) => n === 1)).toBe(true);
  });
}

test(
  'a deploy that becomes ready while the queue is being ordered is not superseded by an older head',
  async () => {
    const taskQueue = 'burst-race';
    const config = workflowTestConfig('race', taskQueue);
    let ordering!: () => void;
    const ordered = new Promise<void>((resolve) => (ordering = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let first = true;
    const { activities, calls } = linearHistory(config, async () => {
      if (!first) return;
      first = false;
      ordering();
      await released;
    });
    await runWorker(native, taskQueue, activities, async () => {
      await signalEnvironment(client, config, pauseSignal, { reason: 'collect', by: 'test' });
      const env = environmentHandle(client, config);
      for (const i of [1, 2, 3]) await env.signal(candidateReadySignal, candidate('o/race', config, i));
      await eventually(async () => ((await env.query(environmentStatusQuery)).queue.length === 3 ? true : undefined));
      await env.signal(resumeSignal, { by: 'test' });
      // While git orders 1..3, the newest deploy (4) becomes ready.
      await ordered;
      await env.signal(candidateReadySignal, candidate('o/race', config, 4));
      await eventually(async () =>
        (await env.query(environmentStatusQuery)).queue.some((c) => c.commit === commitOf(4)) ? true : undefined,
      );
      release();
      const view = await eventually(async () => {
        const v = await env.query(environmentStatusQuery);
        return v.queue.length === 0 && !v.applying && v.outcomes.some((o) => o.commit === commitOf(4)) ? v : undefined;
      });
      expect(view.outcomes.find((o) => o.commit === commitOf(4))?.kind).toBe('deployed');
      expect(view.current?.tag).toBe(`sha-${commitOf(4).slice(0, 7)}`);
      expect(calls.updateOverlay).toEqual([commitOf(3), commitOf(4)]);
      expect(
        view.outcomes
          .filter((o) => o.kind === 'superseded')
          .map((o) => o.commit)
          .sort(),
      ).toEqual([commitOf(1), commitOf(2)]);
    });
  },
  5 * MIN,
);

test(
  'deploys that hand themselves over again while the older ones are being superseded are not applied again',
  async () => {
    // 39 older deploys are superseded by the newest one's turn; meanwhile ten of them hand themselves
    // over again (their reannounce timers fired before the verdict came): each must find its place
    // taken, never a second turn. (Fewer than the 50 outcomes the environment keeps.)
    const size = 40;
    const taskQueue = 'burst-resend';
    const config = workflowTestConfig('resend', taskQueue);
    const { activities, calls } = linearHistory(config);
    await runWorker(native, taskQueue, activities, async () => {
      await signalEnvironment(client, config, pauseSignal, { reason: 'collect', by: 'test' });
      const env = environmentHandle(client, config);
      const candidates = Array.from({ length: size }, (_, i) => candidate('o/resend', config, i + 1));
      for (let i = 0; i < size; i += 100) {
        await Promise.all(candidates.slice(i, i + 100).map((c) => env.signal(candidateReadySignal, c)));
      }
      await eventually(async () =>
        (await env.query(environmentStatusQuery)).queue.length === size ? true : undefined,
      );
      const resent = candidates.slice(size - 11, size - 1);
      let done = false;
      const resending = (async () => {
        // Bounded (a workflow takes at most 10,000 signals), paced so the rounds span the supersede.
        for (let round = 0; !done && round < 100; round++) {
          await Promise.all(resent.map((c) => env.signal(candidateReadySignal, c)));
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      await env.signal(resumeSignal, { by: 'test' });
      await eventually(async () =>
        (await env.query(environmentStatusQuery)).outcomes.some((o) => o.kind === 'deployed') ? true : undefined,
      );
      done = true;
      await resending;
      const view = await eventually(async () => {
        const v = await env.query(environmentStatusQuery);
        return v.queue.length === 0 && !v.applying ? v : undefined;
      });
      expect(calls.updateOverlay).toEqual([commitOf(size)]);
      for (const c of resent) expect(view.outcomes.filter((o) => o.commit === c.commit)).toHaveLength(1);
      expect(view.current?.tag).toBe(`sha-${commitOf(size).slice(0, 7)}`);
    });
  },
  5 * MIN,
);

/** Polls until the probe answers (a busy worker may time a query out meanwhile). */
async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 10 * MIN): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('timed out');
}

test(
  '100 deploys ready at once: the newest deploys, 99 are superseded, the environment goes on',
  () => burst(100),
  5 * MIN,
);
test(
  '2,000 candidates at once: bounded batches, one overlay change, every one told its verdict',
  () => burstAtEnvironment(2000),
  15 * MIN,
);
