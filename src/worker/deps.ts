import { DefaultAzureCredential } from '@azure/identity';
import { Octokit } from '@octokit/rest';
import type { ActivityDeps } from '../activities';
import { REQUEST_TIMEOUT_MS } from '../activities/faults';
import { RepoCache } from '../activities/git';
import type { DeployConfig } from '../config/schema';

// Failed requests surface as typed activity failures; Octokit's own error log would only repeat them.
const QUIET = { debug() {}, info() {}, warn: console.warn, error() {} };

/**
 * fetch with a deadline on every request. Octokit v22 has no timeout option of its own: it hands
 * `request.fetch` the request and any caller's signal, and wraps what fetch throws (the timeout's
 * TimeoutError stays its cause, which the fault table reads).
 */
function fetchWithTimeout(): typeof fetch {
  return (input, init) => {
    const deadline = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    return fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, deadline]) : deadline });
  };
}

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
    octokit: new Octokit({
      auth: env.GITHUB_TOKEN,
      baseUrl: config.github.apiUrl.replace(/\/+$/, ''),
      userAgent: 'gitops-deployer',
      log: QUIET,
      request: { fetch: fetchWithTimeout() },
    }),
    // Only consulted when the registry challenges: ACR exchanges the Azure token for a registry token.
    credential: new DefaultAzureCredential(),
    argocdToken: env.ARGOCD_TOKEN,
  };
}
