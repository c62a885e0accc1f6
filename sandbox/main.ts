/**
 * `npm run sandbox`: the real worker and webhook relay against local stand-ins, so a deploy can
 * be watched end to end in the Temporal Web UI with no cloud account. Real: Temporal dev server,
 * git, an OCI registry over HTTPS. Stand-ins (from harness/standins/): GitHub's and Argo CD's
 * HTTP APIs. `npm run sandbox:merge -- --code` (sandbox/merge.ts) makes a merge. Ctrl-C stops all.
 */
import './esm-interop'; // first: the relay's imports need it
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join, relative } from 'node:path';
import { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load';
import { previewName } from '../src/plan/preview';
import { startRelay, WEBHOOK_PATH } from '../src/relay/server';
import { connectClient, temporalTarget } from '../src/temporal/connection';
import { findTemporalCli, startDevServer } from '../src/temporal/devserver';
import { createDeployWorker } from '../src/worker/run';
import { SEARCH_ATTRIBUTES } from '../src/contract/search-attributes';
import { startArgoCdStandIn } from '../harness/standins/argocd';
import { startGitHubStandIn } from '../harness/standins/github';
import { createOrigin } from '../harness/origin';
import { startRegistry } from '../harness/registry';
import { APP, IMAGES, INITIAL_TAG, OWNER, PREVIEW_APP, REPO } from '../harness/stack';
import { startControl } from './control';
import { startGitHubSide } from './github';
import { dataDir, readState, statePath, type SandboxState } from './state';

const GITHUB_TOKEN = 'ghs_sandbox_token';
const ARGOCD_TOKEN = 'argocd-sandbox-token';
const log = (line: string) => console.log(line);

function port(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1 || value > 65535)
    throw new Error(`${name} must be a TCP port, got ${process.env[name]}`);
  return value;
}

/** Something answers on the port, or it cannot be bound (listen alone misses some wildcard binds on macOS). */
async function portInUse(p: number): Promise<boolean> {
  const answers = await new Promise<boolean>((resolve) => {
    const socket = connect({ port: p, host: '127.0.0.1', timeout: 500 });
    const done = (up: boolean) => (socket.destroy(), resolve(up));
    socket
      .once('connect', () => done(true))
      .once('error', () => done(false))
      .once('timeout', () => done(false));
  });
  if (answers) return true;
  return new Promise((resolve) => {
    const server = createServer().once('error', () => resolve(true));
    server.listen(p, '127.0.0.1', () => server.close(() => resolve(false)));
  });
}

const shown = (path: string) => (relative(process.cwd(), path).startsWith('..') ? path : relative(process.cwd(), path));

