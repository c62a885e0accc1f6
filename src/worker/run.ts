import { Worker, type NativeConnection } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { DeployConfig } from '../config/schema';
import { connectClient, connectWorker, type TemporalTarget } from '../temporal/connection';
import { ensureSearchAttributes } from '../temporal/search-attributes';
import { createDeps } from './deps';

/** A worker for the deploy workflows, with the real steps; `worker.run()` drains on SIGINT/SIGTERM. */
export async function createDeployWorker(config: DeployConfig, target: TemporalTarget): Promise<{ worker: Worker; connection: NativeConnection }> {
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
  return { worker, connection };
}
