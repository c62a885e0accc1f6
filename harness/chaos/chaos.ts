/**
 * The chaos run: N code merges whose CI finishes in shuffled order, while the worker is SIGKILLed
 * M times and the Temporal server is killed and restarted K times at random moments, on the real
 * local stack (a Temporal dev server whose SQLite file survives its restarts, the worker's own
 * entry point, git over HTTPS, the HTTPS registry, the GitHub and Argo CD stand-ins). Then it
 * checks what production must never show: lost deploys, duplicate or backwards overlay commits,
 * a final tag other than the newest merge's, workflows stuck.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { WorkflowFailedError, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { deployIdOf, signalCiCompleted, startDeploy } from '../../src/client/deploys';
import type { DeployStatus } from '../../src/contract/deploy';
import { shaTag } from '../../src/plan/tags';
import { INITIAL_TAG, OWNER, REPO, startStack, type Stack, type WorkerProcess } from '../stack';

export interface ChaosOptions {
  merges: number;
  kills: number;
  restarts: number;
  /** Seed of the schedule, printed so a failing run can be replayed. */
  seed: number;
  /** How long the merges and faults are spread over. */
  spreadMs: number;
  /** How long the deploys may take to drain after the last event. */
  drainTimeoutMs: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  options: Omit<ChaosOptions, 'log'>;
  lost: number;
  failed: string[];
  duplicateOverlayCommits: number;
  backwardsMoves: number;
  finalTagIsNewest: boolean;
  finalTag: string;
  newestTag: string;
  stuck: number;
  drainMs: number;
  outcomes: Record<string, number>;
  /** Times a worker had to be started again because it exited on its own (not one of the kills). */
  workerCrashes: number;
}

/** mulberry32: a small seeded generator, so a schedule can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries a call to Temporal the way GitHub redelivers a webhook that got a 5xx (until the run ends). */
async function redelivered<T>(
  call: () => Promise<T>,
  what: string,
  log: (line: string) => void,
  ended: () => boolean = () => false,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    if (attempt > 1 && ended()) throw new Error(`${what}: the chaos run ended`);
    try {
      return await call();
    } catch (err) {
      if (attempt >= 60) throw new Error(`${what} failed ${attempt} times: ${(err as Error).message}`);
      if (attempt === 1) log(`  ${what}: ${(err as Error).message.split('\n')[0]}; redelivering`);
      await sleep(500);
    }
  }
}

