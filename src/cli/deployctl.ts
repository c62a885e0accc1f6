#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { WorkflowNotFoundError } from '@temporalio/client';
import { ConfigError, configPath, loadConfig } from '../config/load';
import type { DeployConfig } from '../config/schema';
import { classifyChanges } from '../plan/classify';
import type { DeployPath } from '../plan/classify';
import type { DeployPhase } from '../contract/deploy';
import { currentUser, EXIT, type CommandContext, type GlobalOptions } from './commands/context';
import { doctorCommand } from './commands/doctor';
import { environmentCommands, showEnvironment } from './commands/environment';
import { previewCommands, showPreview } from './commands/preview';
import { statsCommands } from './commands/stats';
import { connect, parseDuration, UsageError, type Connected } from './connect';
import { inspectDeploy, listDeploys, resolveCommit, startDeploy } from '../client/deploys';
import { formatEvent, formatList, formatStarted, formatStatus } from './format';
import { exitCodeOf, PHASES, watchDeploy } from './watch';

export { EXIT };

const write = (text: string) => process.stdout.write(`${text}\n`);

/** `start` needs the exact merge commit: the deploy's workflow id and the detect step both use it. */
function fullCommit(value: string): string {
  if (!/^[0-9a-f]{40}$/i.test(value)) throw new InvalidArgumentError('expected a full 40-character commit id');
  return value.toLowerCase();
}

/** `status` and `watch` also take an abbreviation, as `git log --oneline` prints it. */
function commitRef(value: string): string {
  if (!/^[0-9a-f]{4,40}$/i.test(value))
    throw new InvalidArgumentError('expected a commit id (at least 4 hex characters)');
  return value.toLowerCase();
}

function prNumber(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError('expected a pull request number');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw new InvalidArgumentError('expected a whole number from 1 to 1000');
  return n;
}

