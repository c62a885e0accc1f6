/**
 * `npm run chaos [-- --merges 50 --kills 10 --restarts 2 --seed 7]`: the chaos run on demand;
 * exits 1 when production shows anything it must never show. The small setting runs in `npm test`.
 */
import { Command, InvalidArgumentError } from 'commander';
import { formatReport, healthy, runChaos } from './chaos';

const count = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
};

async function main(): Promise<void> {
  const opts = new Command('chaos')
    .option('--merges <n>', 'code merges', count, 50)
    .option('--kills <n>', 'worker SIGKILLs', count, 10)
    .option('--restarts <n>', 'Temporal server kills and restarts', count, 2)
    .option('--seed <n>', 'seed of the schedule', count, Date.now() % 100_000)
    .option('--spread <seconds>', 'how long the merges and faults are spread over', count, 90)
    .option('--quiet', 'print only the report')
    .parse()
    .opts<{ merges: number; kills: number; restarts: number; seed: number; spread: number; quiet?: boolean }>();
  const report = await runChaos({
    merges: opts.merges,
    kills: opts.kills,
    restarts: opts.restarts,
    seed: opts.seed,
    spreadMs: opts.spread * 1000,
    drainTimeoutMs: 10 * 60_000,
    log: opts.quiet ? undefined : (line) => console.log(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}`),
  });
  console.log(`\n${formatReport(report)}`);
  process.exit(healthy(report) ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
