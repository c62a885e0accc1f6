import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import picomatch from 'picomatch';
import { parse } from 'yaml';
import { SEARCH_ATTRIBUTES } from '../../src/contract/search-attributes';
import { startHealthServer, type HealthServer, type Readiness } from '../../src/observe/health';

// No Docker engine runs here, so the image is never built in tests. What can be checked without one is: the
// Dockerfile, .dockerignore and docker-compose.yml agree with each other and with the code, and the health
// checks they run really work against the worker's health server. `npm run check:compose` validates the
// compose file with Docker Compose itself.

const ROOT = resolve(__dirname, '../..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** Dockerfile instructions (continuations joined, comments dropped), grouped by stage. */
function dockerfile(text: string) {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const stages: { from: string; name?: string; steps: { op: string; args: string }[] }[] = [];
  for (const line of lines) {
    const [, op, args] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === 'FROM') {
      const [, from, name] = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args) ?? [];
      stages.push({ from, name, steps: [] });
    } else if (stages.length) stages.at(-1)!.steps.push({ op: op.toUpperCase(), args });
  }
  const stage = (name: string) => stages.find((s) => s.name === name)!;
  const steps = (name: string, op: string) => stage(name).steps.filter((s) => s.op === op);
  return { stages, stage, steps };
}

/** `KEY=value KEY2=value2` of one ENV instruction (no quoting in ours). */
const envOf = (args: string) => Object.fromEntries(args.split(/\s+/).map((pair) => pair.split('=', 2)));

/** Docker's .dockerignore rule: the last pattern matching the path or one of its parent folders decides. */
function dockerignored(patterns: string[], path: string): boolean {
  const prefixes = path.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const matches = picomatch(raw.replace(/^!/, '').replace(/^\/|\/$/g, ''), { dot: true });
    if (prefixes.some((prefix) => matches(prefix))) ignored = !negated;
  }
  return ignored;
}

interface Service {
  image?: string;
  build?: unknown;
  restart?: string;
  command?: string[];
  ports?: string[];
  environment?: Record<string, string | null>;
  volumes?: (string | { type: string; source: string; target: string; read_only?: boolean })[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] };
}

const docker = dockerfile(read('Dockerfile'));
const ignore = read('.dockerignore')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'));
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
const services = Object.entries(compose.services);
/** One-shot jobs: run to completion before what depends on them, never restarted. */
const oneShot = services.filter(([, s]) => s.restart === 'no').map(([name]) => name);
const runtimeEnv = Object.assign({}, ...docker.steps('runtime', 'ENV').map((s) => envOf(s.args))) as Record<
  string,
  string
>;

/** Runs a health check's exec form (["CMD", program, ...args]) without blocking this process's event loop. */
async function runCheck(test: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  const [kind, program, ...args] = test;
  expect(kind).toBe('CMD');
  return promisify(execFile)(program, args, { env: { PATH: process.env.PATH, ...env }, timeout: 20_000 }).then(
    () => 0,
    (err: { code?: number }) => err.code ?? -1,
  );
}

