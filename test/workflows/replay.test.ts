import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { parseHistoryFileName } from '../support/histories';

/**
 * Histories recorded from the end-to-end runs (test/histories, refreshed with
 * `RECORD_HISTORIES=1 npm test -- test/e2e/environment test/e2e/preview test/e2e/production`) must replay against
 * the current workflow code: a change that would break in-flight deploys fails here instead of in production.
 */
const dir = join(__dirname, '../histories');
const files = readdirSync(dir).filter((file) => file.endsWith('.json'));
const recorded = files.map((file) => ({ file, ...parseHistoryFileName(file) }));
const of = (type: string, idPrefix: string) =>
  recorded.filter((r) => r.type === type && r.workflowId?.startsWith(idPrefix));

test('every recorded history is named <type>-<workflowId>-<runId>.json, of a workflow type the worker registers', () => {
  expect(recorded.filter((r) => !r.type || !['environment', 'deploy'].includes(r.type)).map((r) => r.file)).toEqual([]);
});

test('recorded histories of both workflow types and both targets are present', () => {
  // The environment of production (env-<name>) and of a pull request's preview (preview-<owner>-<repo>-pr-<n>).
  expect(of('environment', 'env-').length).toBeGreaterThanOrEqual(1);
  expect(of('environment', 'preview-').length).toBeGreaterThanOrEqual(1);
  // Deploys of production (deploy-<owner>-<repo>-<sha>) and of previews (preview-<owner>-<repo>-pr-<n>-<sha>).
  expect(of('deploy', 'deploy-').length).toBeGreaterThanOrEqual(5);
  expect(of('deploy', 'preview-').length).toBeGreaterThanOrEqual(5);
});

test('every recorded history replays without nondeterminism', async () => {
  const histories = recorded.map(({ file, workflowId }) => ({
    workflowId: workflowId ?? file,
    history: JSON.parse(readFileSync(join(dir, file), 'utf8')),
  }));
  const failures: string[] = [];
  let replayed = 0;
  for await (const result of Worker.runReplayHistories(
    { workflowsPath: require.resolve('../../src/workflows'), replayName: 'recorded-histories' },
    histories,
  )) {
    replayed++;
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  expect(failures).toEqual([]);
  expect(replayed).toBe(files.length);
});
