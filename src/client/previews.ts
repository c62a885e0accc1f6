import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { DeployConfig } from '../config/schema';
import type { CiRun } from '../plan/ci';
import { ciCompletedSignal } from '../workflows/definitions';
import type { previewEnvironment } from '../workflows/preview-environment';
import {
  previewDeployWorkflowId,
  previewEnvironmentWorkflowId,
  previewRequestedSignal,
  previewStatusQuery,
  pullRequestClosedSignal,
  type PreviewRequest,
  type PreviewView,
} from '../workflows/preview-definitions';
import { DeployEnvironment, DeployPullRequest } from '../workflows/search-attributes';

export interface RequestedPreview {
  /** The pull request's preview workflow, which starts the deploy. */
  workflowId: string;
  /** The deploy of the given commit, when one was named. */
  deployWorkflowId?: string;
}

const repositoryOf = (config: DeployConfig) => `${config.repository.owner}/${config.repository.name}`;

function requirePreviews(config: DeployConfig): void {
  if (!config.preview)
    throw new Error(
      'previews are not configured: add a preview section (overlayPath, application) to the configuration',
    );
}

/**
 * Asks for a preview of a pull request's head: signal-with-start of the PR's preview workflow,
 * which starts the commit's deploy, supersedes older ones and skips its own overlay pushes.
 */
export async function requestPreview(
  client: Client,
  config: DeployConfig,
  pr: number,
  request: PreviewRequest,
): Promise<RequestedPreview> {
  requirePreviews(config);
  const repository = repositoryOf(config);
  const commit = request.commit?.toLowerCase();
  const workflowId = previewEnvironmentWorkflowId(repository, pr);
  await client.workflow.signalWithStart<typeof previewEnvironment, [PreviewRequest]>('previewEnvironment', {
    taskQueue: config.temporal.taskQueue,
    workflowId,
    args: [{ repository, pr }],
    signal: previewRequestedSignal,
    signalArgs: [{ ...request, commit }],
    staticSummary: `preview environment of ${repository}#${pr}`,
    typedSearchAttributes: config.temporal.searchAttributes
      ? [
          { key: DeployEnvironment, value: 'preview' },
          { key: DeployPullRequest, value: String(pr) },
        ]
      : undefined,
  });
  return { workflowId, ...(commit ? { deployWorkflowId: previewDeployWorkflowId(repository, pr, commit) } : {}) };
}

/** The pull request closed: its preview workflow cancels what is in flight and ends. False when it has none. */
export async function closePreview(
  client: Client,
  config: DeployConfig,
  pr: number,
  closed: { by: string; merged?: boolean },
): Promise<boolean> {
  try {
    await client.workflow
      .getHandle(previewEnvironmentWorkflowId(repositoryOf(config), pr))
      .signal(pullRequestClosedSignal, closed);
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/** Tells a preview deploy its pull_request CI run completed. False when no such deploy is running. */
export async function signalPreviewCi(client: Client, config: DeployConfig, pr: number, run: CiRun): Promise<boolean> {
  try {
    await client.workflow
      .getHandle(previewDeployWorkflowId(repositoryOf(config), pr, run.headSha))
      .signal(ciCompletedSignal, run);
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/** What the pull request's preview runs and does now (running or closed). */
export async function previewStatus(
  client: Client,
  config: DeployConfig,
  pr: number,
  queryTimeoutMs = 10_000,
): Promise<{ workflowId: string; execution: string; view: PreviewView }> {
  const handle = client.workflow.getHandle<typeof previewEnvironment>(
    previewEnvironmentWorkflowId(repositoryOf(config), pr),
  );
  const info = await handle.describe();
  const view =
    info.status.name === 'RUNNING'
      ? await client.connection.withDeadline(Date.now() + queryTimeoutMs, () => handle.query(previewStatusQuery))
      : ((await handle.result().catch(() => undefined)) as PreviewView | undefined);
  if (!view) throw new Error(`the preview workflow of #${pr} ended ${info.status.name.toLowerCase()} without a result`);
  return { workflowId: handle.workflowId, execution: info.status.name, view };
}
