import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import type { CheckId, CheckReport, DoctorReport } from '../../src/doctor/check';
import { CHECK_IDS } from '../../src/doctor/check';
import { connectClient } from '../../src/temporal/connection';
import { ensureSearchAttributes } from '../../src/temporal/search-attributes';
import { freePort } from '../../harness/ports';
import { eventually } from '../support/wait';
import { APP, GITHUB_TOKEN, IMAGES, INITIAL_TAG, OWNER, REPO, startStack, type Stack } from '../../harness/stack';

/**
 * `deployctl doctor` as a person runs it (a child process), against the real local stack: Temporal
 * dev server, git over HTTPS with the token, the HTTPS registry, GitHub's and Argo CD's stand-ins.
 * One stack for the file; each failure is a changed config file or environment for one run.
 */
const BIN = resolve(__dirname, '../../dist/cli/deployctl.js');
/** The Argo CD stand-in's token (harness/stack.ts). */
const ARGOCD_TOKEN = 'argocd-test-token';
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
  await stack.pushImages(INITIAL_TAG);
  // Argo CD synced main before the images existed (Degraded); a merge after CI pushed them makes it Healthy.
  await stack.origin.commit({ 'docs/doctor.md': 'ready\n' }, 'docs: images pushed');
  await eventually('production to be Healthy', async () => {
    const res = await fetch(`${stack.argo.url}/api/v1/applications/${APP}`, {
      headers: { authorization: `Bearer ${ARGOCD_TOKEN}` },
    });
    const app = (await res.json()) as { status: { health: { status: string } } };
    return app.status.health.status === 'Healthy' ? true : undefined;
  });
}, 120_000);
afterAll(() => stack?.stop());

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function doctor(args: string[], env: Record<string, string | undefined> = {}, config = stack.configPath): Promise<Ran> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TEMPORAL_')));
  const merged = { ...base, TEMPORAL_ADDRESS: stack.temporal.address, GITHUB_TOKEN, ARGOCD_TOKEN, ...env };
  const child = spawn(process.execPath, [BIN, '--config', config, 'doctor', ...args], {
    env: Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((done) => child.once('close', (code) => done({ code, stdout, stderr })));
}

/** The JSON report of one run, with every check's status by id. */
async function report(env: Record<string, string | undefined> = {}, config?: string, args: string[] = []) {
  const ran = await doctor(['--json', ...args], env, config);
  expect(ran.stderr).toBe('');
  const parsed = JSON.parse(ran.stdout) as DoctorReport;
  const status = Object.fromEntries(parsed.checks.map((c) => [c.id, c.status])) as Record<CheckId, string>;
  const byId = (id: CheckId) => parsed.checks.find((c) => c.id === id)!;
  return { ran, parsed, status, byId };
}

/** The sections of the stack's config file that the cases change. */
interface RawConfig {
  images: Array<{ name: string; repository: string }>;
  argocd: { application: string; server: string };
  ci: { timeout: unknown };
}

/** A copy of the stack's config with one section changed. */
function configWith(name: string, edit: (raw: RawConfig) => void): string {
  const raw = parse(readFileSync(stack.configPath, 'utf8')) as RawConfig;
  edit(raw);
  const file = join(stack.dir, `doctor-${name}.yaml`);
  writeFileSync(file, stringify(raw));
  return file;
}

/** The checks that ended with `status`, in order. */
const withStatus = (parsed: DoctorReport, status: string) =>
  parsed.checks.filter((c) => c.status === status).map((c) => c.id);

/** No run prints a token, whatever it reports. */
function expectNoSecrets(ran: Ran) {
  for (const secret of [GITHUB_TOKEN, ARGOCD_TOKEN, 'ghp_wrongwrongwrongwrongwrongwrongwrong12'])
    expect(ran.stdout + ran.stderr).not.toContain(secret);
}

test('search attributes not registered yet: a warning with the commands, still exit 0', async () => {
  const { ran, parsed, byId } = await report();
  expect(ran.code).toBe(0);
  expect(withStatus(parsed, 'warn')).toEqual(['search-attributes']);
  expect(withStatus(parsed, 'pass')).toEqual(CHECK_IDS.filter((id) => id !== 'search-attributes'));
  expect(byId('search-attributes').summary).toContain('not registered in namespace default');
  expect(byId('search-attributes').fix).toContain(
    'temporal operator search-attribute create --namespace default --name DeployEnvironment --type Keyword',
  );
});

test('all green against the local stack: every check passes, printed as it completes, exit 0', async () => {
  // What the worker does at its start, where it may.
  const connection = await connectClient({ address: stack.temporal.address, namespace: 'default' });
  await ensureSearchAttributes(connection, 'default').finally(() => connection.close());
  const ran = await doctor([]);
  expect(ran).toMatchObject({ code: 0, stderr: '' });
  const lines = ran.stdout.trimEnd().split('\n');
  expect(lines[0]).toBe(`deployctl doctor: ${stack.configPath}, with the credentials of this environment`);
  const checks = lines.filter((line) => /^[✔⚠✖–] /.test(line));
  expect(checks.map((line) => line.slice(0, 1))).toEqual(CHECK_IDS.map(() => '✔'));
  expect(lines.at(-1)).toBe(`doctor: all ${CHECK_IDS.length} checks passed`);
  const text = ran.stdout;
  expect(text).toContain('GITHUB_TOKEN present (GitHub App installation token (ghs_…))');
  expect(text).toMatch(/GitHub rate limit +\d+ of 5000 requests left this hour/);
  expect(text).toContain(`${OWNER}/${REPO}: the token may push`);
  expect(text).toContain(`ci.yml ("CI") in ${OWNER}/${REPO}: active`);
  expect(text).toContain(`${stack.registry.host}: every image readable at ${INITIAL_TAG}`);
  for (const image of IMAGES)
    expect(text).toMatch(new RegExp(`${image}: ${stack.registry.host}/${image}:${INITIAL_TAG} sha256:[0-9a-f]{64}`));
  expect(text).toContain('ARGOCD_TOKEN accepted by');
  expect(text).toMatch(new RegExp(`${APP} \\(project default\\): Synced at [0-9a-f]{7}, Healthy`));
  expect(text).toContain('yt-summarizer-pr-{number}: pull request 7 → yt-summarizer-pr-7');
  expect(text).toMatch(/k8s\/overlays\/prod\/kustomization\.yaml at main \([0-9a-f]{7}\): 2 images at sha-e43f28a/);
  expectNoSecrets(ran);
});

test('a GitHub token GitHub refuses: the token check names it and the fix, what needs it is skipped, exit 1', async () => {
  const { ran, status, byId } = await report({ GITHUB_TOKEN: 'ghp_wrongwrongwrongwrongwrongwrongwrong12' });
  expect(ran.code).toBe(1);
  expect(status).toMatchObject({
    config: 'pass',
    temporal: 'pass',
    'github-token': 'fail',
    'github-rate-limit': 'skip',
    'github-push': 'skip',
    'ci-workflow': 'skip',
    overlay: 'skip',
    'argocd-application': 'pass',
  });
  // The registry is still checked, without the running tag the overlay would have named.
  expect(status.registry).toBe('warn');
  const token = byId('github-token');
  expect(token.summary).toContain(
    'GitHub refused GITHUB_TOKEN reading the rate limit (GET /rate_limit) (HTTP 401: Bad credentials)',
  );
  expect(token.fix).toBe(
    `replace GITHUB_TOKEN where the worker runs (its Secret) with a token ${new URL(stack.github.url).host} accepts`,
  );
  expect(byId('overlay').summary).toBe('skipped: needs GitHub token, which did not pass');
  expectNoSecrets(ran);
});

test('an image repository the registry does not have: the registry check names it and the fix, exit 1', async () => {
  const config = configWith('missing-repository', (raw) => (raw.images[1].repository = 'yt-summarizer-gone'));
  const { ran, parsed, byId } = await report({}, config);
  expect(ran.code).toBe(1);
  expect(withStatus(parsed, 'fail')).toEqual(['registry']);
  const registry = byId('registry');
  expect(registry.summary).toBe(
    `the registry has no ${stack.registry.host}/yt-summarizer-gone:${INITIAL_TAG}: the tag production runs`,
  );
  expect(registry.fix).toContain("check images[].repository (each image's repository in the registry)");
  expect(registry.details).toEqual(['images[1]: yt-summarizer-workers → repository yt-summarizer-gone']);
  // The overlay names the old repository; the next deploy would rewrite it.
  expect(byId('overlay')).toMatchObject({ status: 'warn' });
});

test('an Argo CD application that does not exist: named with the fix, exit 1', async () => {
  const config = configWith('unknown-app', (raw) => (raw.argocd.application = 'yt-summarizer-nope'));
  const { ran, parsed, byId } = await report({}, config);
  expect(ran.code).toBe(1);
  expect(withStatus(parsed, 'fail')).toEqual(['argocd-application']);
  const app = byId('argocd-application');
  expect(app.summary).toContain('no application "yt-summarizer-nope", or ARGOCD_TOKEN may not read it (HTTP 403');
  expect(app.fix).toContain('check argocd.application against `argocd app list`');
});

test('an Argo CD token Argo CD does not accept: the token check fails, the application is skipped', async () => {
  const { ran, parsed, byId } = await report({ ARGOCD_TOKEN: 'not-the-argocd-token' });
  expect(ran.code).toBe(1);
  expect(withStatus(parsed, 'fail')).toEqual(['argocd-token']);
  expect(withStatus(parsed, 'skip')).toEqual(['argocd-application']);
  expect(byId('argocd-token').summary).toContain('did not accept ARGOCD_TOKEN');
  expect(byId('argocd-token').fix).toContain('argocd account generate-token');
  expect(ran.stdout).not.toContain('not-the-argocd-token');
});

test('an image the overlay on main has no entry for: the overlay check names it and the entry to add, exit 1', async () => {
  const config = configWith('missing-entry', (raw) =>
    raw.images.push({ name: 'yt-summarizer-web', repository: 'yt-summarizer-web' }),
  );
  const { ran, parsed, byId } = await report({}, config);
  expect(ran.code).toBe(1);
  expect(withStatus(parsed, 'fail')).toEqual(['overlay']);
  const overlay = byId('overlay');
  expect(overlay.summary).toMatch(
    /^k8s\/overlays\/prod\/kustomization\.yaml at main \([0-9a-f]{7}\) has no images entry named "yt-summarizer-web"$/,
  );
  expect(overlay.fix).toBe(
    `add one per image to its images: list, e.g. { name: yt-summarizer-web, newName: ${stack.registry.host}/yt-summarizer-web, newTag: sha-<commit> }`,
  );
});

test('Temporal unreachable: the address and the fix, the search attributes skipped, the rest still checked', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  const { ran, parsed, byId } = await report({ TEMPORAL_ADDRESS: address }, undefined, ['--connect-timeout', '2s']);
  expect(ran.code).toBe(1);
  expect(withStatus(parsed, 'fail')).toEqual(['temporal']);
  expect(withStatus(parsed, 'skip')).toEqual(['search-attributes']);
  const temporal = byId('temporal');
  expect(temporal.summary).toContain(`cannot reach Temporal at ${address} within 2s`);
  expect(temporal.fix).toContain('set TEMPORAL_ADDRESS (or --address) to the frontend host:port');
  expect(byId('search-attributes').summary).toBe('skipped: needs Temporal, which did not pass');
});

