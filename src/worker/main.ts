#!/usr/bin/env node
import { CommanderError } from 'commander';
import { ConfigError, configPath, loadConfig } from '../config/load';
import { assertPreflight } from '../config/preflight';
import { formatListenAddress, ListenError } from '../observe/address';
import { createLogger } from '../observe/log';
import { TemporalUnreachableError, temporalTarget } from '../temporal/connection';
import { startWorkerObservability } from './observability';
import { parseWorkerOptions, UsageError } from './options';
import { createDeployWorker } from './run';

/** The worker alone, for a real cluster (TEMPORAL_ADDRESS); `npm start` runs the whole local stack. */
async function main(argv: string[]): Promise<void> {
  const options = parseWorkerOptions(argv);
  const config = loadConfig(configPath(options.config));
  const logger = createLogger({ component: 'worker' });
  // The cheap checks (secrets present, no placeholder hosts) before anything connects: errors exit 2.
  assertPreflight(config, 'worker', {
    report: (warnings) => warnings.forEach((w) => logger.warn(w.problem, { setting: w.subject, fix: w.fix })),
  });
  const target = temporalTarget({}, process.env, config.temporal.namespace);

  // Before any connection: the Runtime (logs, metrics), traces, and /readyz answering "connecting".
  const observe = await startWorkerObservability({
    logger,
    metrics: options.metrics,
    health: options.health,
    shutdownGraceMs: options.shutdownGraceMs,
  });
  try {
    const { worker, connection } = await createDeployWorker(config, target, {
      logger,
      tracing: observe.tracing,
      workflowBundle: options.workflowBundle,
      shutdownGraceMs: options.shutdownGraceMs,
    });
    if (observe.stopRequested) {
      // The worker never ran: nothing to drain, and the process exit releases it and its connection.
      logger.info('worker stopped before it polled: asked to stop while starting');
      return;
    }
    observe.attach(worker, connection);
    logger.info(`worker polling task queue "${config.temporal.taskQueue}" on ${target.address}`, {
      taskQueue: config.temporal.taskQueue,
      address: target.address,
      namespace: target.namespace,
      ...(options.metrics && { metrics: `http://${formatListenAddress(options.metrics)}/metrics` }),
      ...(observe.tracing && { traces: observe.tracing.endpoint, serviceName: observe.tracing.serviceName }),
    });
    // Resolves once drained (SIGINT/SIGTERM), rejects on a fatal worker error.
    await worker.run().finally(() => connection.close());
    logger.info('worker stopped');
  } finally {
    await observe.close();
  }
}

// Exit codes: 0 drained and stopped, 1 runtime failure (Temporal unreachable at start included), 2 usage or configuration.
main(process.argv).then(
  () => process.exit(0),
  (err: unknown) => {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2); // commander printed it
    if (err instanceof ConfigError || err instanceof UsageError) {
      console.error(err.message);
      process.exit(2);
    }
    // An unreachable Temporal or a taken port is a setting to fix, not a bug: the message names it, no stack needed.
    const setting = err instanceof TemporalUnreachableError || err instanceof ListenError;
    console.error(`worker failed: ${setting ? err.message : ((err as Error).stack ?? err)}`);
    process.exit(1);
  },
);