async function main(): Promise<number> {
  const t0 = Date.now();
  const ports = {
    temporal: port('SANDBOX_TEMPORAL_PORT', 7233),
    ui: port('SANDBOX_UI_PORT', 8233),
    relay: port('SANDBOX_RELAY_PORT', 8787),
    control: port('SANDBOX_CONTROL_PORT', 8788),
  };
  const roles: Record<keyof typeof ports, string> = {
    temporal: 'Temporal frontend',
    ui: 'Temporal Web UI',
    relay: 'webhook relay',
    control: 'sandbox control',
  };
  for (const name of ['REGISTRY_BIN', 'TEST_PKI_DIR', 'NODE_EXTRA_CA_CERTS']) {
    if (!process.env[name])
      throw new Error(
        `${name} is not set: start the sandbox with \`npm run sandbox\` (it installs the tools and test PKI first)`,
      );
  }
  const cli = findTemporalCli();
  if (!cli)
    throw new Error(
      'no Temporal CLI found: run `npm run sandbox` (it installs one under .tools/) or set TEMPORAL_CLI_PATH',
    );
  const dir = dataDir();
  const previous = readState(dir);
  if (previous && previous.pid !== process.pid && alive(previous.pid))
    throw new Error(
      `another sandbox (pid ${previous.pid}) is running from ${shown(dir)}: stop it first (Ctrl-C in its terminal)`,
    );
  const busy = [];
  for (const [role, p] of Object.entries(ports))
    if (await portInUse(p)) busy.push(`${p} (${roles[role as keyof typeof ports]})`);
  if (busy.length) {
    throw new Error(
      `${busy.length > 1 ? 'ports' : 'port'} ${busy.join(', ')} already in use. Is \`npm start\` or another Temporal dev server running? Stop it, or pick other ports:\n  SANDBOX_TEMPORAL_PORT=17233 SANDBOX_UI_PORT=18233 SANDBOX_RELAY_PORT=18787 SANDBOX_CONTROL_PORT=18788 npm run sandbox`,
    );
  }

  // A sandbox starts fresh: last run's deploys point at an origin and registry that are gone.
  mkdirSync(dir, { recursive: true });
  for (const entry of readdirSync(dir)) {
    if (/^(temporal\.db.*|origin-.*|cache|deploy\.config\.yaml|sandbox\.json)$/.test(entry))
      rmSync(join(dir, entry), { recursive: true, force: true });
  }
  const stops: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse())
      await stop().catch((err: Error) => log(`sandbox: while stopping: ${err.message}`));
  };

  try {
    log('gitops-deployer sandbox: the real worker and webhook relay, against local stand-ins (no cloud account)');
    const registry = await startRegistry();
    stops.push(() => registry.stop());
    // Left in the data dir after Ctrl-C for a look (git log); the next start wipes it.
    const origin = await createOrigin({ root: dir, registryHost: registry.host, initialTag: INITIAL_TAG });
    const pushImages = async (tag: string) => {
      for (const image of IMAGES) await registry.pushImage(image, tag);
    };
    await pushImages(INITIAL_TAG); // before Argo CD looks, so production starts Healthy
    const github = await startGitHubStandIn({
      token: GITHUB_TOKEN,
      workflows: [{ owner: OWNER, repo: REPO, workflowFile: 'ci.yml' }],
      originBareDir: origin.bareDir,
    });
    stops.push(() => github.stop());
    const argo = await startArgoCdStandIn({
      token: ARGOCD_TOKEN,
      application: APP,
      originBareDir: origin.bareDir,
      overlayPath: 'k8s/overlays/prod/kustomization.yaml',
      syncDelayMs: 2_000, // long enough to see "syncing" in the Web UI
      imageExists: (image) => registry.hasImage(image.newName.slice(registry.host.length + 1), image.newTag),
    });
    stops.push(() => argo.stop());
    log(
      `  registry   ${registry.endpoint}  (CNCF distribution over HTTPS, images ${IMAGES.join(', ')} at ${INITIAL_TAG})`,
    );
    log(`  origin     ${shown(origin.bareDir)}  (the ${OWNER}/${REPO} monorepo; clone it to look around)`);
    log(`  GitHub     ${github.url}  (stand-in from harness/standins/github.ts: Actions runs and pull requests API)`);
    log(
      `  Argo CD    ${argo.url}  (stand-in from harness/standins/argocd.ts: auto-syncs main of the origin, and each PR's branch)`,
    );

    const temporal = await startDevServer({
      cli,
      dbFile: join(dir, 'temporal.db'),
      port: ports.temporal,
      uiPort: ports.ui,
      searchAttributes: SEARCH_ATTRIBUTES,
      logLevel: 'error',
    });
    stops.push(() => temporal.stop());
    const configPath = join(dir, 'deploy.config.yaml');
    writeFileSync(
      configPath,
      stringify({
        repository: { owner: OWNER, name: REPO, mainBranch: 'main', cloneUrl: origin.url },
        github: { apiUrl: github.url },
        // Short polls: the workflow_run webhook normally wins, the polls are the fallback.
        ci: { workflow: 'ci.yml', timeout: '10m', pollInitial: '2s', pollMax: '5s' },
        registry: { endpoint: registry.endpoint },
        images: IMAGES.map((name) => ({ name, repository: name })),
        argocd: { server: argo.url, application: APP, syncTimeout: '2m' },
        preview: { application: PREVIEW_APP },
        git: { cacheDir: join(dir, 'cache') },
        temporal: { taskQueue: 'gitops-deployer-sandbox' },
      }),
    );
    const config = loadConfig(configPath);
    // The worker's clients read their secrets from the environment, as in production.
    Object.assign(process.env, { GITHUB_TOKEN, ARGOCD_TOKEN });
    const target = temporalTarget({ address: temporal.address }, {}, config.temporal.namespace);
    // The SDK's INFO lines (webpack's bundle report, worker states) would bury the deploy's story.
    Runtime.install({ logger: new DefaultLogger('WARN') });
    const { worker, connection } = await createDeployWorker(config, target);
    stops.push(() => connection.close());
    const client = new Client({ connection: await connectClient(target), namespace: target.namespace });
    stops.push(() => client.connection.close());

    const secret = randomBytes(24).toString('hex');
    const relay = await startRelay({
      client,
      config,
      secret,
      port: ports.relay,
      host: '127.0.0.1',
      log: (line) => log(line.replace(/^relay: /, 'relay:   ')),
    });
    const closeRelay = once(() => relay.close());
    stops.push(closeRelay);
    const repository = `${OWNER}/${REPO}`;
    const side = startGitHubSide({ origin, github, repository, relayUrl: relay.url, secret, pushImages, log });
    const stopSide = once(() => side.stop());
    stops.push(stopSide);
    // Filled in once the control endpoint listens (it answers `starting` until then).
    const ready: { state?: SandboxState } = {};
    // The ApplicationSet's pull-request generator: one application per PR, tracking its branch.
    const previewApp = (pr: number, branch: string) =>
      argo.addApplication({
        name: previewName(PREVIEW_APP, pr),
        targetRevision: branch,
        overlayPath: 'k8s/overlays/preview',
      });
    const control = await startControl({
      port: ports.control,
      origin,
      side,
      repository,
      environment: config.environment.name,
      state: () => ready.state,
      previewApp,
      log,
    });
    const closeControl = once(() => control.close());
    stops.push(closeControl);
    const state: SandboxState = {
      pid: process.pid,
      controlUrl: control.url,
      relayUrl: relay.url,
      uiUrl: temporal.uiUrl,
      temporalAddress: temporal.address,
      namespace: target.namespace,
      repository,
      configPath,
      originDir: origin.bareDir,
    };
    ready.state = state;
    writeFileSync(statePath(dir), `${JSON.stringify(state, null, 2)}\n`);
    stops.push(async () => rmSync(statePath(dir), { force: true }));

    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log(`\nsandbox: ${signal}: closing the relay, draining the worker, stopping the stand-ins...`);
      // The worker drains by itself on SIGINT/SIGTERM; no new work may reach it meanwhile.
      void Promise.all([closeControl(), stopSide(), closeRelay()]);
    };
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => shutdown(signal));

    const running = worker.run();
    log(`
Sandbox ready in ${((Date.now() - t0) / 1000).toFixed(1)}s.
  Temporal Web UI  ${temporal.uiUrl}/namespaces/${target.namespace}/workflows
  Webhook relay    ${relay.url}${WEBHOOK_PATH}  (real relay, signed with a generated secret)
  Worker           task queue "${config.temporal.taskQueue}" on ${temporal.address}
  Config           ${shown(configPath)}

Make a merge, in another terminal:
  npm run sandbox:merge -- --code             code change: CI runs 20 s, pushes sha-<7>, the deploy commits the overlay [skip ci]
  npm run sandbox:merge -- --k8s              manifests only: re-validates the running tag, no overlay commit
  npm run sandbox:merge -- --docs             nothing to deploy: the deploy ends skipped
  npm run sandbox:merge -- --code --fail-ci   CI fails: the deploy fails and production is untouched
  npm run sandbox:merge -- --pr 1 --code      a push to pull request #1 (opened the first time): its preview
  (--ci-seconds N changes how long CI takes)

Ctrl-C stops everything.
`);
    await running;
  } finally {
    await stopAll();
  }
  log('sandbox: stopped.');
  return 0;
}

/** Each close runs once, whether a signal or the final cleanup asks first. */
function once(fn: () => Promise<unknown>): () => Promise<unknown> {
  let done: Promise<unknown> | undefined;
  return () => (done ??= fn());
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`sandbox failed: ${err.message}`);
    process.exit(1);
  },
);
