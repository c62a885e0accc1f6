// `npm run sandbox`: the binaries, test PKI and a fresh dist/ (for deployctl), then the sandbox
// itself (sandbox/main.ts) under tsx. `node --import tsx` rather than `npx tsx`: npx exits 130 on
// Ctrl-C whatever the sandbox does, which would hide whether it stopped cleanly.
import { spawn } from 'node:child_process';
import { prepareHarness, ROOT } from './harness.mjs';

const env = await prepareHarness({ label: 'sandbox' });
const sandbox = spawn(process.execPath, ['--import', 'tsx', 'sandbox/main.ts', ...process.argv.slice(2)], {
  cwd: ROOT,
  stdio: 'inherit',
  env,
});
// Ctrl-C reaches the sandbox from the terminal itself (same process group): wait for its clean exit.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => sandbox.kill('SIGTERM'));
sandbox.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