type Event = { at: number; kind: 'merge' | 'ci' | 'kill' | 'restart'; index?: number };

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  log(`seed ${options.seed}`);
  const rand = random(options.seed);
  const stack: Stack = await startStack({}, { restartableTemporal: true });
  const full = `${OWNER}/${REPO}`;
  let worker: WorkerProcess | undefined;
  let workerCrashes = 0;
  let stopping = false;
  let killing = false;
  try {
    await stack.pushImages(INITIAL_TAG);
    worker = await stack.startWorker();
    // A supervisor, as Kubernetes is: a worker that exits for any reason is started again.
    const supervise = async () => {
      while (!stopping) {
        await sleep(200);
        if (stopping || killing || !worker || (worker.child.exitCode === null && worker.child.signalCode === null))
          continue;
        workerCrashes++;
        log(
          `  worker exited on its own (${worker.child.exitCode ?? worker.child.signalCode}); starting another. Its last words: ${worker.output().trim().split('\n').slice(-2).join(' | ')}`,
        );
        worker = await stack.startWorker().catch(() => undefined);
      }
    };
    const supervisor = supervise();

    // The schedule: merges spread over the first half, their CI completions shuffled over the
    // whole spread (each after its merge), kills and restarts anywhere in it.
    const events: Event[] = [];
    const mergeAt = Array.from({ length: options.merges }, (_, i) =>
      Math.round(((i + rand() * 0.5) / options.merges) * options.spreadMs * 0.5),
    );
    mergeAt.forEach((at, index) => events.push({ at, kind: 'merge', index }));
    mergeAt.forEach((at, index) =>
      events.push({ at: at + 500 + Math.round(rand() * (options.spreadMs - at)), kind: 'ci', index }),
    );
    for (let i = 0; i < options.kills; i++) events.push({ at: Math.round(rand() * options.spreadMs), kind: 'kill' });
    for (let i = 0; i < options.restarts; i++)
      events.push({ at: Math.round((0.2 + rand() * 0.6) * options.spreadMs), kind: 'restart' });
    events.sort((a, b) => a.at - b.at);

    const commits: string[] = [];
    const runs: number[] = [];
    const pending = new Map<number, Promise<void>>();
    const t0 = performance.now();
    for (const event of events) {
      const wait = event.at - (performance.now() - t0);
      if (wait > 0) await sleep(wait);
      if (event.kind === 'merge') {
        const i = event.index!;
        const before = await stack.origin.head();
        const commit = await stack.origin.commit(
          { 'services/api/main.py': `print(${i})\n` },
          `feat(api): chaos change ${i}`,
        );
        commits[i] = commit;
        runs[i] = stack.github.addRun({ owner: OWNER, repo: REPO, headSha: commit, status: 'in_progress' }).id;
        log(`merge ${i} ${commit.slice(0, 7)}`);
        pending.set(
          i,
          // As the relay does: signal-with-start of the environment, which starts the deploy itself.
          redelivered(
            () =>
              startDeploy(stack.client, stack.config, { commit, before, requestedBy: 'chaos' }, { wait: false }).then(
                () => undefined,
              ),
            `push webhook of ${commit.slice(0, 7)}`,
            log,
          ),
        );
      } else if (event.kind === 'ci') {
        const i = event.index!;
        await pending.get(i);
        const commit = commits[i]!;
        await stack.pushImages(shaTag(commit));
        stack.github.setRun(runs[i]!, { status: 'completed', conclusion: 'success' });
        log(`ci ${i} ${commit.slice(0, 7)} passed`);
        // The webhook, sometimes lost: then the deploy's own polling finds the run.
        if (rand() < 0.7) {
          const run = {
            id: runs[i]!,
            status: 'completed',
            conclusion: 'success',
            url: `https://github.com/${full}/actions/runs/${runs[i]}`,
            headSha: commit,
          };
          void redelivered(
            () => signalCiCompleted(stack.client, stack.config, run),
            `workflow_run webhook of ${commit.slice(0, 7)}`,
            log,
            () => stopping,
          ).catch(() => undefined);
        }
      } else if (event.kind === 'kill') {
        killing = true;
        log('SIGKILL the worker');
        await worker?.kill();
        await sleep(Math.round(rand() * 2_000));
        worker = await stack.startWorker();
        killing = false;
      } else {
        log('kill and restart the Temporal server');
        await stack.restartTemporal({ downMs: 1_000 + Math.round(rand() * 2_000) });
      }
    }
    const lastEvent = performance.now();
    await Promise.all(pending.values());

    // Drain: every deploy must close, succeeded or superseded.
    const outcomes: Record<string, number> = {};
    const failed: string[] = [];
    let lost = 0;
    const deadline = Date.now() + options.drainTimeoutMs;
    for (const commit of commits) {
      const handle = stack.client.workflow.getHandle(deployIdOf(stack.config, commit));
      const remaining = deadline - Date.now();
      let timer: NodeJS.Timeout | undefined;
      let timedOut = false;
      const result = await Promise.race([
        // The environment starts the deploy: one it never started is lost, not an error to redeliver.
        started(handle, () => timedOut).then((found) =>
          found
            ? redelivered(
                // A failed deploy is an answer, not a reason to ask again.
                () =>
                  (handle.result() as Promise<DeployStatus>).then(
                    (status) => status.phase as string,
                    (err: unknown) => {
                      if (err instanceof WorkflowFailedError)
                        return `failed: ${(err.cause as Error | undefined)?.message ?? err.message}`;
                      throw err;
                    },
                  ),
                `result of ${commit.slice(0, 7)}`,
                log,
              )
            : 'lost',
        ),
        new Promise<string>(
          (resolve) => (timer = setTimeout(() => ((timedOut = true), resolve('lost')), Math.max(remaining, 0))),
        ),
      ]);
      timedOut = true;
      clearTimeout(timer);
      if (result === 'lost') lost++;
      else if (result.startsWith('failed')) failed.push(`${commit.slice(0, 7)} ${result}`);
      const key = result.startsWith('failed') ? 'failed' : result;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
    const drainMs = performance.now() - lastEvent;

    const history = overlayHistory(stack);
    const newestTag = shaTag(commits.at(-1)!);
    const finalTag = history.at(-1)?.tag ?? INITIAL_TAG;
    const stuck = await countRunning(stack);
    stopping = true;
    await supervisor;
    return {
      options: {
        merges: options.merges,
        kills: options.kills,
        restarts: options.restarts,
        seed: options.seed,
        spreadMs: options.spreadMs,
        drainTimeoutMs: options.drainTimeoutMs,
      },
      lost,
      failed,
      duplicateOverlayCommits: duplicates(history),
      backwardsMoves: backwards(stack, history),
      finalTagIsNewest: finalTag === newestTag,
      finalTag,
      newestTag,
      stuck,
      drainMs,
      outcomes,
      workerCrashes,
    };
  } finally {
    stopping = true;
    await stack.stop();
  }
}

