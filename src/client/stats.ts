import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { DeployConfig } from '../config/schema';
import {
  deployEnd,
  rollbackCoverage,
  rollbacksOf,
  type DeployRecord,
  type FinalStatus,
  type RollbackRecord,
} from '../plan/dora';
import { MAX_OUTCOMES } from '../plan/environment';
import { innermostMessage } from '../contract/failure';
import { DeployPhase } from '../contract/search-attributes';
import { listQuery, statusFromHistory } from './deploys';
import { environmentHandle, inspectEnvironment, NoWorkerError } from './environment';

/** Where the rollbacks came from, and whether they are all there. */
export interface RollbackSource {
  /** The environment workflow whose recorded outcomes were read (`env-production`). */
  workflowId: string;
  /** Every rollback of the window is among them. */
  complete: boolean;
  /** The environment keeps its last MAX_OUTCOMES outcomes: when they start inside the window, from when. */
  coveredSince?: string;
  /** Why the outcomes could not be read (no worker answered the query). */
  unavailable?: string;
}

export interface ProductionHistory {
  deploys: DeployRecord[];
  rollbacks: RollbackRecord[];
  rollbackSource: RollbackSource;
}

/** Visibility pages: large enough that a month of deploys is a page or two. */
const PAGE_SIZE = 500;
/** Close events read at once, for the failed deploys only. */
const READS_AT_ONCE = 8;

/**
 * What `deployctl stats` computes from, read without a worker's help where possible and never a
 * whole history:
 * - the production deploys that closed in the window: Temporal visibility, paged (execution
 *   status, DeployPhase, start and close time);
 * - for each one that failed, whether it failed before or in production: its final status from its
 *   close event (one event, as `deployctl status` reads it), since visibility keeps the phase it
 *   ended in, not the phases it passed;
 * - rollbacks: they are no workflows of their own but changes the environment makes, recorded in its
 *   outcomes; one `environmentStatus` query reads them (no git, no registry, nothing written to its
 *   history, which the `targets` update would do at every call).
 */
export async function readProductionHistory(
  client: Client,
  config: DeployConfig,
  window: { since: string; until: string },
  { pageSize = PAGE_SIZE }: { pageSize?: number } = {},
): Promise<ProductionHistory> {
  const query = `${listQuery(config, { env: 'production' })} AND CloseTime >= "${window.since}" AND CloseTime <= "${window.until}"`;
  const closed: WorkflowExecutionInfo[] = [];
  for await (const info of client.workflow.list({ query, pageSize })) if (info.closeTime) closed.push(info);
  const deploys = await inParallel(closed, READS_AT_ONCE, async (info) => {
    const phase = info.typedSearchAttributes.get(DeployPhase);
    const final = info.status.name === 'FAILED' ? await finalStatus(client, info) : undefined;
    const record: DeployRecord = {
      end: deployEnd(info.status.name, phase, final),
      startedAt: info.startTime.toISOString(),
      closedAt: info.closeTime!.toISOString(),
    };
    if (record.end === 'failed-in-production') record.liveAt = final!.phases.syncing;
    return record;
  });
  return { deploys, ...(await readRollbacks(client, config, window.since)) };
}

/** A failed deploy's last status: the DeployFailed failure carries it (see workflows/deploy.ts). */
function finalStatus(client: Client, info: WorkflowExecutionInfo): Promise<FinalStatus | undefined> {
  // This run only: a failed production deploy may have run again under the same id.
  return statusFromHistory(client.workflow.getHandle(info.workflowId, info.runId, { followRuns: false }));
}

async function readRollbacks(
  client: Client,
  config: DeployConfig,
  since: string,
): Promise<Pick<ProductionHistory, 'rollbacks' | 'rollbackSource'>> {
  const workflowId = environmentHandle(client, config).workflowId;
  try {
    const snapshot = await inspectEnvironment(client, config);
    // Never ran: nothing was ever rolled back.
    if (!snapshot) return { rollbacks: [], rollbackSource: { workflowId, complete: true } };
    const { outcomes } = snapshot.view;
    const coverage = rollbackCoverage(outcomes, since, MAX_OUTCOMES);
    return {
      rollbacks: rollbacksOf(outcomes),
      rollbackSource: { workflowId, complete: coverage.coveredSince === undefined, ...coverage },
    };
  } catch (err) {
    // Frequency and lead time need no worker; say what is missing instead of failing them too. With
    // no worker, the server may answer first ("no poller seen") or the query's deadline may pass.
    const why = err instanceof NoWorkerError ? 'no answer in time' : innermostMessage(err);
    const unavailable = `${workflowId} did not answer the environmentStatus query (is a worker polling task queue "${config.temporal.taskQueue}"?): ${why}`;
    return { rollbacks: [], rollbackSource: { workflowId, complete: false, unavailable } };
  }
}

/** `fn` over `items`, at most `limit` at a time, results in input order. */
async function inParallel<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
