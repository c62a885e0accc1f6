import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';

const OPTIONS: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  // Transient failures (network, 5xx, 429) retry; permanent ones are thrown non-retryable by the steps.
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
};

/** One proxy per step so each carries a summary the Web UI shows beside the activity. */
function step<K extends keyof Activities>(name: K, summary: string): Activities[K] {
  return proxyActivities<Activities>({ ...OPTIONS, summary })[name];
}

/** The named steps, as the workflows call them. */
export const steps = {
  detectChanges: step('detectChanges', 'detect: classify the files the merge changed'),
  findCiRun: step('findCiRun', 'wait-for-ci: look up the CI run of the commit'),
  readRunningTag: step('readRunningTag', 'read-running-tag: the tag production runs now'),
  validateImages: step('validateImages', 'validate-images: every image exists in the registry at the tag'),
  updateOverlay: step('updateOverlay', 'update-overlay: commit the tag to the overlay [skip ci]'),
  observeArgoApp: step('observeArgoApp', 'confirm-sync: read the Argo CD application'),
  listTargets: step('listTargets', 'list-targets: production tags from the overlay history'),
  orderCommits: step('orderCommits', 'order-commits: queued commits, newest in git history first'),
  environmentSettings: step('environmentSettings', "the worker's environment policy"),
  readPullRequest: step('readPullRequest', 'read-pull-request: head, base and fork of the pull request'),
  listPullCommits: step('listPullCommits', "read-pull-request: the pull request's commits, newest first"),
  detectPreview: step('detectPreview', 'detect: classify the pull request against its base'),
  findPreviewImages: step('findPreviewImages', "search-images: the newest PR build of the head's code"),
  previewSettings: step('previewSettings', "the worker's preview policy"),
  removePreviewBranch: step('removePreviewBranch', "remove-preview-branch: the closed PR's preview branch"),
};
