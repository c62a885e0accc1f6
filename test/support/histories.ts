import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Stack } from '../../harness/stack';

/** The workflow types the worker registers: every history of these is worth replaying. */
export const RECORDED_TYPES = ['environment', 'deploy'] as const;

/**
 * A recorded history's file name: `<type>-<workflowId>-<runId>.json`. The workflow id tells the
 * targets apart (`env-production`, `preview-<owner>-<repo>-pr-<n>`, `deploy-…`, `preview-…-pr-<n>-<sha>`),
 * the run id each run of a workflow that continued as new.
 */
export function historyFileName(type: string, workflowId: string, runId: string): string {
  return `${type}-${workflowId}-${runId}.json`;
}

/** The parts of a name historyFileName made, or undefined for any other file. */
export function parseHistoryFileName(file: string): { type: string; workflowId: string; runId: string } | undefined {
  const match = /^([a-zA-Z]+)-(.+)-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.json$/.exec(file);
  return match ? { type: match[1]!, workflowId: match[2]!, runId: match[3]! } : undefined;
}

/**
 * With RECORD_HISTORIES set, saves the histories of the given workflow types (default: both) into
 * test/histories, which the replay test replays against the current code. A run still open (env-production
 * lives forever) is saved up to its last event; the replayer replays it that far. The Temporal CLI writes the
 * same JSON the Web UI exports, which the replayer reads.
 */
export async function recordHistories(
  stack: Stack | undefined,
  types: readonly string[] = RECORDED_TYPES,
): Promise<void> {
  if (!process.env.RECORD_HISTORIES || !stack) return;
  const dir = join(__dirname, '../histories');
  mkdirSync(dir, { recursive: true });
  const query = types.map((type) => `WorkflowType="${type}"`).join(' OR ');
  for await (const execution of stack.client.workflow.list({ query })) {
    const json = execFileSync(
      process.env.TEMPORAL_CLI_PATH!,
      [
        'workflow',
        'show',
        '--address',
        stack.temporal.address,
        '-w',
        execution.workflowId,
        '-r',
        execution.runId,
        '-o',
        'json',
      ],
      { encoding: 'utf8' },
    );
    writeFileSync(join(dir, historyFileName(execution.type, execution.workflowId, execution.runId)), json);
  }
}
