// What tests, benchmarks and the sandbox share: the external binaries, the test PKI, a fresh
// build of dist/ (E2E runs `node dist/...`), and the environment that points at all of them.
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTestPki } from './test-pki.mjs';
import { ensureTools } from './tools.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export async function prepareHarness({ label = 'test' } = {}) {
  const t0 = Date.now();
  const tools = await ensureTools({ temporal: true, testServer: true, registry: true });
  const pki = ensureTestPki(resolve(ROOT, '.cache/test-pki'));
  process.stderr.write(`[${label}] tools and PKI ready in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) {
    process.stderr.write(`[${label}] npm run build failed\n`);
    process.exit(build.status ?? 1);
  }
  return {
    ...process.env,
    // NODE_EXTRA_CA_CERTS is read once at process start, so it is set here, not in a setup file.
    NODE_EXTRA_CA_CERTS: pki.ca,
    TEMPORAL_CLI_PATH: tools.temporal,
    TEMPORAL_TEST_SERVER_PATH: tools.testServer,
    REGISTRY_BIN: tools.registry,
    TEST_PKI_DIR: pki.dir,
  };
}