describe('Dockerfile', () => {
  it('pins one Node 22 base by full version and builds every stage on it', () => {
    const [base, ...rest] = docker.stages;
    expect(base.from).toMatch(/^node:22\.\d+\.\d+-bookworm-slim$/);
    expect(rest.map((s) => s.from)).toEqual(rest.map(() => base.name));
    expect(read('Dockerfile')).toContain(`org.opencontainers.image.base.name="docker.io/library/${base.from}"`);
  });

  it('builds the workflow bundle where the runtime looks for it, and ships it', () => {
    const bundle = / node dist\/worker\/bundle\.js (\S+)/.exec(
      docker
        .steps('build', 'RUN')
        .map((s) => s.args)
        .join(' '),
    );
    expect(bundle?.[1]).toBe(runtimeEnv.WORKFLOW_BUNDLE);
    expect(docker.steps('runtime', 'COPY').map((s) => s.args)).toContain('--from=build /app/dist ./dist');
    expect(runtimeEnv.WORKFLOW_BUNDLE).toMatch(/^\/app\/dist\//);
  });

  it('runs as uid 1000 under tini, with deployctl on PATH and the shared runtime settings', () => {
    expect(docker.steps('runtime', 'USER').map((s) => s.args)).toEqual(['1000:1000']);
    expect(docker.steps('runtime', 'ENTRYPOINT').map((s) => JSON.parse(s.args))).toEqual([['/usr/bin/tini', '--']]);
    expect(docker.steps('runtime', 'CMD').map((s) => JSON.parse(s.args))).toEqual([['node', 'dist/worker/main.js']]);
    expect(runtimeEnv).toMatchObject({
      NODE_ENV: 'production',
      HOME: '/tmp',
      DEPLOY_CONFIG: '/etc/gitops-deployer/deploy.config.yaml',
      HEALTH_ADDRESS: '0.0.0.0:8080',
      METRICS_ADDRESS: '0.0.0.0:9464',
    });
    expect(docker.steps('runtime', 'EXPOSE').flatMap((s) => s.args.split(/\s+/))).toEqual(['8080', '9464', '8787']);
    expect(read('Dockerfile')).toContain('ln -s /app/dist/cli/deployctl.js /usr/local/bin/deployctl');
    expect(read('src/cli/deployctl.ts').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('sends only the build inputs: every COPY source is in the context, the heavy folders and user files are not', () => {
    const sources = docker.stages
      .flatMap((s) => s.steps)
      .filter((s) => s.op === 'COPY' && !s.args.startsWith('--from'))
      .flatMap((s) =>
        s.args
          .split(/\s+/)
          .filter((arg) => !arg.startsWith('--'))
          .slice(0, -1),
      );
    expect(sources).toEqual(['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src']);
    for (const source of [...sources, 'src/worker/main.ts'])
      expect({ source, ignored: dockerignored(ignore, source) }).toEqual({ source, ignored: false });
    const excluded = ['node_modules/yaml/package.json', '.tools/registry/usr/bin/docker-registry', '.git/HEAD'];
    excluded.push('.cache/repos/x', '.data/sandbox/x', 'dist/worker/main.js', 'coverage/lcov.info', '.env');
    excluded.push('test/histories/deploy.json', 'deploy.config.yaml', 'src/node_modules/x', 'docs/x.md');
    for (const path of excluded)
      expect({ path, ignored: dockerignored(ignore, path) }).toEqual({ path, ignored: true });
  });

  describe('HEALTHCHECK against the worker health server', () => {
    // The Dockerfile's exec form, in compose's shape.
    const check = [
      'CMD',
      ...JSON.parse(/ CMD (\[.*\])$/.exec(docker.steps('runtime', 'HEALTHCHECK')[0].args)![1]),
    ] as string[];
    let server: HealthServer;
    beforeAll(async () => {
      server = await startHealthServer({ host: '127.0.0.1', port: 0 }, () => ({ ready: false, reason: 'starting' }));
    });
    afterAll(() => server.close());

    it('passes while the worker serves /healthz on the port of HEALTH_ADDRESS (readiness aside)', async () => {
      const port = new URL(server.url).port;
      expect(await runCheck(check, { HEALTH_ADDRESS: `0.0.0.0:${port}` })).toBe(0);
      expect(await runCheck(check, { HEALTH_ADDRESS: `[::]:${port}` })).toBe(0);
    });

    it('fails when nothing serves there or health is off', async () => {
      const closed = await startHealthServer({ host: '127.0.0.1', port: 0 }, () => ({ ready: true }));
      await closed.close();
      expect(await runCheck(check, { HEALTH_ADDRESS: `0.0.0.0:${new URL(closed.url).port}` })).toBe(1);
      expect(await runCheck(check, { HEALTH_ADDRESS: 'off' })).toBe(1);
    });
  });
});

describe('docker-compose.yml', () => {
  it('publishes every port on 127.0.0.1 only', () => {
    const ports = services.flatMap(([name, s]) => (s.ports ?? []).map((port) => ({ name, port })));
    expect(ports.length).toBeGreaterThanOrEqual(5);
    for (const { name, port } of ports)
      expect({ name, port }).toEqual({ name, port: expect.stringMatching(/^127\.0\.0\.1:/) });
  });

  it('health-checks every long-running service, and everything waits on a condition', () => {
    expect(oneShot.sort()).toEqual(['temporal-namespace', 'temporal-schema']);
    for (const [name, s] of services) {
      if (!oneShot.includes(name)) expect({ name, test: s.healthcheck?.test?.[0] }).toEqual({ name, test: 'CMD' });
      expect({ name, listForm: Array.isArray(s.depends_on) }).toEqual({ name, listForm: false });
      for (const [on, { condition }] of Object.entries(s.depends_on ?? {})) {
        const wanted = oneShot.includes(on) ? 'service_completed_successfully' : 'service_healthy';
        expect({ name, on, condition }).toEqual({ name, on, condition: wanted });
      }
    }
  });

  it('pins every image by version and builds the app image once for the worker and the relay', () => {
    const app = services.filter(([, s]) => s.image === 'gitops-deployer:local').map(([name]) => name);
    expect(app.sort()).toEqual(['relay', 'worker']);
    expect(services.filter(([, s]) => s.build).map(([name]) => name)).toEqual(['worker']);
    for (const [name, s] of services.filter(([n]) => !app.includes(n)))
      expect({ name, image: s.image }).toEqual({
        name,
        image: expect.stringMatching(/:\d+\.\d+(\.\d+)?(-[a-z0-9]+)?$/),
      });
    const admin = services.filter(([, s]) => s.image?.startsWith('temporalio/admin-tools:')).map(([, s]) => s.image);
    expect(new Set(admin)).toEqual(new Set([compose.services.temporal.image!.replace('/server:', '/admin-tools:')]));
  });

  it('takes secrets from the shell only, each required with a message', () => {
    const text = read('docker-compose.yml');
    const secrets = ['GITHUB_TOKEN', 'ARGOCD_TOKEN', 'GITHUB_WEBHOOK_SECRET', 'POSTGRES_PASSWORD'];
    for (const name of secrets) expect(text).toMatch(new RegExp(`\\$\\{${name}:\\?set ${name}[^}]+\\}`));
    for (const [name, s] of services)
      for (const [key, value] of Object.entries(s.environment ?? {}))
        if (value !== null && /TOKEN|SECRET|PASSWORD|PWD/.test(key))
          expect({ name, key, value }).toEqual({ name, key, value: expect.stringMatching(/^\$\{[A-Z_]+:\?/) });
    expect(compose.services.worker.environment).toHaveProperty('AZURE_CLIENT_SECRET', null); // passed through if set
  });

  it('mounts the config read-only where the image reads it, and only files the repository has', () => {
    for (const name of ['worker', 'relay']) {
      const mounts = compose.services[name].volumes!.filter((v) => typeof v !== 'string');
      expect(mounts).toContainEqual(expect.objectContaining({ target: runtimeEnv.DEPLOY_CONFIG, read_only: true }));
    }
    const binds = services.flatMap(([, s]) => s.volumes ?? []).filter((v): v is string => typeof v === 'string');
    for (const source of binds.map((v) => v.split(':')[0]).filter((v) => v.startsWith('./')))
      expect({ source, exists: existsSync(join(ROOT, source)) }).toEqual({ source, exists: true });
  });

  it('registers exactly the search attributes the workflows upsert', () => {
    const names = compose.services['temporal-namespace'].environment!.SEARCH_ATTRIBUTES!.split(/\s+/);
    expect(names.sort()).toEqual(Object.keys(SEARCH_ATTRIBUTES).sort());
  });

  it('checks the relay on the port it listens on', () => {
    const relay = compose.services.relay;
    const port = relay.command![relay.command!.indexOf('--port') + 1];
    expect(relay.healthcheck!.test.join(' ')).toContain(`http://127.0.0.1:${port}/healthz`);
    expect(relay.ports).toEqual([`127.0.0.1:\${RELAY_PORT:-8787}:${port}`]);
  });

  describe('the worker check, against the worker health server', () => {
    let ready: Readiness = { ready: false, reason: 'connecting' };
    let server: HealthServer;
    const worker = compose.services.worker;
    const inContainer = `127.0.0.1:${runtimeEnv.HEALTH_ADDRESS.split(':').pop()}`;
    beforeAll(async () => {
      server = await startHealthServer({ host: '127.0.0.1', port: 0 }, () => ready);
    });
    afterAll(() => server.close());
    // The container's port is fixed (8080); here the server listens where the system chose.
    const test = () => worker.healthcheck!.test.map((arg) => arg.replace(inContainer, new URL(server.url).host));

    it('probes /readyz on the health port the image serves', () => {
      expect(worker.healthcheck!.test.join(' ')).toContain(`http://${inContainer}/readyz`);
      expect(worker.ports).toContain(`127.0.0.1:\${WORKER_HEALTH_PORT:-8080}:${inContainer.split(':')[1]}`);
    });

    it('is unhealthy until the worker polls, then healthy', async () => {
      expect(await runCheck(test())).toBe(1);
      ready = { ready: true };
      expect(await runCheck(test())).toBe(0);
    });
  });
});
