import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';

/**
 * Histories recorded from the end-to-end runs (test/histories, refreshed with
 * `RECORD_HISTORIES=1 npm test -- test/e2e/environment test/e2e/preview`) must replay against the current workflow
 * code: a change that would break in-flight deploys fails here instead of in production.
 */
const dir = join(__dirname, '../histories');
const files = readdirSync(dir).filter((file) => file.endsWith('.json'));

test('recorded histories of every workflow are present', () => {
  expect(files.some((file) => file.startsWith('environment-'))).toBe(true);
  expect(files.some((file) => file.startsWith('previewEnvironment-'))).toBe(true);
  expect(files.filter((file) => file.startsWith('previewDeploy-')).length).toBeGreaterThanOrEqual(5);
  expect(files.filter((file) => file.startsWith('productionDeploy-')).length).toBeGreaterThanOrEqual(5);
});

test('every recorded history replays without nondeterminism', async () => {
  const histories = files.map((file) => ({
    workflowId: file.replace(/\.json$/, ''),
    history: JSON.parse(readFileSync(join(dir, file), 'utf8')),
  }));
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories(
    { workflowsPath: require.resolve('../../src/workflows'), replayName: 'recorded-histories' },
    histories,
  )) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  expect(failures).toEqual([]);
});
