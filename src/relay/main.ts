#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { Client } from '@temporalio/client';
import { ConfigError, configPath, loadConfig } from '../config/load';
import { assertPreflight } from '../config/preflight';
import { createLogger } from '../observe/log';
import { startTracing, tracingClientInterceptors } from '../observe/tracing';
import { connectClient, temporalTarget } from '../temporal/connection';
import { startRelay, WEBHOOK_PATH } from './server';

export { startRelay, type Relay, type RelayOptions } from './server';

class UsageError extends Error {}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError('expected a port number');
  return n;
}

/**
 * The webhook relay alone: GitHub push and workflow_run deliveries become deploy starts and
 * ciCompleted signals. A Temporal client only; the worker runs elsewhere.
 */
async function main(argv: string[]): Promise<void> {
  const opts = new Command('gitops-deployer-relay')
    .option('--config <file>', 'deploy configuration (default: $DEPLOY_CONFIG or ./deploy.config.yaml)')
    .option('--port <port>', 'listen port', port, 8787)
    .option('--host <host>', 'listen address', '0.0.0.0')
    .exitOverride()
    .parse(argv)
    .opts<{ config?: string; port: number; host: string }>();

  // From the environment only, like every secret: never a flag (shell history, ps) or the config file.
  const secret = process.env.GITHUB_WEBHOOK_SECRET;
  if (!secret)
    throw new UsageError(
      'GITHUB_WEBHOOK_SECRET is not set: export the secret configured on the GitHub webhook (Settings → Webhooks) before starting the relay.',
    );
  const config = loadConfig(configPath(opts.config));
  const logger = createLogger({ component: 'relay' });
  // The cheap checks (secrets present, no placeholder hosts) before anything connects: errors exit 2.
  assertPreflight(config, 'relay', {
    report: (warnings) => warnings.forEach((w) => logger.warn(w.problem, { setting: w.subject, fix: w.fix })),
  });
  const target = temporalTarget({}, process.env, config.temporal.namespace);
  // Fails within 10 s naming the address when Temporal does not answer (TemporalUnreachableError).
  const connection = await connectClient(target);
  // Traced (OTLP) only when OTEL_EXPORTER_OTLP_ENDPOINT is set: a delivery's span parents the workflow it starts.
  const tracing = startTracing('gitops-deployer-relay');
  const client = new Client({
    connection,
    namespace: target.namespace,
    interceptors: tracingClientInterceptors(tracing),
  });
  const relay = await startRelay({ client, config, secret, port: opts.port, host: opts.host, logger });
  logger.info(
    `webhook relay listening: ${relay.url}${WEBHOOK_PATH} (Temporal ${target.address}, namespace ${target.namespace})`,
    { url: `${relay.url}${WEBHOOK_PATH}`, temporal: target.address, namespace: target.namespace },
  );

  const signal = await new Promise<NodeJS.Signals>((stop) => {
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  logger.info('webhook relay stopping: finishing in-flight deliveries', { signal });
  await relay.close();
  await connection.close();
  await tracing?.shutdown();
}

// Exit codes: 0 stopped cleanly, 1 runtime failure (Temporal unreachable at start), 2 usage or configuration.
if (require.main === module) {
  main(process.argv).then(
    () => process.exit(0),
    (err: unknown) => {
      if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2); // commander printed it
      const usage = err instanceof ConfigError || err instanceof UsageError;
      // The last words stay plain text on stderr, as the worker's: readable in `kubectl logs` of a crash loop.
      console.error(usage ? (err as Error).message : `relay failed: ${(err as Error).message}`);
      process.exit(usage ? 2 : 1);
    },
  );
}
