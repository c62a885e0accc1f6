import { DefaultAzureCredential } from '@azure/identity';
import type { ActivityDeps } from '../activities';
import { RepoCache } from '../activities/git';
import { createOctokit } from '../activities/octokit';
import type { DeployConfig } from '../config/schema';
import { notifySinks } from './notify-sinks';

/** The real clients, with secrets read from the environment only. */
export function createDeps(config: DeployConfig, env: NodeJS.ProcessEnv = process.env): ActivityDeps {
  const { owner, name, mainBranch, cloneUrl } = config.repository;
  return {
    config,
    repo: new RepoCache({
      cloneUrl: cloneUrl ?? `https://github.com/${owner}/${name}.git`,
      cacheDir: config.git.cacheDir,
      branch: mainBranch,
      author: { name: config.git.authorName, email: config.git.authorEmail },
      token: env.GITHUB_TOKEN,
    }),
    octokit: createOctokit({ token: env.GITHUB_TOKEN, baseUrl: config.github.apiUrl }),
    // Only consulted when the registry challenges: ACR exchanges the Azure token for a registry token.
    credential: new DefaultAzureCredential(),
    argocdToken: env.ARGOCD_TOKEN,
    sinks: notifySinks(config, env),
  };
}
