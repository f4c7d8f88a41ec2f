/**
 * The architecture, checked on every `pnpm test` (dependency-cruiser over packages/*\/src):
 * the core is pure (no other package, no Node module, only fp-ts and io-ts), the runtime and the
 * adapters never load RxJS, nothing but the RxJS layer's users depends on it, and no import circles.
 * The core's "no clock, no randomness" half is checked by test/architecture.test.ts.
 */
/** RxJS from npm (`node_modules/rxjs/...`) or our RxJS layer (`packages/rxjs/...`). */
const rxjs = '/rxjs/'

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle: the files on it cannot be read, tested or moved one at a time.',
      from: { path: '^packages/[^/]+/src/' },
      to: { circular: true },
    },
    {
      name: 'core-imports-no-package',
      severity: 'error',
      comment: 'The core is the pure reducers: it depends on no other package of ours.',
      from: { path: '^packages/core/src/' },
      to: { path: '^packages/(?!core/)' },
    },
    {
      name: 'core-imports-only-fp-ts-and-io-ts',
      severity: 'error',
      comment:
        'The core runs in browsers and edge runtimes: fp-ts and io-ts, nothing else from npm, no Node module (its testing entry adds fast-check).',
      from: { path: '^packages/core/src/', pathNot: '^packages/core/src/testing/' },
      to: {
        dependencyTypesNot: ['local', 'type-only'],
        pathNot: 'node_modules/.+/(fp-ts|io-ts)/',
      },
    },
    {
      name: 'core-testing-imports-only-fast-check-besides',
      severity: 'error',
      comment: '@datapunk/breaker/testing adds fast-check (an optional peer dependency) and nothing else.',
      from: { path: '^packages/core/src/testing/' },
      to: {
        dependencyTypesNot: ['local', 'type-only'],
        pathNot: 'node_modules/.+/(fp-ts|io-ts|fast-check)/',
      },
    },
    {
      name: 'nothing-in-the-core-imports-its-testing-entry',
      severity: 'error',
      comment: 'The laws are for tests: the core itself never loads fast-check.',
      from: { path: '^packages/core/src/', pathNot: '^packages/core/src/testing/' },
      to: { path: '^packages/core/src/testing/' },
    },
    {
      name: 'core-imports-no-node-builtin',
      severity: 'error',
      comment: 'No I/O in the core: no Node module.',
      from: { path: '^packages/core/src/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'no-rxjs-below-the-rxjs-layer',
      severity: 'error',
      comment: 'The runtime and the adapters (Prometheus, OpenTelemetry, Redis, the simulator) run without RxJS.',
      from: { path: '^packages/(core|runtime|prometheus|otel|redis|sim)/src/' },
      to: { path: rxjs },
    },
    {
      name: 'runtime-imports-only-core',
      severity: 'error',
      comment: 'The runtime depends on the core alone (pino only as a type).',
      from: { path: '^packages/runtime/src/' },
      to: { path: '^packages/(?!core/|runtime/)' },
    },
    {
      name: 'adapters-do-not-import-each-other',
      severity: 'error',
      comment: 'One package per third-party system, each on the runtime: none builds on another.',
      from: { path: '^packages/(prometheus|otel|redis)/src/' },
      to: { path: '^packages/(prometheus|otel|redis|sim)/', pathNot: '^packages/$1/' },
    },
    {
      name: 'nothing-imports-the-sim-or-rxjs-layer',
      severity: 'error',
      comment: 'The simulator and the RxJS layer are leaves: no package builds on them.',
      from: { path: '^packages/(core|runtime|prometheus|otel|redis)/src/' },
      to: { path: '^packages/(sim|rxjs)/' },
    },
  ],
  options: {
    // Our packages resolve to their built entry (packages/x/dist): counted as a dependency on that
    // package, not followed (each package's own sources are cruised from its src).
    doNotFollow: { path: 'node_modules|^packages/[^/]+/dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    combinedDependencies: false,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'default'] },
  },
}
