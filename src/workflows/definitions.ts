import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { CiRun } from '../plan/ci';
import type { DeployStatus } from './types';

/** Sent by the webhook relay when the CI workflow run for the commit completes. */
export const ciCompletedSignal = defineSignal<[CiRun]>('ciCompleted');
export const statusQuery = defineQuery<DeployStatus>('status');

/** One deploy per repository and commit: a repeated start (webhook redelivery) is a no-op. */
export function deployWorkflowId(repository: string, commit: string): string {
  return `deploy-${repository.replace('/', '-')}-${commit.toLowerCase()}`;
}
