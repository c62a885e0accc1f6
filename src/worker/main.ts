#!/usr/bin/env node
import { Command } from 'commander';
import { ConfigError, configPath, loadConfig } from '../config/load';
import { temporalTarget } from '../temporal/connection';
import { createDeployWorker } from './run';

/** The worker alone, for a real cluster (TEMPORAL_ADDRESS); `npm start` runs the whole local stack. */
async function main(argv: string[]): Promise<void> {
  const opts = new Command('gitops-deployer-worker')
    .option('--config <file>', 'deploy configuration (default: $DEPLOY_CONFIG or ./deploy.config.yaml)')
    .parse(argv)
    .opts<{ config?: string }>();
  const config = loadConfig(configPath(opts.config));
  const target = temporalTarget({}, process.env, config.temporal.namespace);
  const { worker, connection } = await createDeployWorker(config, target);
  console.log(`worker polling task queue "${config.temporal.taskQueue}" on ${target.address} (namespace ${target.namespace})`);
  await worker.run(); // drains in-flight tasks on SIGINT/SIGTERM, then resolves
  await connection.close();
}

main(process.argv).catch((err) => {
  console.error(err instanceof ConfigError ? err.message : `worker failed: ${(err as Error).stack ?? err}`);
  process.exit(err instanceof ConfigError ? 2 : 1);
});
