#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { Client } from '@temporalio/client';
import { ConfigError, configPath, loadConfig } from '../config/load';
import type { DeployConfig } from '../config/schema';
import { classifyChanges } from '../plan/classify';
import { connectClient, temporalTarget } from '../temporal/connection';
import { deployStatus, startDeploy } from './deploys';

/** Exit codes: 0 success, 1 the deploy (or the request) failed, 2 usage or configuration error. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function program(): Command {
  const cli = new Command('deployctl')
    .description('Drive gitops-deployer: classify changes, start and inspect deploys')
    .option('--config <file>', 'deploy configuration (default: $DEPLOY_CONFIG or ./deploy.config.yaml)')
    .addOption(new Option('--address <host:port>', 'Temporal address').env('TEMPORAL_ADDRESS'))
    .addOption(new Option('--namespace <name>', 'Temporal namespace').env('TEMPORAL_NAMESPACE'))
    .addOption(new Option('--tls-cert <file>', 'TLS client certificate').env('TEMPORAL_TLS_CERT'))
    .addOption(new Option('--tls-key <file>', 'TLS client key').env('TEMPORAL_TLS_KEY'))
    .addOption(new Option('--api-key <key>', 'Temporal Cloud API key').env('TEMPORAL_API_KEY'))
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });

  const config = (): DeployConfig => loadConfig(configPath(cli.opts().config));
  const client = async (cfg: DeployConfig): Promise<Client> => {
    const target = temporalTarget(cli.opts(), process.env, cfg.temporal.namespace);
    return new Client({ connection: await connectClient(target), namespace: target.namespace });
  };

  cli
    .command('classify')
    .description('what would a change to these paths deploy? (prints JSON)')
    .argument('<paths...>', 'changed file paths, relative to the repository root')
    .action((paths: string[]) => {
      const cfg = config();
      const { files, ...verdict } = classifyChanges(paths.map((path) => ({ path })), cfg.changeRules, cfg.images.map((i) => i.name));
      print({ ...verdict, files });
    });

  cli
    .command('start')
    .description('start the production deploy of a merge commit (a no-op if it already ran)')
    .requiredOption('--sha <commit>', 'the full merge commit id on main')
    .option('--before <commit>', 'the commit main was at before the merge (default: its parent)')
    .action(async (opts: { sha: string; before?: string }) => {
      const cfg = config();
      print(await startDeploy(await client(cfg), cfg, { commit: opts.sha, before: opts.before, requestedBy: `deployctl (${process.env.USER ?? 'unknown'})` }));
    });

  cli
    .command('status')
    .description("a deploy's phase, tag, CI run, overlay commit and digests")
    .argument('<commit>', 'the full merge commit id')
    .action(async (commit: string) => {
      const cfg = config();
      const status = await deployStatus(await client(cfg), cfg, commit);
      print(status);
      if (status.phase === 'failed') process.exitCode = EXIT.failed;
    });
  return cli;
}

export async function run(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`deployctl: ${(err as Error).message}\n`);
    return EXIT.failed;
  }
}

if (require.main === module) {
  run(process.argv).then((code) => process.exit(code));
}
