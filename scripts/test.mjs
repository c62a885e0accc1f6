// `npm test`: prepares binaries, PKI and dist/ (scripts/harness.mjs), then runs jest with any
// extra arguments passed through.
import { spawn } from 'node:child_process';
import { prepareHarness, ROOT } from './harness.mjs';

const env = await prepareHarness({ label: 'test' });
const args = process.argv.slice(2);
// Two workers on this 2-core machine unless the caller chose (e.g. --runInBand).
const parallel = args.some((a) => /^(-i|--runInBand|--maxWorkers|-w)/.test(a)) ? [] : ['--maxWorkers=2'];
const jest = spawn('npx', ['jest', ...parallel, ...args], { cwd: ROOT, stdio: 'inherit', env });
// Forward Ctrl-C / CI cancellation so jest can stop its servers.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => jest.kill(sig));
jest.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
