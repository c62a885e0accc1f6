// `npm run check:helm`: the chart lints (strict: warnings fail) and renders with the default values and with every
// example in its ci/ folder. Exits 1 on the first kind of failure it finds, after trying every values file.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTools } from './tools.mjs';

const ROOT = resolve(fileURLToPath(import.meta.url), '../..');
const CHART = join(ROOT, 'deploy/helm/gitops-deployer');

const { helm } = await ensureTools({ temporal: false, helm: true });
const examples = readdirSync(join(CHART, 'ci'))
  .filter((f) => /\.ya?ml$/.test(f))
  .sort()
  .map((f) => join(CHART, 'ci', f));

let failed = 0;
function check(label, args) {
  const t0 = Date.now();
  const r = spawnSync(helm, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.status === 0) {
    process.stderr.write(`[check:helm] ok   ${label} (${seconds}s)\n`);
  } else {
    failed++;
    process.stderr.write(`[check:helm] FAIL ${label}\n${r.error?.message ?? ''}${r.stdout}${r.stderr}\n`);
  }
}

for (const values of [undefined, ...examples]) {
  const name = values ? relative(CHART, values) : 'default values';
  const files = values ? ['-f', values] : [];
  check(`helm lint --strict (${name})`, ['lint', '--strict', CHART, ...files]);
  check(`helm template (${name})`, ['template', 'gitops-deployer', CHART, '--namespace', 'gitops-deployer', ...files]);
}
if (failed) {
  process.stderr.write(`[check:helm] ${failed} check(s) failed\n`);
  process.exit(1);
}
