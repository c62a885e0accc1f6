import { defineSearchAttributeKey } from '@temporalio/common';

/**
 * Custom search attributes (all Keyword) that let a person filter deploys in the Web UI or with
 * `deployctl list`, e.g. `DeployEnvironment = "production" AND DeployPhase = "waiting-for-ci"`.
 */
export const DeployEnvironment = defineSearchAttributeKey('DeployEnvironment', 'KEYWORD');
export const DeployCommit = defineSearchAttributeKey('DeployCommit', 'KEYWORD');
export const DeployPath = defineSearchAttributeKey('DeployPath', 'KEYWORD');
export const DeployPhase = defineSearchAttributeKey('DeployPhase', 'KEYWORD');
export const ImageTag = defineSearchAttributeKey('ImageTag', 'KEYWORD');

/** Name → type, for `temporal server start-dev --search-attribute` and `temporal operator search-attribute create`. */
export const SEARCH_ATTRIBUTES = Object.fromEntries([DeployEnvironment, DeployCommit, DeployPath, DeployPhase, ImageTag].map((key) => [key.name, 'Keyword'])) as Record<string, 'Keyword'>;
