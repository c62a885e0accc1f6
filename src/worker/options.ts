import { Command, InvalidArgumentError } from 'commander';
import ms from 'ms';
import { parseListenAddress, type ListenAddress } from '../observe/address';

/** The worker process's flags, each with its environment variable (the flag wins). */
export interface WorkerOptions {
  config?: string;
  metrics?: ListenAddress;
  health?: ListenAddress;
  /** How long SIGTERM waits for in-flight activities before cancelling them. */
  shutdownGraceMs: number;
  /** A prebuilt workflow bundle (node dist/worker/bundle.js); absent: bundle at start. */
  workflowBundle?: string;
}

export const DEFAULT_SHUTDOWN_GRACE = '30s';

/** A bad flag or environment value: exit 2 with the message, like a bad configuration. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** `30s`, `2m`, `500ms`: a unit is required, as everywhere in this product (`30` is not 30 ms). */
export function parseDuration(value: string, name: string): number {
  const parsed = /^\s*\d+(\.\d+)?\s*[a-z]+\s*$/i.test(value) ? ms(value as ms.StringValue) : undefined;
  if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed < 0)
    throw new InvalidArgumentError(`${name}: "${value}" is not a duration with a unit, e.g. 30s or 2m`);
  return parsed;
}

function address(name: string) {
  return (value: string) => {
    try {
      // `off` is false, not undefined: commander would keep its own value for undefined.
      return parseListenAddress(value, name) ?? false;
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

/** Adds the runtime flags (metrics, health) to a command; `npm start` shares them with a default of its own. */
export function runtimeFlags(command: Command, defaults: { metrics?: string; health?: string } = {}): Command {
  return command
    .option(
      '--metrics-address <host:port|off>',
      `serve Prometheus /metrics here ($METRICS_ADDRESS; default ${defaults.metrics ?? 'off'})`,
      address('--metrics-address'),
    )
    .option(
      '--health-address <host:port|off>',
      `serve /healthz and /readyz here ($HEALTH_ADDRESS; default ${defaults.health ?? 'off'})`,
      address('--health-address'),
    );
}

/** Flag, else environment, else default; `off` in either turns a listener off. */
function resolveAddress(
  flag: { given: boolean; value: ListenAddress | undefined },
  env: string | undefined,
  name: string,
  fallback?: string,
): ListenAddress | undefined {
  if (flag.given) return flag.value;
  try {
    return parseListenAddress(env ?? fallback, name);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The listeners of a command parsed with runtimeFlags: flag, else $METRICS_ADDRESS / $HEALTH_ADDRESS, else the default. */
export function runtimeAddresses(
  command: Command,
  env: NodeJS.ProcessEnv = process.env,
  defaults: { metrics?: string; health?: string } = {},
): { metrics?: ListenAddress; health?: ListenAddress } {
  const flag = (name: 'metricsAddress' | 'healthAddress') => ({
    given: command.getOptionValueSource(name) === 'cli',
    value: (command.getOptionValue(name) as ListenAddress | false | undefined) || undefined,
  });
  return {
    metrics: resolveAddress(flag('metricsAddress'), env.METRICS_ADDRESS, 'METRICS_ADDRESS', defaults.metrics),
    health: resolveAddress(flag('healthAddress'), env.HEALTH_ADDRESS, 'HEALTH_ADDRESS', defaults.health),
  };
}

export function parseWorkerOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): WorkerOptions {
  const command = runtimeFlags(
    new Command('gitops-deployer-worker')
      .description('The deploy worker: hosts the deploy and environment workflows and their steps.')
      .option('--config <file>', 'deploy configuration (default: $DEPLOY_CONFIG or ./deploy.config.yaml)'),
  )
    .option(
      '--shutdown-grace <duration>',
      `how long SIGTERM waits for in-flight steps before cancelling them ($SHUTDOWN_GRACE; default ${DEFAULT_SHUTDOWN_GRACE})`,
      (v) => parseDuration(v, '--shutdown-grace'),
    )
    .option('--workflow-bundle <file>', 'a prebuilt workflow bundle ($WORKFLOW_BUNDLE; default: bundle at start)')
    .exitOverride()
    .parse(argv);
  const opts = command.opts<{ config?: string; shutdownGrace?: number; workflowBundle?: string }>();
  let shutdownGraceMs = opts.shutdownGrace;
  if (shutdownGraceMs === undefined) {
    try {
      shutdownGraceMs = parseDuration(env.SHUTDOWN_GRACE || DEFAULT_SHUTDOWN_GRACE, 'SHUTDOWN_GRACE');
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  return {
    config: opts.config,
    ...runtimeAddresses(command, env),
    shutdownGraceMs,
    workflowBundle: opts.workflowBundle ?? (env.WORKFLOW_BUNDLE || undefined),
  };
}
