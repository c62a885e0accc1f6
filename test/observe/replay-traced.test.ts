import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DefaultLogger, Worker } from '@temporalio/worker';
import { workerTracing } from '../../src/worker/tracing';
import { bundleWorkflows } from '../../src/worker/workflow-code';
import { parseHistoryFileName } from '../support/histories';

/**
 * The worker's bundle carries the OpenTelemetry workflow interceptors (always, so a prebuilt bundle
 * serves with tracing on or off) and the product metrics: every recorded history, made before
 * either existed, must still replay with both, as in-flight deploys do after an upgrade.
 */
const dir = join(__dirname, '../histories');
const files = readdirSync(dir).filter((file) => file.endsWith('.json'));

test('every recorded history replays on the worker bundle, workflow interceptors and metrics included', async () => {
  const warnings: string[] = [];
  const { code } = await bundleWorkflows(
    new DefaultLogger('WARN', ({ level, message }) => void warnings.push(`${level} ${message}`)),
  );
  expect(code).toContain('OpenTelemetryInboundInterceptor');
  const histories = files.map((file) => ({
    workflowId: parseHistoryFileName(file)?.workflowId ?? file,
    history: JSON.parse(readFileSync(join(dir, file), 'utf8')),
  }));
  const failures: string[] = [];
  let replayed = 0;
  for await (const result of Worker.runReplayHistories(
    { workflowBundle: { code }, sinks: workerTracing(undefined).sinks, replayName: 'recorded-histories-traced' },
    histories,
  )) {
    replayed++;
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  expect(failures).toEqual([]);
  expect(replayed).toBe(files.length);
  expect(replayed).toBeGreaterThanOrEqual(40);
  expect(warnings).toEqual([]);
});
