import { existsSync } from 'node:fs';
import type { Logger } from '@temporalio/common';
import { Runtime, Worker, type NativeConnection, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { DeployConfig } from '../config/schema';
import type { Tracing } from '../observe/tracing';
import { connectClient, connectWorker, DEFAULT_CONNECT_TIMEOUT_MS, type TemporalTarget } from '../temporal/connection';
import { ensureSearchAttributes } from '../temporal/search-attributes';
import { createDeps } from './deps';
import { UsageError } from './options';
import { workerTracing } from './tracing';
import { bundleWorkflows } from './workflow-code';

export interface DeployWorkerOptions {
  /** Default: the Runtime's logger (installRuntime's, or the SDK's default). */
  logger?: Logger;
  connectTimeoutMs?: number;
  /** How long a shutdown waits for in-flight activities before cancelling them. */
  shutdownGraceMs?: number;
  /** A prebuilt bundle (node dist/worker/bundle.js <file>); absent: bundled now, before connecting. */
  workflowBundle?: string;
  tracing?: Tracing;
}

/** A prebuilt bundle as is, or one made now. Made before connecting, so its seconds do not eat the connect budget. */
async function workflowCode(bundlePath: string | undefined, logger: Logger): Promise<WorkflowBundleOption> {
  if (bundlePath) {
    if (!existsSync(bundlePath))
      throw new UsageError(
        `workflow bundle ${bundlePath} (--workflow-bundle, WORKFLOW_BUNDLE) does not exist: build it with \`node dist/worker/bundle.js ${bundlePath}\`, or unset it to bundle at start`,
      );
    return { codePath: bundlePath };
  }
  const started = Date.now();
  const { code } = await bundleWorkflows(logger);
  logger.info('bundled the workflows at start; a prebuilt bundle (--workflow-bundle) skips this', {
    bundleSeconds: (Date.now() - started) / 1000,
  });
  return { code };
}

/**
 * A worker for the deploy workflows, with the real steps; `worker.run()` drains on SIGINT/SIGTERM.
 * Both connections share one connect budget, so an unreachable Temporal fails the start within
 * `connectTimeoutMs` with a TemporalUnreachableError naming the address.
 */
export async function createDeployWorker(
  config: DeployConfig,
  target: TemporalTarget,
  options: DeployWorkerOptions = {},
): Promise<{ worker: Worker; connection: NativeConnection }> {
  const logger = options.logger ?? Runtime.instance().logger;
  const workflowBundle = await workflowCode(options.workflowBundle, logger);
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const deadline = Date.now() + connectTimeoutMs;
  const remaining = () => Math.max(1_000, deadline - Date.now());
  if (config.temporal.searchAttributes) {
    const client = await connectClient(target, remaining());
    const added = await ensureSearchAttributes(client, target.namespace).finally(() => client.close());
    if (added.length) logger.info('registered search attributes', { namespace: target.namespace, added });
  }
  const connection = await connectWorker(target, remaining());
  const { interceptors, sinks } = workerTracing(options.tracing);
  try {
    const worker = await Worker.create({
      connection,
      namespace: target.namespace,
      taskQueue: config.temporal.taskQueue,
      workflowBundle,
      interceptors,
      sinks,
      activities: createActivities(createDeps(config)),
      ...(options.shutdownGraceMs !== undefined && { shutdownGraceTime: options.shutdownGraceMs }),
      // The SDK sends heartbeats at most every 0.8 × the heartbeat timeout (8 s of 10 s) by default,
      // leaving 2 s of slack; every 3 s leaves 7, so a busy worker is not taken for a dead one.
      maxHeartbeatThrottleInterval: '3 seconds',
      defaultHeartbeatThrottleInterval: '3 seconds',
    });
    return { worker, connection };
  } catch (err) {
    await connection.close();
    throw err;
  }
}
