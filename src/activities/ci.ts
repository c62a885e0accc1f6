import { z } from 'zod';
import type { CiRun } from '../plan/ci';
import { requestFailure } from './failures';
import type { GitHubDeps } from './github';
import { checkInput, fullSha } from './input';
import { short, stepLog } from './log';

const findInput = z.object({ commit: fullSha, event: z.enum(['push', 'pull_request']).default('push') });

export interface CiDeps extends GitHubDeps {
  /** The CI workflow's file name (`ci.yml`), id, or display name (`CI`). */
  workflow: string;
}

/** Step `wait-for-ci`'s probe: the newest CI run for the commit (a push to main, or a pull request's), or null if CI has not started. */
export function ciSteps({ octokit, owner, repo, mainBranch, apiHost: host, workflow }: CiDeps) {
  async function findCiRun(raw: { commit: string; event?: 'push' | 'pull_request' }): Promise<CiRun | null> {
    const { commit, event } = checkInput(findInput, raw, 'wait-for-ci');
    try {
      // A pull request's run is on its head branch, which the commit already pins down.
      const query = {
        owner,
        repo,
        head_sha: commit,
        event,
        per_page: 20,
        ...(event === 'push' ? { branch: mainBranch } : {}),
      };
      // The API filters by workflow file or id; a display name ("CI") is matched on the repository's runs.
      const byFile = /\.ya?ml$|^\d+$/.test(workflow);
      const { data } = byFile
        ? await octokit.rest.actions.listWorkflowRuns({ ...query, workflow_id: workflow })
        : await octokit.rest.actions.listWorkflowRunsForRepo(query);
      const runs = byFile ? data.workflow_runs : data.workflow_runs.filter((r) => r.name === workflow);
      // Newest first; a re-run keeps its id and bumps run_attempt.
      const run = runs.find((r) => r.head_sha.toLowerCase() === commit.toLowerCase());
      const found: CiRun | null = run
        ? {
            id: run.id,
            status: run.status ?? 'queued',
            conclusion: run.conclusion ?? null,
            url: run.html_url,
            headSha: run.head_sha,
            attempt: run.run_attempt,
          }
        : null;
      if (found) {
        const state = found.conclusion ? `${found.status}, ${found.conclusion}` : found.status;
        stepLog.info(`CI run ${found.id} of ${short(commit)} (${workflow}, ${event}): ${state}`, {
          commit,
          ciRun: {
            id: found.id,
            status: found.status,
            conclusion: found.conclusion,
            attempt: found.attempt,
            url: found.url,
          },
        });
      } else stepLog.info(`no CI run of ${short(commit)} yet (${workflow}, ${event})`, { commit });
      return found;
    } catch (err) {
      throw requestFailure('GitHub', host, err, {
        subject: `the CI runs of ${workflow} in ${owner}/${repo}`,
        notFound: `CI workflow "${workflow}" not found in ${owner}/${repo}; check ci.workflow (and that GITHUB_TOKEN can see the repository: GitHub answers 404 to a token that cannot)`,
      });
    }
  }

  return { findCiRun };
}
