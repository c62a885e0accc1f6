import type { TokenCredential } from '@azure/identity';
import type { Octokit } from '@octokit/rest';
import type { DeployConfig } from '../config/schema';
import { argoSteps } from './argocd';
import { ciSteps } from './ci';
import { detectSteps } from './detect';
import { RepoCache } from './git';
import { overlaySteps } from './overlay';
import { previewSteps } from './preview';
import { pullSteps } from './pulls';
import { withHeartbeats } from './heartbeat';
import { historySteps } from './history';
import { registrySteps } from './registry';
import { settingsSteps } from './settings';

/** What the steps need from outside; the worker builds the real ones (see worker/deps.ts), tests may pass their own. */
export interface ActivityDeps {
  config: DeployConfig;
  repo: RepoCache;
  octokit: Octokit;
  credential: TokenCredential;
  argocdToken?: string;
  fetch?: typeof fetch;
}

/**
 * The steps, one small unit each: detect, wait-for-ci, read-running-tag, validate-images,
 * update-overlay, confirm-sync, and for the environment list-targets, order-commits and its settings;
 * previews add read-pull-request, their own detect and search-images.
 */
export function createActivities(deps: ActivityDeps) {
  const { validateImages, imagesExist } = registrySteps(deps.config, deps.credential);
  return withHeartbeats({
    ...detectSteps(deps.config, deps.repo),
    ...ciSteps(deps.config, deps.octokit),
    validateImages,
    ...overlaySteps(deps.config, deps.repo),
    ...argoSteps(deps.config, deps.repo, deps.argocdToken, deps.fetch),
    ...historySteps(deps.config, deps.repo, imagesExist),
    ...settingsSteps(deps.config),
    ...pullSteps(deps.config, deps.octokit),
    ...previewSteps(deps.config, deps.repo, imagesExist),
  });
}

export type Activities = ReturnType<typeof createActivities>;
