import { Worker, type NativeConnection } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { DeployConfig } from '../config/schema';
import { connectClient, connectWorker, DEFAULT_CONNECT_TIMEOUT_MS, type TemporalTarget } from '../temporal/connection';
import { ensureSearchAttributes } from '../temporal/search-attributes';
import { createDeps } from './deps';

/**
 * A worker for the deploy workflows, with the real steps; `worker.run()` drains on SIGINT/SIGTERM.
 * Both connections share one connect budget, so an unreachable Temporal fails the start within
 * `connectTimeoutMs` with a TemporalUnreachableError naming the address.
 */
export async function createDeployWorker(
  config: DeployConfig,
  target: TemporalTarget,
  connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS,
): Promise<{ worker: Worker; connection: NativeConnection }> {
  const deadline = Date.now() + connectTimeoutMs;
  const remaining = () => Math.max(1_000, deadline - Date.now());
  if (config.temporal.searchAttributes) {
    const client = await connectClient(target, remaining());
    const added = await ensureSearchAttributes(client, target.namespace).finally(() => client.close());
    if (added.length) console.log(`registered search attributes ${added.join(', ')} in namespace ${target.namespace}`);
  }
  const connection = await connectWorker(target, remaining());
  const worker = await Worker.create({
    connection,
    namespace: target.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowsPath: require.resolve('../workflows'),
    activities: createActivities(createDeps(config)),
    // The SDK sends heartbeats at most every 0.8 × the heartbeat timeout (8 s of 10 s) by default,
    // leaving 2 s of slack; every 3 s leaves 7, so a busy worker is not taken for a dead one.
    maxHeartbeatThrottleInterval: '3 seconds',
    defaultHeartbeatThrottleInterval: '3 seconds',
  });
  return { worker, connection };
}