test('a token git accepts for reading only: push access fails before any deploy tries', async () => {
  stack.origin.server!.access = 'read';
  try {
    const { ran, parsed, byId } = await report();
    expect(ran.code).toBe(1);
    expect(withStatus(parsed, 'fail')).toEqual(['github-push']);
    expect(withStatus(parsed, 'skip')).toEqual([]);
    const push = byId('github-push');
    expect(push.summary).toBe(
      `GITHUB_TOKEN may read but not push to ${stack.origin.httpsUrl} (git-receive-pack answered HTTP 403)`,
    );
    expect(push.fix).toContain('Contents: Read and write');
  } finally {
    stack.origin.server!.access = 'write';
  }
});

test('a missing token and a broken config: named at once, nothing contacted', async () => {
  const missing = await report({ GITHUB_TOKEN: undefined });
  expect(missing.ran.code).toBe(1);
  expect(missing.byId('github-token')).toMatchObject({ status: 'fail', summary: 'GITHUB_TOKEN is not set' });
  expect(missing.byId('github-token').fix).toContain(`contents: write and actions: read on ${OWNER}/${REPO}`);

  const broken = configWith('broken', (raw) => (raw.ci.timeout = 60));
  const { ran, parsed } = await report({}, broken);
  expect(ran.code).toBe(1);
  const [config, ...rest] = parsed.checks as CheckReport[];
  expect(config).toMatchObject({ status: 'fail', summary: `invalid configuration in ${broken}` });
  expect(config!.details).toEqual(['ci.timeout: 60 has no unit: add a unit, e.g. 60m or 60s']);
  expect(rest.map((c) => c.status)).toEqual(CHECK_IDS.slice(1).map(() => 'skip'));
});

