// `npm run check:compose`: validates docker-compose.yml as Docker Compose reads it (`config -q`: schema,
// interpolation, anchors, depends_on targets). Uses `docker compose` when the Docker CLI has the plugin, else a
// v2+ `docker-compose`, else builds one into .tools/ (scripts/tools.mjs). No Docker engine is needed.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTools } from './tools.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FILE = join(ROOT, 'docker-compose.yml');

/** `docker compose` if the plugin answers, else a standalone binary (installed when missing). */
async function composeCommand() {
  const plugin = spawnSync('docker', ['compose', 'version', '--short'], { encoding: 'utf8', timeout: 30_000 });
  if (plugin.status === 0 && /^v?([2-9]|[1-9]\d+)\./.test(plugin.stdout.trim())) return ['docker', 'compose'];
  const { compose } = await ensureTools({ temporal: false, compose: true });
  return [compose];
}

/**
 * The file requires its secrets (`${GITHUB_TOKEN:?…}`); the check supplies placeholders for exactly those, in its
 * own environment only, so it passes on a machine without them and never sees a real one.
 */
function placeholderSecrets(text) {
  const names = new Set([...text.matchAll(/\$\{([A-Z_][A-Z0-9_]*):?\?/g)].map((m) => m[1]));
  return Object.fromEntries([...names].map((name) => [name, `placeholder-for-${name.toLowerCase()}`]));
}

const [cmd, ...args] = await composeCommand().catch((err) => {
  console.error(`check:compose: ${err.message}`);
  process.exit(1);
});
const t0 = Date.now();
const r = spawnSync(cmd, [...args, '--project-directory', ROOT, '--file', FILE, 'config', '--quiet'], {
  cwd: ROOT,
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...process.env, ...placeholderSecrets(readFileSync(FILE, 'utf8')) },
});
const by = [cmd, ...args].map((part) => (part.startsWith(ROOT) ? relative(ROOT, part) : part)).join(' ');
if (r.error || r.status !== 0) {
  console.error(`check:compose: ${relative(ROOT, FILE)} is invalid (${by}: ${r.error?.message ?? `exit ${r.status}`})`);
  process.exit(1);
}
console.log(`check:compose: ${relative(ROOT, FILE)} is valid (${by}, ${Date.now() - t0} ms)`);
