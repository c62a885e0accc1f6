import type { Client } from '@temporalio/client';
import { statusQuery, type DeployPhase } from '../../src/contract/deploy';
import { deployWorkflowId } from '../../src/contract/ids';
import type { Target } from '../../src/contract/target';

/** Polls `probe` until it returns a value (not undefined), or fails after ~30 s naming what it waited for. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const PRODUCTION: Target = { kind: 'production', name: 'production' };

/**
 * Waits until the deploy of `commit` reports `phase` through its status query. The environment
 * starts its deploys itself, so the deploy may not exist yet when this is called: that is waited out too.
 */
export function phaseOf(
  client: Client,
  repository: string,
  commit: string,
  phase: DeployPhase,
  target: Target = PRODUCTION,
): Promise<true> {
  return eventually(`${commit.slice(0, 7)} to reach ${phase}`, async () =>
    (await client.workflow.getHandle(deployWorkflowId(repository, target, commit)).query(statusQuery)).phase === phase
      ? true
      : undefined,
  );
}