describe('the cheap checks before a start', () => {
  const run = (command: string[], env: Record<string, string | undefined>): Promise<Ran> => {
    const child = spawn(process.execPath, command, {
      cwd: resolve(__dirname, '../..'),
      env: Object.fromEntries(Object.entries({ ...process.env, ...env }).filter(([, v]) => v !== undefined)),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    return new Promise((done) => child.once('close', (code) => done({ code, stdout, stderr })));
  };

  test('the worker exits 2 naming the missing token and the fix, before it connects to anything', async () => {
    const requests = stack.github.requests.length;
    const ran = await run([resolve(__dirname, '../../dist/worker/main.js'), '--config', stack.configPath], {
      TEMPORAL_ADDRESS: stack.temporal.address,
      GITHUB_TOKEN,
      ARGOCD_TOKEN: undefined,
    });
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain('gitops-deployer worker cannot start: 1 problem in its configuration and environment');
    expect(ran.stderr).toContain('  ✖ ARGOCD_TOKEN is not set\n    fix: export an Argo CD API token');
    expect(ran.stderr).toContain('`deployctl doctor` checks the rest');
    expect(ran.stdout).not.toContain('worker polling');
    expect(stack.github.requests.length).toBe(requests);
    expectNoSecrets(ran);
  });

  test("npm start stops on the example's placeholder host before it installs or builds anything", async () => {
    const config = configWith('placeholder', (raw) => (raw.argocd.server = 'https://argocd.example.com'));
    const built = statSync(resolve(__dirname, '../../dist/main.js')).mtimeMs;
    const ran = await run([resolve(__dirname, '../../scripts/start.mjs'), '--config', config], {
      GITHUB_TOKEN,
      ARGOCD_TOKEN,
      GITHUB_WEBHOOK_SECRET: undefined,
      TEMPORAL_ADDRESS: undefined,
    });
    expect(ran.code).toBe(2);
    expect(ran.stderr.split('\n')).toEqual(
      expect.arrayContaining([
        'npm start cannot start: 2 problems in its configuration and environment',
        '  ✖ GITHUB_WEBHOOK_SECRET is not set',
        '  ✖ argocd.server: argocd.example.com is a placeholder (a name reserved for examples), not a server',
        '    fix: set argocd.server to your Argo CD API server',
      ]),
    );
    expect(ran.stderr).not.toContain('[tools]');
    expect(statSync(resolve(__dirname, '../../dist/main.js')).mtimeMs).toBe(built);
  });
});
