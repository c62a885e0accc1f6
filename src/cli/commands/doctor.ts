import type { Command } from 'commander';
import { configPath } from '../../config/load';
import { parseDuration } from '../connect';
import { EXIT, type CommandContext } from './context';

/** `deployctl doctor`: what the worker needs, checked in order from here, each with its fix; exit 0 or 1. */
export function doctorCommand(cli: Command, ctx: CommandContext): void {
  cli
    .command('doctor')
    .description(
      "check what the worker needs, in order, with this environment's credentials: the config, Temporal and the search attributes, the GitHub token (rate limit, push access, the CI workflow), the registry, Argo CD, and the overlay on main; exit 0 when all pass, 1 otherwise",
    )
    .usage('[--config <file>] [--json]')
    .action(async () => {
      const { json, config, connectTimeout, ...flags } = ctx.globals();
      const file = configPath(config);
      if (!json) ctx.write(`deployctl doctor: ${file}, with the credentials of this environment`);
      // Loaded here: the worker's clients (Azure, Octokit) would slow every other command's start.
      const [{ runDoctor }, { doctorJson, formatCheck, formatSummary }] = await Promise.all([
        import('../../doctor/run.js'),
        import('../../doctor/format.js'),
      ]);
      const report = await runDoctor({
        configPath: file,
        temporal: flags,
        connectTimeoutMs: parseDuration(connectTimeout ?? '5s', '--connect-timeout'),
        onCheck: json ? undefined : (check) => ctx.write(formatCheck(check)),
      });
      ctx.write(json ? doctorJson(report) : formatSummary(report));
      ctx.setExitCode(report.ok ? EXIT.ok : EXIT.failed);
    });
}
