#!/usr/bin/env node
import { Command } from 'commander';
import { ConfigError, configPath, loadConfig } from '../config/load';
import { TemporalUnreachableError, temporalTarget } from '../temporal/connection';
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
  console.log(
    `worker polling task queue "${config.temporal.taskQueue}" on ${target.address} (namespace ${target.namespace})`,
  );
  await worker.run(); // drains in-flight tasks on SIGINT/SIGTERM, then resolves
  await connection.close();
}

// Exit codes: 0 drained and stopped, 1 runtime failure (Temporal unreachable at start included), 2 configuration.
main(process.argv).catch((err) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  // An unreachable Temporal is a setting to fix, not a bug: the message names it, no stack needed.
  console.error(
    `worker failed: ${err instanceof TemporalUnreachableError ? err.message : ((err as Error).stack ?? err)}`,
  );
  process.exit(1);
});
