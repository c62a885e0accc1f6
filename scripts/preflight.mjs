// `npm start`'s cheap checks, before it installs the Temporal CLI or builds: the configuration and
// src/config/preflight.ts run from their TypeScript (tsx, a devDependency: `npm start` is a
// development path), so a missing token costs half a second instead of a 15-second build.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Loads the configuration and runs the start checks for `role`; prints what it finds. Resolves to
 * the exit code to stop with (2), or 0 to go on.
 */
export async function runPreflight({ configFile, role, who, env = process.env }) {
  let tsImport;
  try {
    ({ tsImport } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write('preflight skipped (tsx is not installed: npm ci); the program checks after the build\n');
    return 0;
  }
  const { ConfigError, loadConfig } = await tsImport(resolve(ROOT, 'src/config/load.ts'), import.meta.url);
  const { formatPreflight, preflight } = await tsImport(resolve(ROOT, 'src/config/preflight.ts'), import.meta.url);
  let config;
  try {
    config = loadConfig(resolve(configFile));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 2;
  }
  const problems = preflight(config, env, role);
  if (problems.length) process.stderr.write(`${formatPreflight(problems, who)}\n`);
  return problems.some((p) => p.severity === 'error') ? 2 : 0;
}
