import type { Logger } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';
import { formatListenAddress, ListenError, type ListenAddress } from './address';

export interface RuntimeSettings {
  /** Receives the SDK's lines, the workflow and activity `log` lines, and core's own (forwarded). */
  logger: Logger;
  /** Where Prometheus scrapes `/metrics`: the SDK's `temporal_*` metrics and ours. Off when absent. */
  metrics?: ListenAddress;
  /** Histogram bucket boundaries by metric name (unprefixed), in seconds. */
  histogramBuckets?: Record<string, number[]>;
}

/**
 * Installs the process's one Temporal Runtime. It must run before the first NativeConnection or
 * Worker, which would otherwise instantiate a default Runtime (stderr logger, no metrics).
 * Binding the metrics port happens here, so a port in use fails the start, not the first scrape.
 */
export function installRuntime({ logger, metrics, histogramBuckets = {} }: RuntimeSettings): Runtime {
  try {
    return Runtime.install({
      logger,
      telemetryOptions: {
        // Core (Rust) logs its own problems (poll failures, reconnects) through our logger; below WARN is noise.
        logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
        ...(metrics && {
          metrics: {
            prometheus: {
              bindAddress: formatListenAddress(metrics),
              // Seconds, as Prometheus conventions (and our lead-time buckets) expect.
              useSecondsForDurations: true,
              histogramBucketOverrides: histogramBuckets,
            },
          },
        }),
      },
    });
  } catch (err) {
    // Core says "Failed to start prometheus metrics exporter: Address already in use (os error 98)".
    const reason = /metrics exporter: (.*?)( \(os error \d+\))?$/.exec((err as Error).message)?.[1];
    if (metrics && reason)
      throw new ListenError('the metrics endpoint', metrics, reason, '--metrics-address (METRICS_ADDRESS)');
    throw err;
  }
}
