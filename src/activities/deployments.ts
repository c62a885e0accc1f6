import { Context } from '@temporalio/activity';
import { z } from 'zod';
import { description, type DeploymentState } from '../plan/report';
import { permanent, requestFailure } from './failures';
import type { GitHubDeps } from './github';
import { checkInput, fullSha } from './input';
import { short, stepLog } from './log';

export interface OpenDeploymentInput {
  /** The Deployment's ref: a full commit id. */
  commit: string;
  /** GitHub's environment: `production`, `pr-12`. */
  environment: string;
  /** Written into the payload: a retried step finds its own Deployment by it. */
  workflowId: string;
  tag?: string;
  kind: 'deploy' | 'rollback';
  description: string;
  transient: boolean;
  production: boolean;
  /** The first status, posted right after the Deployment is created (or found). */
  state: DeploymentState;
  logUrl?: string;
  environmentUrl?: string;
}

export interface DeploymentStatusInput {
  deploymentId: number;
  state: DeploymentState;
  description: string;
  logUrl?: string;
  environmentUrl?: string;
}

export interface RetireDeploymentInput {
  commit: string;
  environment: string;
  workflowId: string;
  description: string;
  logUrl?: string;
}

export interface DeploymentDeps extends GitHubDeps {
  /** The activity's attempt (1 on the first); tests set it, the worker reads it from the activity's context. */
  attempt?: () => number;
}

const states = z.enum(['queued', 'in_progress', 'success', 'failure', 'inactive']);
// GitHub refuses a description over 140 characters: a longer one is cut, not refused.
const text = z.string().transform(description);
const environment = z.string().min(1).max(255);
const workflowId = z.string().min(1);
const openInput = z.object({
  commit: fullSha,
  environment,
  workflowId,
  tag: z.string().min(1).optional(),
  kind: z.enum(['deploy', 'rollback']),
  description: text,
  transient: z.boolean(),
  production: z.boolean(),
  state: states,
  logUrl: z.url().optional(),
  environmentUrl: z.url().optional(),
});
const statusInput = z.object({
  deploymentId: z.number().int().positive(),
  state: states,
  description: text,
  logUrl: z.url().optional(),
  environmentUrl: z.url().optional(),
});
const retireInput = z.object({
  commit: fullSha,
  environment,
  workflowId,
  description: text,
  logUrl: z.url().optional(),
});

/** The running activity's attempt; 1 for a direct call. */
function activityAttempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

/** The workflow id a Deployment's payload names (GitHub returns a payload given as a string as a string). */
function payloadWorkflowId(payload: unknown): string | undefined {
  let value = payload;
  if (typeof payload === 'string') {
    try {
      value = JSON.parse(payload);
    } catch {
      return undefined;
    }
  }
  const id = (value as { workflowId?: unknown } | null)?.workflowId;
  return typeof id === 'string' ? id : undefined;
}

