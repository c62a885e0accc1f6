#!/usr/bin/env node
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command } from 'commander';
import { createLogger } from '../observe/log';
import { bundleWorkflows } from './workflow-code';

/**
 * `node dist/worker/bundle.js <out-file>`: the workflow bundle, built once (the image does it at
 * build time) so the worker starts without webpack (`--workflow-bundle <out-file>`). It holds the
 * same workflows and workflow interceptors the worker would bundle at start.
 */
async function main(argv: string[]): Promise<void> {
  const [out] = new Command('gitops-deployer-bundle')
    .description('Builds the workflow bundle the worker loads with --workflow-bundle.')
    .argument('<out-file>', 'where to write the bundle, e.g. dist/workflow-bundle.js')
    .parse(argv).args;
  const logger = createLogger({ component: 'bundle' });
  const started = Date.now();
  const { code } = await bundleWorkflows(logger);
  const file = resolve(out);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, code);
  logger.info(`workflow bundle written to ${file}`, {
    file,
    megabytes: Math.round(code.length / 10_000) / 100,
    seconds: (Date.now() - started) / 1000,
  });
}

main(process.argv).catch((err: unknown) => {
  console.error(`bundle failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
