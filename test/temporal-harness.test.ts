import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, WorkflowClient } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { startDevServer, timeSkippingServerPath } from '../harness/temporal';

// Enum values from grpc.health.v1 and temporal.api.enums.v1 (@temporalio/proto is only a transitive dependency).
const SERVING = 1;
const KEYWORD = 2;
const INT = 3;

test('dev server serves, registers search attributes and keeps state in dbFile across restarts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'harness-'));
  const dbFile = join(dir, 'state.db');
  let server = await startDevServer({ searchAttributes: { DeployService: 'Keyword', DeployAttempt: 'Int' }, dbFile });
  try {
    let connection = await Connection.connect({ address: server.address });
    const health = await connection.healthService.check({});
    expect(health.status).toBe(SERVING);
    const { namespaces } = await connection.workflowService.listNamespaces({});
    expect(namespaces.map((n) => n.namespaceInfo?.name)).toContain('default');
    const attrs = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(attrs.customAttributes).toMatchObject({
      DeployService: KEYWORD,
      DeployAttempt: INT,
    });
    // No worker polls this queue, so the workflow simply stays running.
    const client = new WorkflowClient({ connection });
    await client.start('neverPolled', { taskQueue: 'harness-nobody', workflowId: 'survives-restart' });
    await connection.close();

    await server.stop();
    server = await startDevServer({ dbFile });
    connection = await Connection.connect({ address: server.address });
    const desc = await new WorkflowClient({ connection }).getHandle('survives-restart').describe();
    expect(desc.status.name).toBe('RUNNING');
    await connection.close();
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('time-skipping test server starts from the installed binary and skips time', async () => {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: timeSkippingServerPath() } },
  });
  try {
    expect(env.supportsTimeSkipping).toBe(true);
    const before = (await env.currentTimeMs()) as number;
    await env.sleep('1 day');
    expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(86_400_000);
  } finally {
    await env.teardown();
  }
});
