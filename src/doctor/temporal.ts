import { isGrpcServiceError, type Connection } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import type { PreflightProblem } from '../config/preflight';
import { SEARCH_ATTRIBUTES } from '../contract/search-attributes';
import type { TemporalTarget } from '../temporal/connection';
import { searchAttributeCommands } from '../temporal/search-attributes';
import { fail, pass, warn, type Outcome } from './check';
import { problemOf, problemsFor } from './problems';

const { IndexedValueType } = proto.api.enums.v1;
const NOT_FOUND = 5;

const CONNECT_FIX =
  'set TEMPORAL_ADDRESS (or --address) to the frontend host:port the worker uses, with TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY or TEMPORAL_API_KEY if it needs them';

export interface TemporalCheckInput {
  target: TemporalTarget;
  taskQueue: string;
  preflight: PreflightProblem[];
  connect: () => Promise<Connection>;
}

/** Temporal answers at the address, the namespace exists, and whether a worker polls the task queue now. */
export async function checkTemporal({ target, taskQueue, preflight, connect }: TemporalCheckInput): Promise<Outcome> {
  const refused = problemsFor(preflight, ['TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY']);
  if (refused) return refused;
  const { address, namespace } = target;
  let connection: Connection;
  try {
    connection = await connect();
  } catch (err) {
    return fail(problemOf(err), CONNECT_FIX);
  }
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } catch (err) {
    if (isGrpcServiceError(err) && err.code === NOT_FOUND)
      return fail(
        `namespace ${namespace} does not exist at ${address}`,
        `create it (temporal operator namespace create --namespace ${namespace}) or set TEMPORAL_NAMESPACE / temporal.namespace to the worker's`,
      );
    return fail(`Temporal at ${address} refused to describe namespace ${namespace}: ${problemOf(err)}`, CONNECT_FIX);
  }
  return pass(`${address}, namespace ${namespace}: reachable; ${await pollersOf(connection, namespace, taskQueue)}`);
}

/** Whether a worker polls the task queue: a hint for "my deploys do not move", not a requirement (doctor runs first). */
async function pollersOf(connection: Connection, namespace: string, taskQueue: string): Promise<string> {
  try {
    const { pollers } = await connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue, kind: proto.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    });
    const workers = new Set((pollers ?? []).map((p) => p.identity)).size;
    return workers
      ? `${workers} worker${workers === 1 ? '' : 's'} polled task queue ${taskQueue} recently`
      : `no worker polls task queue ${taskQueue} yet`;
  } catch (err) {
    return `task queue ${taskQueue} not described (${problemOf(err)})`;
  }
}

/** Registered search attributes by name and type, against what the workflows upsert. Pure. */
export function searchAttributesOutcome(
  registered: Record<string, number>,
  namespace: string,
  enabled: boolean,
): Outcome {
  if (!enabled) return pass('not used (temporal.searchAttributes: false)');
  const names = Object.keys(SEARCH_ATTRIBUTES);
  const wrongType = names.filter(
    (name) => name in registered && registered[name] !== IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  );
  if (wrongType.length)
    return fail(
      `${wrongType.join(', ')} registered with another type than Keyword in namespace ${namespace}: upserts fail`,
      'remove them (temporal operator search-attribute remove) and create them as Keyword, or set temporal.searchAttributes: false',
    );
  const missing = names.filter((name) => !(name in registered));
  if (missing.length)
    return warn(
      `${missing.join(', ')} not registered in namespace ${namespace}: the worker adds them at start if its identity may`,
      [
        'if it may not, an operator runs once:',
        ...searchAttributeCommands(namespace).filter((c) => missing.some((name) => c.includes(`--name ${name} `))),
      ].join('\n'),
    );
  return pass(`all ${names.length} registered as Keyword in namespace ${namespace}`);
}

export async function checkSearchAttributes(input: {
  namespace: string;
  enabled: boolean;
  connect: () => Promise<Connection>;
}): Promise<Outcome> {
  if (!input.enabled) return searchAttributesOutcome({}, input.namespace, false);
  try {
    const connection = await input.connect();
    const { customAttributes } = await connection.operatorService.listSearchAttributes({
      namespace: input.namespace,
    });
    return searchAttributesOutcome(customAttributes ?? {}, input.namespace, true);
  } catch (err) {
    return warn(
      `cannot list the search attributes of namespace ${input.namespace}: ${problemOf(err)}`,
      'the worker registers them at start when it may; otherwise see README "The Temporal Web UI" for the commands',
    );
  }
}
