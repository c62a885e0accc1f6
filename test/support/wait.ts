import type { Client } from '@temporalio/client';
import { deployWorkflowId, statusQuery } from '../../src/workflows/definitions';
import type { DeployPhase } from '../../src/workflows/types';

/** Polls `probe` until it returns a value (not undefined), or fails after ~30 s naming what it waited for. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Waits until the deploy of `commit` reports `phase` through its status query. */
export function phaseOf(client: Client, repository: string, commit: string, phase: DeployPhase): Promise<true> {
  return eventually(`${commit.slice(0, 7)} to reach ${phase}`, async () =>
    (await client.workflow.getHandle(deployWorkflowId(repository, commit)).query(statusQuery)).phase === phase
      ? true
      : undefined,
  );
}
