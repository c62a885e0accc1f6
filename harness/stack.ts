import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load';
import type { DeployConfig } from '../src/config/schema';
import { startArgoCdStandIn, type ArgoCdStandIn } from './standins/argocd';
import { startGitHubStandIn, type GitHubStandIn } from './standins/github';
import { testCaFile } from './git-server';
import { createOrigin, type Origin } from './origin';
import { startRegistry, type TestRegistry } from './registry';
import { startDevServer, type DevServer } from './temporal';

export const OWNER = 'yt-summarizer-org';
export const REPO = 'yt-summarizer';
export const IMAGES = ['yt-summarizer-api', 'yt-summarizer-workers'];
export const INITIAL_TAG = 'sha-e43f28a';
export const APP = 'yt-summarizer-prod';
/** The ApplicationSet's pull-request generator names each preview application like this. */
export const PREVIEW_APP = 'yt-summarizer-pr-{number}';
export const GITHUB_TOKEN = 'ghs_test_github_token';
export const ARGOCD_TOKEN = 'argocd-test-token';

export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  /** SIGKILL: no drain, no goodbye, as when a machine dies. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Everything a production deploy touches, real where it is ours or open source (Temporal dev
 * server, git over HTTPS with token auth, an OCI registry over HTTPS) and stand-ins for GitHub's
 * and Argo CD's HTTP APIs.
 */
export interface Stack {
  dir: string;
  registry: TestRegistry;
  origin: Origin;
  github: GitHubStandIn;
  argo: ArgoCdStandIn;
  temporal: DevServer;
  client: Client;
  config: DeployConfig;
  configPath: string;
  startWorker(options?: StartWorkerOptions): Promise<WorkerProcess>;
  /** Stops the Temporal server, waits `downMs`, starts it again on the same port and state (restartableTemporal). */
  restartTemporal(opts?: { downMs?: number }): Promise<void>;
  /** Pushes every image at the tag, the way CI does after a build. */
  pushImages(tag: string): Promise<void>;
  stop(): Promise<void>;
}

export interface StartWorkerOptions {
  /** Extra arguments after `--config <file>`, e.g. `['--metrics-address', '127.0.0.1:9464']`. */
  args?: string[];
  /** Extra environment over the stack's (TEMPORAL_ADDRESS, tokens, CA). */
  env?: Record<string, string>;
  /** `polling` (default): resolve once the worker polls its task queue; `spawned`: at once. */
  until?: 'polling' | 'spawned';
}

/** Config tweaks per section, merged over the defaults below, e.g. `{ ci: { pollInitial: '10m' } }`. */
export type StackOverrides = Record<string, Record<string, unknown> | unknown[]>;

export interface StackOptions {
  /**
   * How the worker reaches the origin: `https` (default), as production reaches GitHub (the
   * git server of harness/git-server.ts, GITHUB_TOKEN as the x-access-token password), or
   * `file`, a file:// URL of the bare repository.
   */
  origin?: 'https' | 'file';
  /** A Temporal server that `restartTemporal()` can stop and start again on its port and SQLite file. */
  restartableTemporal?: boolean;
}

