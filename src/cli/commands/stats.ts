import type { Command } from 'commander';
import { readProductionHistory, type RollbackSource } from '../../client/stats';
import { doraMeasures, type DoraMeasures } from '../../plan/dora';
import { MAX_OUTCOMES } from '../../plan/environment';
import { parseDuration, UsageError } from '../connect';
import { keyValues, span, stamp } from '../format';
import type { CommandContext } from './context';
import { checkEnvironment } from './environment';

const HELP = `
What is counted: the production deploys whose workflow closed in the window, and the rollbacks in it.
  deployment           a deploy that ended succeeded: Argo CD reported its change Synced and Healthy.
                       Superseded, skipped and cancelled deploys are no deployments; terminated and
                       timed-out ones are not counted at all.
  lead time            from the deploy workflow's start (the push webhook starts it at the merge) to its
                       end, healthy: median and p90 over the deployments.
  failure              a deploy that failed in production (its change reached production, then Argo CD
                       reported it Degraded, or not Synced and Healthy within argocd.syncTimeout, or its
                       health could not be read), or a deploy that was rolled back (the next change to
                       production was a rollback); counted once. A deploy that failed before production
                       (CI, a missing image, a refused push) is no failure: production never ran it.
  change failure rate  failures / deploys that reached production (deployments, and deploys failed there).
  time to restore      from a failed deploy reaching production (a rolled-back one: from when it went
                       live) to the next healthy change, a deployment or a healthy rollback: the median.
                       Failures not restored yet are counted as open.

Sources: the deploys from Temporal visibility, paged, never their histories; for each failed deploy its
close event, which says whether it reached production; the rollbacks from env-<name>'s recorded outcomes
(one query, answered by a worker: rollbacks are made by that workflow, not by workflows of their own). It
keeps its last ${MAX_OUTCOMES} outcomes: when they do not reach back to the start of the window, stats says so and
the failure counts are a lower bound. Without a worker, stats counts deploys only and says so.`;

export function statsCommands(cli: Command, ctx: CommandContext): void {
  cli
    .command('stats')
    .description(
      'the four DORA measures of production from Temporal visibility: deployment frequency, lead time for changes, change failure rate, time to restore',
    )
    .usage('--env <name> [--since <duration>]')
    .requiredOption('--env <name>', 'the environment (must be environment.name of the config)')
    .option('--since <duration>', 'the window: deploys that closed within this long before now, e.g. 7d, 12h', '30d')
    .addHelpText('after', HELP)
    .action(async (opts: { env: string; since: string }, cmd: Command) => {
      const cfg = ctx.config();
      checkEnvironment(cmd, cfg, opts.env);
      if (!cfg.temporal.searchAttributes)
        throw new UsageError(
          'stats reads the Deploy* search attributes, which temporal.searchAttributes: false turns off',
        );
      const until = Date.now();
      const window = {
        since: new Date(until - parseDuration(opts.since, '--since')).toISOString(),
        until: new Date(until).toISOString(),
      };
      const history = await ctx.withClient(cfg, ({ client }) => readProductionHistory(client, cfg, window));
      const measures = doraMeasures(window, history.deploys, history.rollbacks);
      ctx.show(statsJson(opts.env, measures, history.rollbackSource), () =>
        formatStats(opts.env, opts.since, measures, history.rollbackSource),
      );
    });
}

/** The `--json` object: every number a count, a rate (0 to 1) or seconds; null where there is nothing to measure. */
export function statsJson(environment: string, m: DoraMeasures, source: RollbackSource) {
  const { workflowId, ...coverage } = source;
  return {
    environment,
    window: m.window,
    deploymentFrequency: m.deploymentFrequency,
    leadTime: m.leadTime,
    changeFailureRate: m.changeFailureRate,
    timeToRestore: m.timeToRestore,
    deploys: m.deploys,
    rollbacks: { ...m.rollbacks, source: workflowId, ...coverage },
  };
}

/** A rate as people read it: two significant digits, whole numbers from 10 on. */
const rate = (n: number) => String(n >= 10 ? Math.round(n) : Number(n.toPrecision(2)));
const percent = (fraction: number) => `${Number((fraction * 100).toFixed(1))}%`;
const seconds = (s: number) => span(s * 1000);
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function formatStats(environment: string, since: string, m: DoraMeasures, source: RollbackSource): string {
  if (!m.deploys.closed && !m.rollbacks.committed && source.complete) return `no deploys in the last ${since}`;
  const { deploymentFrequency: f, leadTime: l, changeFailureRate: c, timeToRestore: t, deploys: d } = m;
  const restored = `${t.restored} restored, ${t.open ? `${t.open} open` : 'none open'}`;
  return keyValues([
    [environment, `the last ${since} (${stamp(m.window.since)} to ${stamp(m.window.until)})`],
    [
      'deployment frequency',
      `${rate(f.perDay)} a day, ${rate(f.perWeek)} a week (${plural(f.deployments, 'deploy')} succeeded)`,
    ],
    [
      'lead time for changes',
      l.medianSeconds === null
        ? 'none: no deploy succeeded'
        : `median ${seconds(l.medianSeconds)}, p90 ${seconds(l.p90Seconds!)} (merge to healthy)`,
    ],
    [
      'change failure rate',
      c.rate === null
        ? 'none: no deploy reached production'
        : `${percent(c.rate)} (${c.failures} of ${plural(c.reachedProduction, 'deploy')} that reached production: ${c.failedInProduction} failed there, ${c.rolledBack} rolled back)`,
    ],
    [
      'time to restore',
      t.failures === 0
        ? 'none: no failure'
        : t.medianSeconds === null
          ? `not restored yet (${restored})`
          : `median ${seconds(t.medianSeconds)} (${restored})`,
    ],
    [
      'deploys',
      `${d.closed} closed: ${d.succeeded} succeeded, ${d.failedInProduction} failed in production, ${d.failedBeforeProduction} failed before it, ${d.superseded} superseded, ${d.skipped} skipped, ${d.cancelled} cancelled${d.other ? `, ${d.other} terminated or timed out` : ''}`,
    ],
    [
      'rollbacks',
      source.unavailable
        ? 'unknown (see the note)'
        : `${m.rollbacks.committed} (${m.rollbacks.healthy} healthy), from ${source.workflowId}'s outcomes`,
    ],
    ['note', rollbackNote(source)],
  ]);
}

function rollbackNote(source: RollbackSource): string | undefined {
  if (source.unavailable)
    return `rollbacks not counted, so the failure rate and time to restore count deploys that failed in production only: ${source.unavailable}`;
  if (source.coveredSince)
    return `${source.workflowId} keeps its last ${MAX_OUTCOMES} outcomes, which reach back to ${stamp(source.coveredSince)}: rollbacks before then are not counted`;
  return undefined;
}
