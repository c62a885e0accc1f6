import { z } from 'zod';
import type { TargetSettings } from '../contract/environment';
import type { Target } from '../contract/target';
import { previewName } from '../plan/preview';
import { reportSettingsFor, type ReportConfig } from '../plan/report';
import { previewsConfigured } from './failures';
import { checkInput, targetInput } from './input';

export interface SettingsDeps {
  production: { application: string; syncTimeoutMs: number; autoRollback: boolean };
  /** Templates with `{number}` (preview.application, preview.branch); absent: previews are not configured. */
  preview?: { application: string; branch?: string; syncTimeoutMs: number };
  continueAsNewAfter: number;
  searchAttributes: boolean;
  taskQueue: string;
  report: ReportConfig;
}

const settingsInput = z.object({ target: targetInput });

/** The worker's policy for a target's environment workflow, read at each run so a config change applies. */
export function settingsSteps(deps: SettingsDeps) {
  async function targetSettings(raw: { target: Target }): Promise<TargetSettings> {
    const { target } = checkInput(settingsInput, raw, 'target-settings');
    const { continueAsNewAfter, searchAttributes, taskQueue } = deps;
    const common = { continueAsNewAfter, searchAttributes, taskQueue, report: reportSettingsFor(deps.report, target) };
    if (target.kind === 'production') {
      const { application, syncTimeoutMs, autoRollback } = deps.production;
      return { application, trackedBranch: null, previewBranch: null, syncTimeoutMs, autoRollback, ...common };
    }
    const preview = previewsConfigured(deps.preview);
    const previewBranch = preview.branch ? previewName(preview.branch, target.pr) : null;
    return {
      application: previewName(preview.application, target.pr),
      // null: the application tracks the PR's own branch.
      trackedBranch: previewBranch,
      previewBranch,
      syncTimeoutMs: preview.syncTimeoutMs,
      autoRollback: false,
      ...common,
    };
  }
  return { targetSettings };
}
