import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { DeployConfig } from '../config/schema';
import type { CiRun } from '../plan/ci';
import { ciCompletedSignal, deployWorkflowId, statusQuery } from '../workflows/definitions';
import { DeployCommit, DeployEnvironment, DeployPhase } from '../workflows/search-attributes';
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
      staticSummary: `deploy ${repository}@${input.commit.slice(0, 7)} to production`,
      staticDetails: `Merge commit ${input.commit}${input.before ? ` (main was ${input.before.slice(0, 7)})` : ''}, requested by ${input.requestedBy ?? 'unknown'}.`,
      // Set at start so the deploy is searchable before its first task runs.
      typedSearchAttributes: config.temporal.searchAttributes
        ? [
            { key: DeployEnvironment, value: 'production' },
            { key: DeployCommit, value: input.commit },
            { key: DeployPhase, value: 'detecting' },
          ]
        : undefined,
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

/**
 * Tells the deploy of `run.headSha` that its CI run completed. Returns false when no deploy of that
 * commit is running (a CI run of a docs-only merge, or one that finished already): nothing to do.
 */
export async function signalCiCompleted(client: Client, config: DeployConfig, run: CiRun): Promise<boolean> {
  const repository = `${config.repository.owner}/${config.repository.name}`;
  try {
    await client.workflow.getHandle(deployWorkflowId(repository, run.headSha)).signal(ciCompletedSignal, run);
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}
