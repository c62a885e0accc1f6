import type { TokenCredential } from '@azure/identity';
import type { Octokit } from '@octokit/rest';
import type { DeployConfig } from '../config/schema';
import type { ReportConfig } from '../plan/report';
import { argoSteps, type ArgoDeps } from './argocd';
import { ciSteps } from './ci';
import { commentSteps } from './comments';
import { deploymentSteps } from './deployments';
import { detectSteps, type DetectDeps } from './detect';
import type { RepoCache } from './git';
import type { GitHubDeps } from './github';
import { withHeartbeats } from './heartbeat';
import { historySteps, type HistoryDeps } from './history';
import { withFailureLogs } from './log';
import { notifySteps, type NotifyDeps } from './notify';
import { overlaySteps, type OverlayDeps } from './overlay';
import { pullSteps } from './pulls';
import { registryHost, registrySteps, type RegistryDeps } from './registry';
import { settingsSteps, type SettingsDeps } from './settings';

/** What the steps need from outside; the worker builds the real ones (see worker/deps.ts), tests may pass their own. */
export interface ActivityDeps {
  config: DeployConfig;
  repo: RepoCache;
  octokit: Octokit;
  credential: TokenCredential;
  argocdToken?: string;
  /** Notification sinks by name, their URLs read from the worker's environment (src/worker/notify-sinks.ts). */
  sinks?: NotifyDeps['sinks'];
  fetch?: typeof fetch;
}

// Each family of steps gets only what it reads: this is the one place that knows the configuration's shape
// (the exported builders are for tests that run one family against a config).

/** The reporting sections of the config, for the targets' settings and the deploys' plans. */
export function reportConfig(config: DeployConfig): ReportConfig {
  const { environment, preview, temporal } = config;
  return {
    repositoryUrl: repositoryWebUrl(config),
    ...(temporal.uiUrl ? { ui: { url: temporal.uiUrl, namespace: temporal.namespace } } : {}),
    production: { name: environment.name, deployments: environment.githubDeployments, url: environment.url },
    preview: preview && { deployments: preview.githubDeployments, url: preview.url, comment: preview.comment },
    sinks: config.notifications.map(({ name, environments, on }) => ({ name, environments, on })),
  };
}

function settingsDeps(config: DeployConfig): SettingsDeps {
  const { argocd, environment, preview, temporal } = config;
  return {
    production: {
      application: argocd.application,
      syncTimeoutMs: argocd.syncTimeout,
      autoRollback: environment.autoRollback,
    },
    preview: preview && {
      application: preview.application,
      branch: preview.branch,
      syncTimeoutMs: preview.syncTimeout ?? argocd.syncTimeout,
    },
    continueAsNewAfter: environment.continueAsNewAfter,
    searchAttributes: temporal.searchAttributes,
    taskQueue: temporal.taskQueue,
    report: reportConfig(config),
  };
}

function detectDeps(config: DeployConfig, repo: RepoCache): DetectDeps {
  const { ci, argocd, preview } = config;
  return {
    repo,
    rules: config.changeRules,
    images: config.images,
    repositoryUrl: repositoryWebUrl(config),
    searchAttributes: config.temporal.searchAttributes,
    ci: { timeoutMs: ci.timeout, pollInitialMs: ci.pollInitial, pollMaxMs: ci.pollMax, rerunWindowMs: ci.rerunWindow },
    reannounceMs: config.environment.reannounceAfter,
    production: { syncTimeoutMs: argocd.syncTimeout },
    preview: preview && { syncTimeoutMs: preview.syncTimeout ?? argocd.syncTimeout, searchDepth: preview.searchDepth },
    report: reportConfig(config),
  };
}

export function registryDeps(config: DeployConfig, credential: TokenCredential): RegistryDeps {
  return { endpoint: config.registry.endpoint, images: config.images, credential };
}

export function overlayDeps(config: DeployConfig, repo: RepoCache): OverlayDeps {
  const host = registryHost(config.registry.endpoint);
  return {
    repo,
    images: config.images.map((image) => ({ name: image.name, newName: `${host}/${image.repository}` })),
    overlayPath: config.overlay.path,
    mainBranch: config.repository.mainBranch,
    preview: config.preview && { overlayPath: config.preview.overlayPath },
  };
}

export function historyDeps(
  config: DeployConfig,
  repo: RepoCache,
  imagesExist: HistoryDeps['imagesExist'],
): HistoryDeps {
  return {
    repo,
    overlayPath: config.overlay.path,
    mainBranch: config.repository.mainBranch,
    images: config.images,
    imagesExist,
  };
}

function gitHubDeps(config: DeployConfig, octokit: Octokit): GitHubDeps {
  const { owner, name, mainBranch } = config.repository;
  return { octokit, owner, repo: name, mainBranch, apiHost: new URL(config.github.apiUrl).host };
}

function argoDeps(config: DeployConfig, repo: RepoCache, token?: string, fetchImpl?: typeof fetch): ArgoDeps {
  return { repo, server: config.argocd.server, application: config.argocd.application, token, fetch: fetchImpl };
}

/** api.github.com → github.com; GitHub Enterprise's https://host/api/v3 → https://host. */
function repositoryWebUrl(config: DeployConfig): string {
  const api = new URL(config.github.apiUrl);
  const web = api.hostname === 'api.github.com' ? 'https://github.com' : `${api.protocol}//${api.host}`;
  return `${web}/${config.repository.owner}/${config.repository.name}`;
}

/**
 * The steps, one small unit each: for a target's environment its settings, update-overlay,
 * confirm-sync, list-targets, order-commits and remove-preview-branch; for a deploy detect,
 * read-pull-request, search-images, wait-for-ci, read-running-tag and validate-images. Each logs
 * what it did at info (log.ts) and heartbeats while it runs; a failed attempt logs its classification.
 */
export function createActivities(deps: ActivityDeps) {
  const { config, repo } = deps;
  const { imagesExist, ...registry } = registrySteps(registryDeps(config, deps.credential));
  const github = gitHubDeps(config, deps.octokit);
  return withFailureLogs(
    withHeartbeats({
      ...settingsSteps(settingsDeps(config)),
      ...detectSteps(detectDeps(config, repo)),
      ...pullSteps(github),
      ...ciSteps({ ...github, workflow: config.ci.workflow }),
      ...registry,
      ...historySteps(historyDeps(config, repo, imagesExist)),
      ...overlaySteps(overlayDeps(config, repo)),
      ...argoSteps(argoDeps(config, repo, deps.argocdToken, deps.fetch)),
      ...deploymentSteps(github),
      ...commentSteps(github),
      ...notifySteps({ sinks: deps.sinks ?? {}, fetch: deps.fetch }),
    }),
  );
}

export type Activities = ReturnType<typeof createActivities>;
