import { InvalidArgumentError, type Command } from 'commander';
import type { DeployConfig } from '../../config/schema';
import type { RollbackRequest } from '../../plan/environment';
import { environmentWorkflowId } from '../../contract/ids';
import type { EnvironmentView } from '../../contract/environment';
import {
  environmentHandle,
  inspectEnvironment,
  listTargets,
  pauseEnvironment,
  resumeEnvironment,
  rollbackEnvironment,
  rollbackProblem,
  type EnvironmentSnapshot,
} from '../../client/environment';
import { clock, formatEnvironment, formatRollbackOutcome, formatTargets } from '../format';
import { currentUser, EXIT, type CommandContext } from './context';

const ENV_HELP = 'the environment (must be environment.name of the config)';

function targetLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new InvalidArgumentError('expected a whole number from 1 to 100');
  return n;
}

/** `--env` names the environment this configuration deploys; any other is a usage error naming the right one. */
export function checkEnvironment(cmd: Command, cfg: DeployConfig, env: string): void {
  const configured = cfg.environment.name;
  if (env !== configured)
    usage(
      cmd,
      `--env ${env}: this configuration deploys the "${configured}" environment (environment.name); use --env ${configured}`,
    );
}

/** Prints the problem and the command's usage line, then exits 2 (commander's path for usage errors). */
function usage(cmd: Command, message: string): never {
  cmd.error(`error: ${message}`, { exitCode: EXIT.usage, code: 'deployctl.usage' });
}

const snapshotJson = ({ workflowId, execution, view }: EnvironmentSnapshot) => ({ workflowId, execution, ...view });
/** An update's answer is the running environment's view. */
const running = (workflowId: string, view: EnvironmentView): EnvironmentSnapshot => ({
  workflowId,
  execution: 'RUNNING',
  view,
});

/** `deployctl status --env <name>`: the environment's view (the commit form lives in deployctl.ts). */
export async function showEnvironment(ctx: CommandContext, cmd: Command, env: string): Promise<void> {
  const cfg = ctx.config();
  checkEnvironment(cmd, cfg, env);
  const snapshot = await ctx.withClient(cfg, async (temporal) => {
    const found = await inspectEnvironment(temporal.client, cfg);
    if (found) return found;
    const where = `in namespace ${temporal.target.namespace} at ${temporal.target.address}`;
    throw new Error(
      `${environmentWorkflowId(`${cfg.repository.owner}/${cfg.repository.name}`, { kind: 'production', name: env })} is not running ${where}: nothing was deployed, paused or rolled back yet`,
    );
  });
  ctx.show(snapshotJson(snapshot), () => formatEnvironment(snapshot));
}

export function environmentCommands(cli: Command, ctx: CommandContext): void {
  cli
    .command('rollback')
    .description(
      'roll production back to an earlier tag (its images are checked first), then hold it there until `deployctl resume`; waits for the outcome: exit 0 rolled back, 1 refused or failed',
    )
    .usage('--env <name> --to <sha-xxxxxxx|previous> --reason <text> [--by <name>] [--no-wait]')
    .requiredOption('--env <name>', ENV_HELP)
    .requiredOption('--to <target>', '"previous", or a production tag like sha-abc1234 (see deployctl targets)')
    .requiredOption('--reason <text>', 'why, for the rollback commit and the hold (one line)')
    .option('--by <name>', 'who asks, for the record (default: $USER)')
    .option('--wait', 'wait for the outcome', true)
    .option(
      '--no-wait',
      'only send the rollback signal (carried out once a worker runs it); see it with `deployctl status --env`',
    )
    .action(async (opts: { env: string; to: string; reason: string; by?: string; wait: boolean }, cmd: Command) => {
      const cfg = ctx.config();
      checkEnvironment(cmd, cfg, opts.env);
      const request: RollbackRequest = {
        to: opts.to,
        reason: opts.reason.trim(),
        requestedBy: (opts.by ?? currentUser()).trim(),
      };
      const problem = rollbackProblem(request);
      if (problem) usage(cmd, problem);
      const json = ctx.globals().json;
      const sent = `rollback to ${request.to} by ${request.requestedBy}: ${request.reason}`;
      const { workflowId, outcome } = await ctx.withClient(cfg, async ({ client }) => ({
        workflowId: environmentHandle(client, cfg).workflowId,
        outcome: await rollbackEnvironment(client, cfg, request, {
          wait: opts.wait,
          accepted: () => {
            if (!json) ctx.write(`${clock(new Date().toISOString())}  ${'accepted'.padEnd(16)}  ${sent}`);
          },
        }),
      }));
      if (json)
        ctx.write(JSON.stringify({ workflowId, request, ...(outcome ? { outcome } : { sent: true }) }, null, 2));
      else if (outcome) ctx.write(formatRollbackOutcome(outcome, opts.env));
      else ctx.write(`sent ${sent}\nfollow it with: deployctl status --env ${opts.env}`);
      ctx.setExitCode(!outcome || outcome.kind === 'rolled-back' ? EXIT.ok : EXIT.failed);
    });

  cli
    .command('pause')
    .description('stop overlay changes: deploys still run their checks, then wait as held until `deployctl resume`')
    .usage('--env <name> --reason <text> [--by <name>]')
    .requiredOption('--env <name>', ENV_HELP)
    .requiredOption('--reason <text>', 'why, shown to everyone whose deploy waits')
    .option('--by <name>', 'who pauses, for the record (default: $USER)')
    .action(async (opts: { env: string; reason: string; by?: string }, cmd: Command) => {
      const cfg = ctx.config();
      checkEnvironment(cmd, cfg, opts.env);
      if (!opts.reason.trim()) usage(cmd, 'a pause needs a --reason');
      const by = (opts.by ?? currentUser()).trim();
      const snapshot = await ctx.withClient(cfg, async ({ client }) =>
        running(
          environmentHandle(client, cfg).workflowId,
          await pauseEnvironment(client, cfg, { reason: opts.reason.trim(), by }),
        ),
      );
      ctx.show(snapshotJson(snapshot), () => formatEnvironment(snapshot));
    });

  cli
    .command('resume')
    .description("lift a pause and a rollback's hold: queued deploys take their turns again")
    .usage('--env <name> [--by <name>]')
    .requiredOption('--env <name>', ENV_HELP)
    .option('--by <name>', 'who resumes, for the record (default: $USER)')
    .action(async (opts: { env: string; by?: string }, cmd: Command) => {
      const cfg = ctx.config();
      checkEnvironment(cmd, cfg, opts.env);
      const by = (opts.by ?? currentUser()).trim();
      const snapshot = await ctx.withClient(cfg, async ({ client }) =>
        running(environmentHandle(client, cfg).workflowId, await resumeEnvironment(client, cfg, { by })),
      );
      ctx.show(snapshotJson(snapshot), () => formatEnvironment(snapshot));
    });

  cli
    .command('targets')
    .description(
      "production's previous tags from the overlay history, newest first, with whether their images still exist",
    )
    .usage('[--env <name>] [--limit <n>]')
    .option('--env <name>', `${ENV_HELP}; default: that one`)
    .option('--limit <n>', 'at most this many tags (1 to 100)', targetLimit, 10)
    .action(async (opts: { env?: string; limit: number }, cmd: Command) => {
      const cfg = ctx.config();
      if (opts.env !== undefined) checkEnvironment(cmd, cfg, opts.env);
      const targets = await ctx.withClient(cfg, ({ client }) => listTargets(client, cfg, opts.limit));
      ctx.show(targets, () => formatTargets(targets));
    });
}
