import { z } from 'zod';
import type { PullCommit } from '../plan/preview';
import { hasDeployerTrailer } from '../plan/trailers';
import { requestFailure } from './failures';
import type { GitHubDeps } from './github';
import { checkInput, prNumber } from './input';
import { count, short, stepLog } from './log';

const prInput = z.object({ pr: prNumber });
const commitsInput = z.object({
  pr: prNumber,
  limit: z.number().int().min(1).max(250).default(100),
});

/** What a preview needs to know about a pull request. */
export interface PullRequestInfo {
  number: number;
  state: 'open' | 'closed';
  merged: boolean;
  headSha: string;
  /** The head branch (in the head repository). */
  headRef: string;
  baseRef: string;
  /** The head lives in another repository: the deployer cannot push its overlay there. */
  fork: boolean;
  /** owner/name of the head repository, or null when the fork was deleted. */
  headRepository: string | null;
  /** The head branch is this repository's main branch (a release PR): no preview commit goes there. */
  headIsMain: boolean;
  url: string;
}

/** Step `read-pull-request`: the pull request and its commits, from GitHub's REST API. */
export function pullSteps({ octokit, owner, repo, mainBranch, apiHost: host }: GitHubDeps) {
  const fullName = `${owner}/${repo}`.toLowerCase();

  const failure =
    (pr: number) =>
    (err: unknown): never => {
      throw requestFailure('GitHub', host, err, {
        subject: `pull request #${pr} of ${owner}/${repo}`,
        notFound: `pull request #${pr} not found in ${owner}/${repo}`,
      });
    };

  async function readPullRequest(raw: { pr: number }): Promise<PullRequestInfo> {
    const { pr } = checkInput(prInput, raw, 'read-pull-request');
    const { data } = await octokit.rest.pulls.get({ owner, repo, pull_number: pr }).catch(failure(pr));
    const headRepository = data.head.repo?.full_name ?? null;
    const fork = headRepository?.toLowerCase() !== fullName;
    const state = data.state === 'closed' ? (data.merged ? 'merged' : 'closed') : 'open';
    stepLog.info(
      `pull request #${pr}: ${state}, head ${short(data.head.sha)} on ${data.head.ref}${fork ? ` of the fork ${headRepository ?? '(deleted)'}` : ''}, base ${data.base.ref}`,
      { pr, state, head: data.head.sha.toLowerCase(), headRef: data.head.ref, baseRef: data.base.ref, fork },
    );
    return {
      number: data.number,
      state: data.state === 'closed' ? 'closed' : 'open',
      merged: Boolean(data.merged),
      headSha: data.head.sha.toLowerCase(),
      headRef: data.head.ref,
      baseRef: data.base.ref,
      fork,
      headIsMain: !fork && data.head.ref === mainBranch,
      headRepository,
      url: data.html_url,
    };
  }

  /** The PR's commits, newest first (GitHub lists them oldest first, at most 250). */
  async function listPullCommits(raw: { pr: number; limit?: number }): Promise<PullCommit[]> {
    const { pr, limit } = checkInput(commitsInput, raw, 'read-pull-request');
    const commits = await octokit
      .paginate(octokit.rest.pulls.listCommits, { owner, repo, pull_number: pr, per_page: 100 })
      .catch(failure(pr));
    const listed = commits
      .reverse()
      .slice(0, limit)
      .map((c) => ({ sha: c.sha.toLowerCase(), overlay: hasDeployerTrailer(c.commit.message) }));
    const overlays = listed.filter((c) => c.overlay).length;
    stepLog.info(
      `pull request #${pr}: ${count(listed.length, 'commit')} read, ${overlays} of them the deployer's overlay commits`,
      {
        pr,
        commits: listed.length,
        overlayCommits: overlays,
      },
    );
    return listed;
  }

  return { readPullRequest, listPullCommits };
}
