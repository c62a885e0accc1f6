import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Stack } from './stack';

/**
 * With RECORD_HISTORIES set, saves the histories of the given workflow types into test/histories,
 * which the replay test replays against the current code. The Temporal CLI writes the same JSON
 * the Web UI exports, which the replayer reads.
 */
export async function recordHistories(stack: Stack | undefined, types: string[]): Promise<void> {
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
    writeFileSync(join(dir, `${execution.type}-${execution.runId}.json`), json);
  }
}
