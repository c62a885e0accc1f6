import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import type { DeployConfig } from '../config/schema';
import { deployWorkflowId, statusQuery } from '../workflows/definitions';
import type { DeployInput, DeployStatus } from '../workflows/types';

export interface StartedDeploy {
  workflowId: string;
  /** false when this commit's deploy already ran or is running (a redelivery, a second start). */
  started: boolean;
}

/**
 * Starts the production deploy of one merge commit. The id comes from repository and commit, so a
 * repeated start while it runs or after it succeeded is a no-op; a failed deploy may be started again.
 */
export async function startDeploy(client: Client, config: DeployConfig, input: Omit<DeployInput, 'repository'>): Promise<StartedDeploy> {
  const repository = `${config.repository.owner}/${config.repository.name}`;
  const workflowId = deployWorkflowId(repository, input.commit);
  try {
    await client.workflow.start('productionDeploy', {
      taskQueue: config.temporal.taskQueue,
      workflowId,
      args: [{ ...input, repository } satisfies DeployInput],
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    });
    return { workflowId, started: true };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, started: false };
    throw err;
  }
}

export async function deployStatus(client: Client, config: DeployConfig, commit: string): Promise<DeployStatus> {
  const repository = `${config.repository.owner}/${config.repository.name}`;
  return client.workflow.getHandle(deployWorkflowId(repository, commit)).query(statusQuery);
}
