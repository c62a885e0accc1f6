// `npm test`: installs the external binaries and test PKI, builds dist/
// (E2E tests spawn `node dist/...`), then runs jest with extra args passed through.
import { spawn, spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTools } from './tools.mjs';
import { ensureTestPki } from './test-pki.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(ROOT);

const t0 = Date.now();
const tools = await ensureTools({ temporal: true, testServer: true, registry: true });
const pki = ensureTestPki(resolve(ROOT, '.cache/test-pki'));
process.stderr.write(`[test] tools and PKI ready in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const build = spawnSync(npm, ['run', 'build'], { stdio: 'inherit' });
if (build.status !== 0) {
  process.stderr.write('[test] npm run build failed\n');
  process.exit(build.status ?? 1);
}

const env = {
  ...process.env,
  // NODE_EXTRA_CA_CERTS is read once at process start, so it must be set here, not in jest setup.
  NODE_EXTRA_CA_CERTS: pki.ca,
  TEMPORAL_CLI_PATH: tools.temporal,
  TEMPORAL_TEST_SERVER_PATH: tools.testServer,
  REGISTRY_BIN: tools.registry,
  TEST_PKI_DIR: pki.dir,
};
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const jest = spawn(npx, ['jest', '--maxWorkers=2', ...process.argv.slice(2)], { stdio: 'inherit', env });
// Forward Ctrl-C / CI cancellation so jest can stop its servers.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => jest.kill(sig));
jest.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
