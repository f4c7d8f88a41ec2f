import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'
import { CostSequencer } from './test/support/sequencer.js'

// Tests run against the sources, so a change is tested without a build; `tsc -b` (part of
// `pnpm test`) separately proves the built package type-checks.
export default defineConfig({
  resolve: {
    alias: {
      '@datapunk/breaker-prometheus': fileURLToPath(new URL('./packages/prometheus/src/index.ts', import.meta.url)),
      '@datapunk/breaker-redis': fileURLToPath(new URL('./packages/redis/src/index.ts', import.meta.url)),
      '@datapunk/breaker-otel': fileURLToPath(new URL('./packages/otel/src/index.ts', import.meta.url)),
      '@datapunk/breaker-sim': fileURLToPath(new URL('./packages/sim/src/index.ts', import.meta.url)),
      '@datapunk/breaker-runtime/internal': fileURLToPath(new URL('./packages/runtime/src/internal.ts', import.meta.url)),
      '@datapunk/breaker-runtime': fileURLToPath(new URL('./packages/runtime/src/index.ts', import.meta.url)),
      '@datapunk/breaker-rxjs': fileURLToPath(new URL('./packages/rxjs/src/index.ts', import.meta.url)),
      '@datapunk/breaker/testing': fileURLToPath(new URL('./packages/core/src/testing/index.ts', import.meta.url)),
      '@datapunk/breaker': fileURLToPath(new URL('./packages/core/src/index.ts', import.meta.url)),
    },
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    setupFiles: ['./vitest.setup.ts'],
    testTimeout: 300_000,
    // Files share a worker process (no fresh module graph per file): importing the packages, fp-ts,
    // io-ts and RxJS once per worker instead of once per file saves about a third of the run.
    // Tests keep no state between files: each builds its own breakers, servers and registries, and
    // what touches the process (warning and exception listeners) is removed in a finally.
    isolate: false,
    // Two workers on two cores: the property suites keep both busy. A third (for the integration
    // tests that wait on servers, sockets and timers) makes vitest alone faster (133 s against
    // 144 s) but `pnpm test` slower, where the side jobs run beside it: 192 and 178 s against 181
    // and 170 s, alternated (the nineteenth session), since every worker imports the packages again
    // and contends for the same two cores. Every test is steady under load (none depends on how
    // fast the machine is: the whole suite passes with four busy loops beside it).
    maxWorkers: 2,
    // Which files start first: see test/support/sequencer.ts.
    sequence: { sequencer: CostSequencer },
  },
})
