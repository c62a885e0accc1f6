import type { Target } from './target';

const slug = (repository: string) => repository.replace('/', '-');

/**
 * One deploy per repository, target and commit: a repeated start (a webhook redelivery) finds
 * the running one. Production: `deploy-<owner>-<repo>-<sha>`; a preview:
 * `preview-<owner>-<repo>-pr-<n>-<sha>`.
 */
export function deployWorkflowId(repository: string, target: Target, commit: string): string {
  const sha = commit.toLowerCase();
  return target.kind === 'preview'
    ? `preview-${slug(repository)}-pr-${target.pr}-${sha}`
    : `deploy-${slug(repository)}-${sha}`;
}

/** The prefix every deploy id of the target starts with (for visibility queries). */
export function deployWorkflowIdPrefix(repository: string, target: Target | { kind: 'preview' }): string {
  return target.kind === 'preview'
    ? `preview-${slug(repository)}-pr-${'pr' in target ? `${target.pr}-` : ''}`
    : `deploy-${slug(repository)}-`;
}

/** One environment workflow per target owns its overlay: `env-production`, `preview-<owner>-<repo>-pr-<n>`. */
export function environmentWorkflowId(repository: string, target: Target): string {
  return target.kind === 'preview' ? `preview-${slug(repository)}-pr-${target.pr}` : `env-${target.name}`;
}

/**
 * The reporter of one deploy run, rollback or close: `report-<workflow id>-<run id>`. A failed
 * production deploy run again has a new run, hence a reporter (and a Deployment) of its own.
 */
export function reportWorkflowId(workflowId: string, runId: string): string {
  return `report-${workflowId.replace(/\//g, '-')}-${runId}`;
}
