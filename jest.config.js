// @octokit/* and a few of their dependencies ship ESM only; Jest's CommonJS
// runtime cannot require them, so ts-jest transpiles them like our own code.
const esmOnly = ['@octokit', 'universal-user-agent', 'before-after-hook', 'content-type', 'json-with-bigint'];

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }],
  },
  transformIgnorePatterns: [`node_modules/(?!(${esmOnly.join('|')})/)`],
  // Exports only an `import` condition, which Jest's CommonJS resolver never picks.
  moduleNameMapper: {
    '^@octokit/webhooks-methods$': '<rootDir>/node_modules/@octokit/webhooks-methods/dist-node/index.js',
  },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  testTimeout: 120_000,
};
