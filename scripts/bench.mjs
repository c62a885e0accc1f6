// `npm run bench`: measures the event path on the real local stack (see bench/event-path.ts).
import { spawn } from 'node:child_process';
import { prepareHarness, ROOT } from './harness.mjs';

const env = await prepareHarness({ label: 'bench' });
const bench = spawn('npx', ['tsx', 'bench/event-path.ts', ...process.argv.slice(2)], {
  cwd: ROOT,
  stdio: 'inherit',
  env,
});
bench.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
