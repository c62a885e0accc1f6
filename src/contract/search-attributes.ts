import { defineSearchAttributeKey } from '@temporalio/common';

/**
 * Custom search attributes (all Keyword) that let a person filter deploys in the Web UI or with
 * `deployctl list`, e.g. `DeployEnvironment = "production" AND DeployPhase = "waiting-for-ci"`
 * or `DeployEnvironment = "preview" AND DeployPullRequest = "7"`.
 */
export const DeployEnvironment = defineSearchAttributeKey('DeployEnvironment', 'KEYWORD');
export const DeployCommit = defineSearchAttributeKey('DeployCommit', 'KEYWORD');
export const DeployPath = defineSearchAttributeKey('DeployPath', 'KEYWORD');
export const DeployPhase = defineSearchAttributeKey('DeployPhase', 'KEYWORD');
export const ImageTag = defineSearchAttributeKey('ImageTag', 'KEYWORD');
/** A preview's pull request number, e.g. `DeployPullRequest = "7"`. */
export const DeployPullRequest = defineSearchAttributeKey('DeployPullRequest', 'KEYWORD');

/** Name → type, for `temporal server start-dev --search-attribute` and `temporal operator search-attribute create`. */
export const SEARCH_ATTRIBUTES = Object.fromEntries(
  [DeployEnvironment, DeployCommit, DeployPath, DeployPhase, ImageTag, DeployPullRequest].map((key) => [
    key.name,
    'Keyword',
  ]),
) as Record<string, 'Keyword'>;
