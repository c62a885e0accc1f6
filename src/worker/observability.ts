import type { Logger } from '@temporalio/common';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { ListenAddress } from '../observe/address';
import { startHealthServer, WorkerReadiness, type HealthServer } from '../observe/health';
import { installRuntime } from '../observe/runtime';
import { startTracing, type Tracing } from '../observe/tracing';
import { HISTOGRAM_BUCKETS } from '../workflows/metrics';

/** What a worker process observes itself with: the Runtime (logs, metrics), traces and health. */
export interface WorkerObservability {
  tracing?: Tracing;
  /** SIGINT/SIGTERM came: a worker created after it must not start polling (the SDK's drain had nothing to stop). */
  readonly stopRequested: boolean;
  /** The worker is created: readiness follows its state and a background probe on its connection. */
  attach(worker: Worker, connection: NativeConnection): void;
  /** After the worker stopped (or failed to start): health server down, spans flushed. */
  close(): Promise<void>;
}

/**
 * Sets up, in this order and before any connection: tracing (when OTEL_EXPORTER_OTLP_* is set), the
 * Temporal Runtime with our logger and the Prometheus endpoint, and the health server, which answers
 * `/readyz` 503 "connecting" until `attach`. SIGINT/SIGTERM make it not ready at once; the SDK drains.
 */
export async function startWorkerObservability(options: {
  logger: Logger;
  metrics?: ListenAddress;
  health?: ListenAddress;
  shutdownGraceMs?: number;
}): Promise<WorkerObservability> {
  const { logger } = options;
  const tracing = startTracing('gitops-deployer-worker');
  let health: HealthServer | undefined;
  const readiness = new WorkerReadiness();
  let stopRequested = false;
  try {
    installRuntime({ logger, metrics: options.metrics, histogramBuckets: HISTOGRAM_BUCKETS });
    for (const signal of ['SIGINT', 'SIGTERM'] as const)
      process.once(signal, () => {
        stopRequested = true;
        readiness.stopping();
        logger.info('shutting down: draining in-flight steps', {
          signal,
          ...(options.shutdownGraceMs !== undefined && { graceSeconds: options.shutdownGraceMs / 1000 }),
        });
      });
    if (options.health) health = await startHealthServer(options.health, () => readiness.check(), logger);
  } catch (err) {
    await tracing?.shutdown();
    throw err;
  }
  return {
    tracing,
    get stopRequested() {
      return stopRequested;
    },
    attach: (worker, connection) =>
      readiness.watch(
        () => worker.getState(),
        (deadline) => connection.withDeadline(deadline, () => connection.workflowService.getSystemInfo({})),
      ),
    close: async () => {
      readiness.stopping();
      await health?.close();
      await tracing?.shutdown();
    },
  };
}