/** Waits until the deploy exists (its environment started it); false once `ended` says to stop looking. */
async function started(handle: WorkflowHandle, ended: () => boolean): Promise<boolean> {
  while (!ended()) {
    try {
      await handle.describe();
      return true;
    } catch (err) {
      // Not started yet, or Temporal briefly unreachable: look again.
      await sleep(err instanceof WorkflowNotFoundError ? 200 : 500);
    }
  }
  return false;
}

interface OverlayCommit {
  sha: string;
  tag: string;
  workflowId?: string;
  deployedCommit?: string;
}

/** The deployer's overlay commits on origin's main, oldest first, straight from git. */
function overlayHistory(stack: Stack): OverlayCommit[] {
  const out = execFileSync(
    'git',
    [
      'log',
      '--reverse',
      '--format=%H%x1f%(trailers:key=Deploy-Workflow-Id,valueonly,separator=)%x1f%(trailers:key=Deployed-Commit,valueonly,separator=)%x1e',
      'main',
      '--',
      'k8s/overlays/prod/kustomization.yaml',
    ],
    { cwd: stack.origin.bareDir, encoding: 'utf8' },
  );
  return out
    .split('\x1e')
    .map((r) => r.trim())
    .filter(Boolean)
    .map((record) => {
      const [sha, workflowId, deployedCommit] = record.split('\x1f').map((f) => f.trim());
      const text = execFileSync('git', ['show', `${sha}:k8s/overlays/prod/kustomization.yaml`], {
        cwd: stack.origin.bareDir,
        encoding: 'utf8',
      });
      return {
        sha: sha!,
        tag: /newTag: (\S+)/.exec(text)![1]!,
        workflowId: workflowId || undefined,
        deployedCommit: deployedCommit || undefined,
      };
    })
    .filter((c) => c.workflowId);
}

/** Overlay commits beyond the first for the same deploy (the Deploy-Workflow-Id trailer). */
function duplicates(history: OverlayCommit[]): number {
  const seen = new Map<string, number>();
  for (const c of history) seen.set(c.workflowId!, (seen.get(c.workflowId!) ?? 0) + 1);
  return [...seen.values()].reduce((sum, n) => sum + n - 1, 0);
}

/** Overlay commits whose deployed commit is an ancestor of the one deployed before it. */
function backwards(stack: Stack, history: OverlayCommit[]): number {
  let count = 0;
  for (let i = 1; i < history.length; i++) {
    const [previous, next] = [history[i - 1]!.deployedCommit, history[i]!.deployedCommit];
    if (!previous || !next || previous === next) continue;
    try {
      execFileSync('git', ['merge-base', '--is-ancestor', next, previous], {
        cwd: stack.origin.bareDir,
        stdio: 'ignore',
      });
      count++;
    } catch {
      // not an ancestor: forward
    }
  }
  return count;
}

async function countRunning(stack: Stack): Promise<number> {
  let n = 0;
  for await (const _ of stack.client.workflow.list({
    query: 'WorkflowType="deploy" AND ExecutionStatus="Running"',
  }))
    n++;
  return n;
}

export function formatReport(report: ChaosReport): string {
  const { options: o } = report;
  const yes = (ok: boolean) => (ok ? 'yes' : 'NO');
  return [
    `chaos: ${o.merges} merges, ${o.kills} worker SIGKILLs, ${o.restarts} Temporal restarts, seed ${o.seed}`,
    `  lost deploys                 ${report.lost}`,
    `  duplicate overlay commits    ${report.duplicateOverlayCommits}`,
    `  backwards moves              ${report.backwardsMoves}`,
    `  final tag = newest merge     ${yes(report.finalTagIsNewest)} (${report.finalTag}, newest ${report.newestTag})`,
    `  workflows stuck              ${report.stuck}`,
    `  drain time                   ${(report.drainMs / 1000).toFixed(1)} s after the last event`,
    `  outcomes                     ${Object.entries(report.outcomes)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `  failed deploys               ${report.failed.length ? report.failed.join('; ') : 0}`,
    `  worker exits on their own    ${report.workerCrashes}`,
    `  load average at the end      ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (${cpus().length} cores)`,
  ].join('\n');
}

export function healthy(report: ChaosReport): boolean {
  return (
    report.lost === 0 &&
    report.duplicateOverlayCommits === 0 &&
    report.backwardsMoves === 0 &&
    report.finalTagIsNewest &&
    report.stuck === 0 &&
    report.failed.length === 0
  );
}
