// Layering of our own folders (npm packages and Node built-ins are not restricted here; ESLint
// keeps Node built-ins and the Node-only Temporal packages out of src/workflows). Bottom to top:
//
//   plan -> contract -> config -> observe -> temporal -> client -> cli / relay
//   doctor (cli's checks): config, temporal, observe, activities and the worker's real clients
//                    \-> activities (plan, contract, config)
//                    \-> workflows (plan, contract; activities as types only: the sandbox)
//   worker: anything in src/ but cli and relay.   src/main.ts: the composition root.
//   harness/ -> src/, harness/;   sandbox/, bench/ -> src/, harness/;   test/ -> anything.
//
// Run: npx depcruise src harness sandbox bench test scripts --config .dependency-cruiser.cjs
// `type-only` means `import type ...` (or every specifier marked `type`): erased at compile time.

/** A folder under src/ may import only itself and the listed folders (value or type). */
function layer(name, allowed, comment) {
  return {
    name: `${name}-layer`,
    comment,
    severity: 'error',
    from: { path: `^src/${name}/` },
    to: { path: '^src/', pathNot: `^src/(${[name, ...allowed].join('|')})/` },
  };
}

/** `from` may import `to` for its types only (`import type`), never for values. */
function typesOnly(from, to, comment) {
  return {
    name: `${from}-${to}-types-only`,
    comment,
    severity: 'error',
    from: { path: `^src/${from}/` },
    to: { path: `^src/${to}/`, dependencyTypesNot: ['type-only'] },
  };
}

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Circular dependencies (type-only edges included) make the layering meaningless.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable-local',
      comment: 'A relative import that does not resolve cannot be checked against the layers (and will not compile).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true, path: '^\\.\\.?/' },
    },
    {
      name: 'src-not-to-tooling',
      comment: 'Production code never imports the test harness, tests, the sandbox, benchmarks or scripts.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(harness|test|sandbox|bench|scripts)/' },
    },
    layer('plan', [], 'The planner is pure: no I/O, no config, nothing else of ours.'),
    layer('contract', ['plan'], 'Workflow contract (inputs, ids, search attributes): plan only.'),
    layer('config', ['plan', 'contract']),
    layer(
      'observe',
      ['plan', 'contract', 'config'],
      'Logs, metrics, traces and health: no Temporal gateway, no steps.',
    ),
    layer('temporal', ['plan', 'contract', 'config', 'observe']),
    layer('activities', ['plan', 'contract', 'config']),
    layer(
      'workflows',
      ['plan', 'contract', 'activities'],
      'Workflows run in the deterministic sandbox: plan and contract, activities as types only.',
    ),
    typesOnly('workflows', 'activities', 'Workflows reach activities through proxyActivities<typeof ...>() only.'),
    layer(
      'client',
      ['plan', 'contract', 'config', 'temporal', 'workflows'],
      'The Temporal gateway: never cli, relay, worker, activities; workflows as types only.',
    ),
    typesOnly('client', 'workflows', 'Typed starts (`typeof workflow`) need the types, never the code.'),
    layer(
      'cli',
      ['client', 'plan', 'contract', 'config', 'temporal', 'workflows', 'observe', 'doctor'],
      'deployctl: goes through the client; workflows as types only.',
    ),
    typesOnly('cli', 'workflows', 'Typed starts (`typeof workflow`) need the types, never the code.'),
    layer(
      'relay',
      ['client', 'plan', 'contract', 'config', 'temporal', 'observe'],
      'The webhook relay: goes through the client.',
    ),
    {
      name: 'doctor-layer',
      comment: 'deployctl doctor: the real clients (worker/deps.ts) and steps, never the cli, relay or workflows.',
      severity: 'error',
      from: { path: '^src/doctor/' },
      to: {
        path: '^src/',
        pathNot: '^src/(doctor|plan|contract|config|temporal|observe|activities)/|^src/worker/deps\\.ts$',
      },
    },
    {
      name: 'worker-layer',
      comment: 'The worker hosts workflows and activities; it never imports the cli or the relay.',
      severity: 'error',
      from: { path: '^src/worker/' },
      to: { path: '^src/(cli|relay)/' },
    },
    {
      name: 'harness-not-to-tests',
      comment: 'harness/ may import src/ and harness/ only.',
      severity: 'error',
      from: { path: '^harness/' },
      to: { path: '^(test|sandbox|bench)/' },
    },
    {
      name: 'sandbox-bench-not-to-tests',
      comment: 'sandbox/ and bench/ may import src/ and harness/ (and themselves) only.',
      severity: 'error',
      from: { path: '^(sandbox|bench)/' },
      to: { path: '^(test|sandbox|bench)/', pathNot: '^$1/' },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules'] },
    exclude: { path: ['^(dist|coverage|\\.tools|\\.cache|\\.data)/', '^test/histories/'] },
    // See `import type` edges too (the workflow/activities and client/workflows rules need them).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    detectProcessBuiltinModuleCalls: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
    cache: false,
    progress: { type: 'none' },
  },
};