/** GitHub Deployments and their statuses. */
export function deploymentSteps(deps: DeploymentDeps) {
  const { octokit, owner, repo, apiHost: host } = deps;
  const attempt = deps.attempt ?? activityAttempt;

  const failure =
    (subject: string) =>
    (err: unknown): never => {
      throw requestFailure('GitHub', host, err, {
        subject,
        notFound: `${subject} not found in ${owner}/${repo} (or GITHUB_TOKEN cannot see the repository: GitHub answers 404 to a token that cannot)`,
      });
    };

  /** The Deployment of `workflowId` for `commit` in `environment`, if one was created. */
  async function findOwn(commit: string, env: string, workflow: string) {
    const listed = await octokit
      .paginate(octokit.rest.repos.listDeployments, { owner, repo, sha: commit, environment: env, per_page: 100 })
      .catch(failure(`the deployments of ${short(commit)} in ${env}`));
    // Newest first: the latest of this workflow's, should there ever be more than one.
    return listed.find((d) => payloadWorkflowId(d.payload) === workflow);
  }

  async function latestState(deploymentId: number): Promise<string | undefined> {
    const { data } = await octokit.rest.repos
      .listDeploymentStatuses({ owner, repo, deployment_id: deploymentId, per_page: 1 })
      .catch(failure(`the statuses of deployment ${deploymentId}`));
    return data[0]?.state;
  }

  async function postStatus(
    deploymentId: number,
    status: { state: DeploymentState; description: string; logUrl?: string; environmentUrl?: string },
  ) {
    await octokit.rest.repos
      .createDeploymentStatus({
        owner,
        repo,
        deployment_id: deploymentId,
        state: status.state,
        description: status.description,
        ...(status.logUrl ? { log_url: status.logUrl } : {}),
        ...(status.environmentUrl ? { environment_url: status.environmentUrl } : {}),
        // The reporter names the Deployment a success replaces (retireDeployment); GitHub's own
        // sweep would also touch other workflows' Deployments of a non-production environment.
        auto_inactive: false,
      })
      .catch(failure(`a status of deployment ${deploymentId}`));
  }

  /**
   * Step `report-deployment`: the Deployment of `workflowId` for `commit` in `environment`, created
   * on the first attempt, found by its payload on a retry (a worker died after creating it), then its
   * first status.
   */
  async function openDeployment(raw: OpenDeploymentInput): Promise<{ deploymentId: number; created: boolean }> {
    const input = checkInput(openInput, raw, 'report-deployment');
    const { commit, environment: env } = input;
    const found = attempt() > 1 ? await findOwn(commit, env, input.workflowId) : undefined;
    let deploymentId: number;
    if (found) {
      deploymentId = found.id;
      // The first status may have been posted before the worker died.
      if ((await latestState(deploymentId)) !== undefined) {
        stepLog.info(`deployment ${deploymentId} of ${short(commit)} in ${env} found, its status already posted`, {
          deploymentId,
          environment: env,
          commit,
        });
        return { deploymentId, created: false };
      }
    } else {
      const { data } = await octokit.rest.repos
        .createDeployment({
          owner,
          repo,
          ref: commit,
          task: 'deploy',
          auto_merge: false,
          required_contexts: [],
          payload: { workflowId: input.workflowId, ...(input.tag ? { tag: input.tag } : {}), kind: input.kind },
          environment: env,
          description: input.description,
          transient_environment: input.transient,
          production_environment: input.production,
        })
        .catch(failure(`a deployment of ${short(commit)} to ${env}`));
      // 202 is GitHub's answer to an auto-merge, which this request switched off.
      if (!('id' in data))
        throw permanent(
          `GitHub did not create the deployment of ${short(commit)} to ${env}: ${data.message ?? 'no id in the answer'}`,
          'DeploymentNotCreated',
        );
      deploymentId = data.id;
    }
    await postStatus(deploymentId, input);
    stepLog.info(
      `deployment ${deploymentId} of ${short(commit)} in ${env} ${found ? 'found again' : 'created'}: ${input.state}`,
      { deploymentId, environment: env, commit, state: input.state, created: !found },
    );
    return { deploymentId, created: !found };
  }

  /** Step `report-deployment-status`: one status; a retry does not post it twice. */
  async function setDeploymentStatus(raw: DeploymentStatusInput): Promise<void> {
    const input = checkInput(statusInput, raw, 'report-deployment-status');
    const { deploymentId, state } = input;
    if (attempt() > 1 && (await latestState(deploymentId)) === state) {
      stepLog.info(`deployment ${deploymentId}: ${state} already posted`, { deploymentId, state });
      return;
    }
    await postStatus(deploymentId, input);
    stepLog.info(`deployment ${deploymentId}: ${state}`, { deploymentId, state });
  }

  /** Step `retire-deployment`: the Deployment of `workflowId` at `commit` set inactive, unless it is already; none found: nothing done. */
  async function retireDeployment(raw: RetireDeploymentInput): Promise<{ deploymentId?: number }> {
    const input = checkInput(retireInput, raw, 'retire-deployment');
    const { commit, environment: env } = input;
    const found = await findOwn(commit, env, input.workflowId);
    if (!found) {
      stepLog.info(`no deployment of ${short(commit)} in ${env} to retire`, { environment: env, commit });
      return {};
    }
    const deploymentId = found.id;
    if ((await latestState(deploymentId)) === 'inactive') {
      stepLog.info(`deployment ${deploymentId} of ${short(commit)} in ${env} is already inactive`, {
        deploymentId,
        environment: env,
        commit,
      });
      return { deploymentId };
    }
    await postStatus(deploymentId, { state: 'inactive', description: input.description, logUrl: input.logUrl });
    stepLog.info(`deployment ${deploymentId} of ${short(commit)} in ${env}: inactive`, {
      deploymentId,
      environment: env,
      commit,
      state: 'inactive',
    });
    return { deploymentId };
  }

  return { openDeployment, setDeploymentStatus, retireDeployment };
}
