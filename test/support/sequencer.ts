/**
 * The order test files start in, for the least wall time on two workers. Vitest's own order runs
 * the longest files first when it has timed them before (a cache under node_modules), and
 * otherwise the largest: in a fresh clone, as CI has it, the property suites (short files, the
 * longest CPU work) came last, and one of them ran alone at the end while the other core idled.
 * So, ahead of Vitest's order:
 *   1. the integration tests: they wait on servers and sockets, leaving the CPU to what runs beside
 *      them (`pnpm test` starts its other jobs with Vitest);
 *   2. the property suites, and every other file with a fast-check property (a unit test file
 *      with one property at 10,000 runs takes seconds, however small the file): the longest CPU
 *      work, started while there is other work to fill in behind them;
 *   3. the tests of the repository as a whole (test/*.test.ts: the JSDoc and README examples run,
 *      the architecture rules): few files, some of them long (the JSDoc examples take seconds),
 *      where Vitest's order by size put them last, alone at the end;
 *   4. everything else, in Vitest's order.
 */
import { readFileSync } from 'node:fs'
import { BaseSequencer, type TestSpecification } from 'vitest/node'

const rank = (spec: TestSpecification): number => {
  const file = spec.moduleId
  if (file.includes('.integration.test.')) return 0
  if (/[/.]propert(y|ies)[.]/.test(file) || readFileSync(file, 'utf8').includes("from 'fast-check'")) return 1
  if (/[/\\]test[/\\][^/\\]+\.test\.ts$/.test(file) && !/[/\\]packages[/\\]/.test(file)) return 2
  return 3
}

export class CostSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const ordered = await super.sort(files)
    // Array.prototype.sort is stable: within a rank, Vitest's order stands.
    return ordered
      .map((spec, i) => ({ spec, i, rank: rank(spec) }))
      .sort((a, b) => a.rank - b.rank || a.i - b.i)
      .map((x) => x.spec)
  }
}