export async function startStack(overrides: StackOverrides = {}, options: StackOptions = {}): Promise<Stack> {
  const https = (options.origin ?? 'https') === 'https';
  const dir = mkdtempSync(join(tmpdir(), 'gitops-e2e-'));
  const registry = await startRegistry();
  const origin = await createOrigin({
    root: dir,
    registryHost: registry.host,
    initialTag: INITIAL_TAG,
    ...(https ? { https: { token: GITHUB_TOKEN, path: `${OWNER}/${REPO}.git` } } : {}),
  });
  // git trusts the test CA the way a worker is told of a private CA: GIT_SSL_CAINFO in its
  // environment (replacing any system bundle named there). Set here too for the steps tests that
  // run in this process (test/activities); Jest gives each test file its own process.env.
  const caFile = https ? testCaFile() : undefined;
  if (caFile) process.env.GIT_SSL_CAINFO = caFile;
  const github = await startGitHubStandIn({
    token: GITHUB_TOKEN,
    workflows: [{ owner: OWNER, repo: REPO, workflowFile: 'ci.yml' }],
    originBareDir: origin.bareDir,
  });
  const argo = await startArgoCdStandIn({
    token: ARGOCD_TOKEN,
    application: APP,
    originBareDir: origin.bareDir,
    overlayPath: 'k8s/overlays/prod/kustomization.yaml',
    syncDelayMs: 200,
    imageExists: (image) => registry.hasImage(image.newName.slice(registry.host.length + 1), image.newTag),
  });
  // A restartable server keeps its state in a file of its own (tmpfs where there is one) and its port.
  const temporalDb = options.restartableTemporal
    ? join(mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'temporal-chaos-')), 'temporal.db')
    : undefined;
  let temporal = await startDevServer({ dbFile: temporalDb });
  const temporalPort = Number(temporal.address.split(':').pop());
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });

  const configPath = join(dir, 'deploy.config.yaml');
  const settings: Record<string, unknown> = {
    repository: { owner: OWNER, name: REPO, mainBranch: 'main', cloneUrl: origin.httpsUrl ?? origin.url },
    github: { apiUrl: github.url },
    // Short polls keep the fallback path quick; the workflow tests cover the real 15 s → 2 min policy.
    ci: { workflow: 'ci.yml', timeout: '2m', pollInitial: '500ms', pollMax: '2s' },
    registry: { endpoint: registry.endpoint },
    images: IMAGES.map((name) => ({ name, repository: name })),
    argocd: { server: argo.url, application: APP, syncTimeout: '1m' },
    preview: { application: PREVIEW_APP },
    git: { cacheDir: join(dir, 'cache') },
    temporal: { taskQueue: 'gitops-deployer-e2e' },
  };
  // A section is merged over the defaults; a list (notifications) replaces them.
  for (const [section, values] of Object.entries(overrides))
    settings[section] = Array.isArray(values) ? values : { ...(settings[section] as object | undefined), ...values };
  writeFileSync(configPath, stringify(settings));
  const config = loadConfig(configPath);
  const workers: WorkerProcess[] = [];

  async function startWorker({
    args = [],
    env = {},
    until = 'polling',
  }: StartWorkerOptions = {}): Promise<WorkerProcess> {
    // Each worker process has a git cache of its own, as each pod has its own emptyDir.
    const workerConfig = join(dir, `deploy.config.worker-${workers.length + 1}.yaml`);
    writeFileSync(
      workerConfig,
      stringify({
        ...settings,
        git: { ...(settings.git as object), cacheDir: join(dir, `cache-worker-${workers.length + 1}`) },
      }),
    );
    const main = resolve(__dirname, '../dist/worker/main.js');
    const child = spawn(process.execPath, [main, '--config', workerConfig, ...args], {
      env: {
        ...process.env,
        ...(caFile ? { GIT_SSL_CAINFO: caFile } : {}),
        TEMPORAL_ADDRESS: temporal.address,
        GITHUB_TOKEN,
        ARGOCD_TOKEN,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a kill takes its git children too, as when a pod dies.
      detached: true,
    });
    const group = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    process.once('exit', group);
    child.once('exit', () => process.removeListener('exit', group));
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    await new Promise<void>((ready, fail) => {
      if (until === 'spawned') return ready();
      const poll = setInterval(() => {
        if (output.includes('worker polling')) {
          clearInterval(poll);
          ready();
        }
        if (child.exitCode !== null) {
          clearInterval(poll);
          fail(new Error(`worker exited ${child.exitCode}:\n${output}`));
        }
      }, 50);
    });
    const worker: WorkerProcess = {
      child,
      output: () => output,
      kill: async () => {
        group();
        await exited;
      },
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
        await exited;
      },
    };
    workers.push(worker);
    return worker;
  }

  return {
    dir,
    registry,
    origin,
    github,
    argo,
    client,
    config,
    configPath,
    startWorker,
    get temporal() {
      return temporal;
    },
    async restartTemporal({ downMs = 1_000 } = {}) {
      if (!temporalDb)
        throw new Error('startStack({}, { restartableTemporal: true }) makes a restartable Temporal server');
      await temporal.stop();
      await new Promise((r) => setTimeout(r, downMs));
      temporal = await startDevServer({ dbFile: temporalDb, port: temporalPort });
    },
    async pushImages(tag) {
      for (const image of IMAGES) await registry.pushImage(image, tag);
    },
    async stop() {
      await Promise.all(workers.map((w) => w.stop()));
      await connection.close();
      await Promise.all([temporal.stop(), argo.stop(), github.stop(), registry.stop()]);
      if (temporalDb) rmSync(dirname(temporalDb), { recursive: true, force: true });
      await origin.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A stack as production looks when a merge arrives: the running tag's images pushed and a worker polling. */
export async function startRunningStack(
  overrides: StackOverrides = {},
  options: StackOptions = {},
): Promise<{ stack: Stack; worker: WorkerProcess }> {
  const stack = await startStack(overrides, options);
  await stack.pushImages(INITIAL_TAG);
  return { stack, worker: await stack.startWorker() };
}
