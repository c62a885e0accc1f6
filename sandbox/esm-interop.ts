// tsx runs the sandbox as CommonJS, which resolves packages with the `require` condition; the
// relay's @octokit/webhooks-methods exports only `import` (under `node`). Point it at its file,
// as jest.config.js's moduleNameMapper does for the tests; tsx then loads it like any ESM file.
import Module from 'node:module';
import { join } from 'node:path';

const ESM_ONLY: Record<string, string> = {
  '@octokit/webhooks-methods': join(__dirname, '../node_modules/@octokit/webhooks-methods/dist-node/index.js'),
};

type Resolve = (request: string, ...rest: unknown[]) => string;
const loader = Module as unknown as { _resolveFilename: Resolve };
const resolve = loader._resolveFilename;
loader._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
  return resolve.call(this, ESM_ONLY[request] ?? request, ...rest);
};
