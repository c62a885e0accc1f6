import type { Octokit } from '@octokit/rest';

/** The deployed repository on GitHub, and the client that reads it. */
export interface GitHubDeps {
  octokit: Octokit;
  owner: string;
  repo: string;
  mainBranch: string;
  /** host[:port] of GitHub's API, as failures name it. */
  apiHost: string;
}
