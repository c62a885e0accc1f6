// `npm run chaos`: the chaos run on the real local stack (see harness/chaos/chaos.ts).
import { spawn } from 'node:child_process';
import { prepareHarness, ROOT } from './harness.mjs';

const env = await prepareHarness({ label: 'chaos' });
const chaos = spawn('npx', ['tsx', 'harness/chaos/main.ts', ...process.argv.slice(2)], {
  cwd: ROOT,
  stdio: 'inherit',
  env,
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => chaos.kill(sig));
chaos.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
