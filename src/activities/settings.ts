import type { DeployConfig } from '../config/schema';

export interface EnvironmentSettings {
  syncTimeoutMs: number;
  autoRollback: boolean;
  continueAsNewAfter: number;
  searchAttributes: boolean;
}

/** The worker's policy for the environment workflow, read at each run so a config change applies. */
export function settingsSteps(config: DeployConfig) {
  async function environmentSettings(): Promise<EnvironmentSettings> {
    return {
      syncTimeoutMs: config.argocd.syncTimeout,
      autoRollback: config.environment.autoRollback,
      continueAsNewAfter: config.environment.continueAsNewAfter,
      searchAttributes: config.temporal.searchAttributes,
    };
  }
  return { environmentSettings };
}
