// `npm test`: prepares binaries, PKI and dist/ (scripts/harness.mjs), then runs jest with any
// extra arguments passed through.
import { spawn } from 'node:child_process';
import { prepareHarness, ROOT } from './harness.mjs';

const env = await prepareHarness({ label: 'test' });
const jest = spawn('npx', ['jest', '--maxWorkers=2', ...process.argv.slice(2)], { cwd: ROOT, stdio: 'inherit', env });
// Forward Ctrl-C / CI cancellation so jest can stop its servers.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => jest.kill(sig));
jest.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
