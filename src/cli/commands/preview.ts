import type { Command } from 'commander';
import { requestPreview } from '../../client/deploys';
import { inspectEnvironment } from '../../client/environment';
import { formatPreview } from '../format';
import { currentUser, type CommandContext } from './context';

/** `deployctl preview --pr <n> [--sha <commit>]`: preview a pull request's head (or a named commit) now. */
export function previewCommands(
  cli: Command,
  ctx: CommandContext,
  prNumber: (value: string) => number,
  fullCommit: (value: string) => string,
): void {
  cli
    .command('preview')
    .description(
      "deploy a pull request's head to its preview environment (what a push to the PR does); a no-op if that deploy runs or succeeded",
    )
    .usage('--pr <n> [--sha <commit>]')
    .requiredOption('--pr <n>', 'the pull request number', prNumber)
    .option('--sha <commit>', 'the head commit to preview (default: the head GitHub reports now)', fullCommit)
    .action(async (opts: { pr: number; sha?: string }) => {
      const cfg = ctx.config();
      const requestedBy = `deployctl (${currentUser()})`;
      const requested = await ctx.withClient(cfg, ({ client }) =>
        requestPreview(client, cfg, opts.pr, { commit: opts.sha, requestedBy }),
      );
      ctx.show(requested, () =>
        [
          `${requested.environmentWorkflowId}: ${requested.note}`,
          requested.workflowId
            ? `follow it with: deployctl watch --pr ${opts.pr} ${requested.workflowId.split('-').at(-1)!.slice(0, 7)}`
            : `see it with: deployctl status --pr ${opts.pr}`,
        ].join('\n'),
      );
    });
}

/** `deployctl status --pr <n>`: what the PR's preview runs, what it does now, how recent deploys ended. */
export async function showPreview(ctx: CommandContext, pr: number): Promise<void> {
  const cfg = ctx.config();
  const found = await ctx.withClient(cfg, async (temporal) => {
    const snapshot = await inspectEnvironment(temporal.client, cfg, { kind: 'preview', pr });
    if (snapshot) return snapshot;
    throw new Error(
      `#${pr} has no preview in namespace ${temporal.target.namespace} at ${temporal.target.address}: no push to it reached the deployer yet`,
    );
  });
  ctx.show({ workflowId: found.workflowId, execution: found.execution, ...found.view }, () => formatPreview(found));
}
