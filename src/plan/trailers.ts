/** Git trailers that mark the deployer's own commits; the relay and the PR search recognise them. */
export const TRAILER_COMMIT = 'Deployed-Commit';
export const TRAILER_WORKFLOW = 'Deploy-Workflow-Id';
export const TRAILER_REQUESTED_BY = 'Requested-By';
export const TRAILER_RULE = 'Preview-Rule';

/** The Deploy-Workflow-Id trailer's value; trailers live in the message's last paragraph, a quoted one in a body does not count. */
export function deployerWorkflowId(message: string): string | undefined {
  const paragraphs = message
    .replace(/\r\n/g, '\n')
    .trim()
    .split(/\n\s*\n/);
  return new RegExp(`^${TRAILER_WORKFLOW}:[ \\t]*(\\S+)`, 'im').exec(paragraphs.at(-1) ?? '')?.[1];
}

/** Any commit of the deployer's: a production overlay change, a rollback or a preview. */
export function hasDeployerTrailer(message: string): boolean {
  return deployerWorkflowId(message) !== undefined;
}

/**
 * The deployer's own change to the production overlay (a deploy or a rollback). A preview's
 * commit does not count: a squash merge copies its message, trailers and all, into main.
 */
export function isProductionOverlayCommit(message: string): boolean {
  const id = deployerWorkflowId(message);
  return id !== undefined && !id.startsWith('preview-');
}

/**
 * What makes GitHub skip push and pull_request workflows for a commit, if its message has it:
 * one of GitHub's markers anywhere, or a `skip-checks: true` trailer as the message's last line.
 */
export function ciSkipMarker(message: string): string | undefined {
  const marker = /\[(?:skip ci|ci skip|no ci|skip actions|actions skip)\]/.exec(message)?.[0];
  if (marker) return marker;
  const lines = message.replace(/\r\n/g, '\n').trimEnd().split('\n');
  return lines.length > 2 && lines.at(-2) === '' && /^skip-checks: ?true$/.test(lines.at(-1)!)
    ? 'skip-checks: true'
    : undefined;
}
