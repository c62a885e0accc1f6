// ESLint 9 flat config. Non type-checked typescript-eslint presets on purpose: the type-checked
// ones need a compiling tree and are slow on CI's 2 cores. Formatting belongs to prettier
// (eslint-config-prettier switches off every rule that would fight it); layering between our
// own folders belongs to dependency-cruiser (.dependency-cruiser.cjs).
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, and none of the SDK
// packages that only exist outside it. Type-only imports are erased at compile time, so they stay
// allowed (`import type { Activities } from '../activities'` is the SDK's own pattern).
const nodeBuiltins = builtinModules.filter((name) => !name.startsWith('_'));
const workflowSandbox = {
  paths: nodeBuiltins.map((name) => ({
    name,
    message: 'Workflow code runs in the Temporal sandbox: no Node built-ins (move it to an activity).',
    allowTypeImports: true,
  })),
  patterns: [
    {
      regex: '^node:',
      message: 'Workflow code runs in the Temporal sandbox: no Node built-ins (move it to an activity).',
      allowTypeImports: true,
    },
    {
      regex: '^@temporalio/(activity|client|worker|testing)(/|$)',
      message:
        'Workflow code runs in the Temporal sandbox: @temporalio/activity, client, worker and testing are Node-only.',
      allowTypeImports: true,
    },
  ],
};

export default defineConfig(
  globalIgnores(['dist/', '.tools/', '.cache/', '.data/', 'coverage/', 'node_modules/', 'test/histories/']),
  {
    files: ['**/*.{ts,mts,cts,js,mjs,cjs}'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },
  {
    // scripts/*.mjs and other plain JavaScript run on Node as ES modules.
    files: ['**/*.{js,mjs}'],
    languageOptions: { sourceType: 'module', globals: { ...globals.node } },
  },
  {
    // CommonJS JavaScript: jest.config.js (the package has no "type": "module") and any *.cjs.
    files: ['jest.config.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The stand-ins and their tests read and write GitHub's and Argo CD's JSON as it is on the wire:
    // open-ended objects whose shape is the other side's, not ours.
    files: ['harness/standins/**/*.ts', 'test/standins.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', workflowSandbox] },
  },
  prettier,
);