function program(): { cli: Command; exitCode(): number } {
  let exitCode: number = EXIT.ok;
  const cli = new Command('deployctl')
    .description(
      'Drive gitops-deployer: classify changes, start, inspect, list and watch production deploys and pull request previews; pause, resume and roll back the environment',
    )
    .option('--config <file>', 'deploy configuration (default: $DEPLOY_CONFIG or ./deploy.config.yaml)')
    .option('--json', 'print JSON for scripts instead of tables (watch: one JSON object per line)')
    .addOption(
      new Option('--address <host:port>', 'Temporal frontend address (default: localhost:7233)').env(
        'TEMPORAL_ADDRESS',
      ),
    )
    .addOption(
      new Option('--namespace <name>', 'Temporal namespace (default: temporal.namespace of the config)').env(
        'TEMPORAL_NAMESPACE',
      ),
    )
    .addOption(new Option('--tls-cert <file>', 'TLS client certificate (mTLS)').env('TEMPORAL_TLS_CERT'))
    .addOption(new Option('--tls-key <file>', 'TLS client key (mTLS)').env('TEMPORAL_TLS_KEY'))
    .addOption(new Option('--api-key <key>', 'Temporal Cloud API key (implies TLS)').env('TEMPORAL_API_KEY'))
    .addOption(
      new Option('--connect-timeout <duration>', 'give up connecting to Temporal after this long').default('5s'),
    )
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });

  const globals = () => cli.opts<GlobalOptions>();
  /** Tables and short lines for people, JSON for scripts. */
  const show = (json: unknown, human: () => string) => write(globals().json ? JSON.stringify(json, null, 2) : human());
  const config = (): DeployConfig => loadConfig(configPath(globals().config));
  const ctx: CommandContext = {
    globals,
    config,
    withClient,
    write,
    show,
    setExitCode: (code) => void (exitCode = code),
  };

  async function withClient<T>(cfg: DeployConfig, fn: (temporal: Connected) => Promise<T>): Promise<T> {
    const temporal = await connect(globals(), cfg.temporal.namespace);
    try {
      return await fn(temporal);
    } finally {
      await temporal.close();
    }
  }

  /** "Not found" names what was looked for and where: a wrong namespace or address looks the same. */
  const notFound =
    (ref: string, temporal: Connected) =>
    (err: unknown): never => {
      if (err instanceof WorkflowNotFoundError) {
        const where = `in namespace ${temporal.target.namespace} at ${temporal.target.address}`;
        throw new Error(
          ref.length < 40
            ? `no deploy of a commit starting with ${ref} ${where}`
            : `no deploy of commit ${ref} ${where} (looked for workflow ${err.workflowId})`,
        );
      }
      throw err;
    };

  cli
    .command('classify')
    .description('what would a change to these paths deploy? (always prints JSON)')
    .argument('<paths...>', 'changed file paths, relative to the repository root')
    .action((paths: string[]) => {
      const cfg = config();
      const { files, ...verdict } = classifyChanges(
        paths.map((path) => ({ path })),
        cfg.changeRules,
        cfg.images.map((i) => i.name),
      );
      write(JSON.stringify({ ...verdict, files }, null, 2));
    });

  cli
    .command('start')
    .description('start the production deploy of a merge commit (a no-op if it is running or succeeded)')
    .usage('--sha <commit> [--before <commit>]')
    .requiredOption('--sha <commit>', 'the full merge commit id on main', fullCommit)
    .option('--before <commit>', 'the commit main was at before the merge (default: its parent)', fullCommit)
    .action(async (opts: { sha: string; before?: string }) => {
      const cfg = config();
      const requestedBy = `deployctl (${currentUser()})`;
      const started = await withClient(cfg, ({ client }) =>
        startDeploy(client, cfg, { commit: opts.sha, before: opts.before, requestedBy }),
      );
      show(started, () => formatStarted(started, opts.sha));
    });

  cli
    .command('status')
    .description(
      "a deploy's phase, path, tag, CI run, overlay commit, digests and Argo CD state (running or closed); with --env, the environment: what runs, what is applied now, the queue, holds and outcomes",
    )
    .usage('<commit> | --env <name> | --pr <n> [commit]')
    .argument(
      '[commit]',
      'the merge commit id (full, or an unambiguous abbreviation); with --pr, a commit of the pull request',
      commitRef,
    )
    .option('--env <name>', 'show the environment instead (must be environment.name of the config)')
    .option(
      '--pr <n>',
      "a pull request's preview: what it runs and does now, or with a commit that commit's preview deploy",
      prNumber,
    )
    .action(async (ref: string | undefined, opts: { env?: string; pr?: number }, cmd: Command) => {
      const oneOf = () =>
        cmd.error('error: give a commit, --env <name> or --pr <n>', { exitCode: EXIT.usage, code: 'deployctl.usage' });
      if (opts.env !== undefined)
        return ref === undefined && opts.pr === undefined ? showEnvironment(ctx, cmd, opts.env) : oneOf();
      if (opts.pr !== undefined && ref === undefined) return showPreview(ctx, opts.pr);
      if (ref === undefined) return oneOf();
      const cfg = config();
      const view = await withClient(cfg, async (temporal) =>
        inspectDeploy(
          temporal.client,
          cfg,
          await resolveCommit(temporal.client, cfg, ref, opts.pr),
          undefined,
          opts.pr,
        ).catch(notFound(ref, temporal)),
      );
      show({ workflowId: view.workflowId, execution: view.execution, ...view.status }, () => formatStatus(view));
      // A deploy still in progress is not a failure of this request.
      exitCode = view.execution === 'RUNNING' ? EXIT.ok : exitCodeOf(view);
    });

  cli
    .command('list')
    .description('deploys of this repository, production and previews, newest first (from Temporal visibility)')
    .usage('[--env production|preview] [--pr <n>] [--running] [--phase <phase>] [--path code|k8s|none] [--limit <n>]')
    .addOption(
      new Option('--env <env>', 'only production deploys, or only previews').choices(['production', 'preview']),
    )
    .option('--pr <n>', "only this pull request's preview deploys", prNumber)
    .option('--running', 'only deploys still in progress')
    .addOption(new Option('--phase <phase>', 'only deploys in this phase').choices(PHASES))
    .addOption(new Option('--path <path>', 'only deploys of this kind').choices(['code', 'k8s', 'none']))
    .option('--limit <n>', 'at most this many', positiveInt, 20)
    .action(
      async (opts: {
        env?: 'production' | 'preview';
        pr?: number;
        running?: boolean;
        phase?: DeployPhase;
        path?: DeployPath;
        limit: number;
      }) => {
        const cfg = config();
        if (!cfg.temporal.searchAttributes)
          throw new UsageError(
            'list filters on the Deploy* search attributes, which temporal.searchAttributes: false turns off',
          );
        const rows = await withClient(cfg, ({ client }) => listDeploys(client, cfg, opts));
        show(rows, () => formatList(rows));
      },
    );

  cli
    .command('watch')
    .description('follow a deploy live until it ends; exit 0 if it succeeded or was skipped, 1 otherwise')
    .argument(
      '<commit>',
      'the merge commit id (full, or an unambiguous abbreviation); with --pr, a commit of the pull request',
      commitRef,
    )
    .option('--pr <n>', "follow that commit's preview deploy", prNumber)
    .option('--interval <duration>', 'how often to ask the deploy', '1s')
    .action(async (ref: string, opts: { interval: string; pr?: number }) => {
      const cfg = config();
      const intervalMs = parseDuration(opts.interval, '--interval');
      const json = globals().json;
      const view = await withClient(cfg, async (temporal) =>
        watchDeploy(temporal.client, cfg, await resolveCommit(temporal.client, cfg, ref, opts.pr), {
          intervalMs,
          pr: opts.pr,
          // One JSON object per line, so a script can act on each event as it arrives.
          emit: (event) => {
            const line = json ? JSON.stringify(event) : formatEvent(event);
            if (line !== undefined) write(line);
          },
        }).catch(notFound(ref, temporal)),
      );
      exitCode = exitCodeOf(view);
    });

  environmentCommands(cli, ctx);
  previewCommands(cli, ctx, prNumber, fullCommit);
  doctorCommand(cli, ctx);
  statsCommands(cli, ctx);

  // A bad flag or argument prints commander's error, then the command's usage line.
  for (const cmd of [cli, ...cli.commands]) {
    const name = cmd === cli ? 'deployctl' : `deployctl ${cmd.name()}`;
    cmd.showHelpAfterError(`usage: ${name} ${cmd.usage()}\n(run "${name} --help" for details)`);
  }
  return { cli, exitCode: () => exitCode };
}

export async function run(argv: string[]): Promise<number> {
  const { cli, exitCode } = program();
  try {
    await cli.parseAsync(argv);
    return exitCode();
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof ConfigError) {
      process.stderr.write(`deployctl: ${err.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`deployctl: ${(err as Error).message}\n`);
    return err instanceof UsageError ? EXIT.usage : EXIT.failed;
  }
}

if (require.main === module) {
  // Exit once stdout is flushed: a lingering gRPC handle must not keep the CLI alive.
  void run(process.argv).then((code) => process.stdout.write('', () => process.exit(code)));
}
