/** A simulator worker thread: runs the job it is given (evaluate tuner candidates, simulate seeds, or quality-matrix units) and posts the results back. */
import { parentPort, workerData } from 'node:worker_threads'
import type { Kinds } from '@datapunk/breaker'
import { loadKinds } from './kindsModule.js'
import { runUnits, type Unit } from './quality/matrix.js'
import type { QualityRow } from './quality/rows.js'
import type { Cell } from './quality/space.js'
import type { Scenario } from './Scenario.js'
import { type Candidate, type Constraints, evaluate, simulateSummaries, type Target, type Weights } from './tune.js'

type Job =
  | {
      job: 'evaluate'
      candidates: ReadonlyArray<Candidate>
      target: Target
      weights: Weights
      constraints: Constraints
      kindsModule: string | undefined
    }
  | {
      job: 'simulate'
      configs: ReadonlyArray<unknown>
      scenario: Scenario
      seeds: ReadonlyArray<number>
      kindsModule: string | undefined
      oracle: boolean
    }
  | {
      job: 'quality'
      rows: ReadonlyArray<QualityRow>
      cells: ReadonlyArray<Cell>
      units: ReadonlyArray<Unit>
      kindsModule: string | undefined
    }

const data = workerData as Job
let kinds: Kinds | undefined
if (data.kindsModule !== undefined) {
  const loaded = await loadKinds(data.kindsModule)
  if ('error' in loaded) throw new Error(loaded.error)
  kinds = loaded.kinds
}
if (data.job === 'quality') {
  // Each (cell, seed) result as it is done, so the caller can show progress; then 'done'.
  runUnits(data.rows, data.cells, data.units, kinds, (result) => parentPort?.postMessage(result))
  parentPort?.postMessage('done')
} else
  parentPort?.postMessage(
    data.job === 'evaluate'
      ? data.candidates.map((c) => {
          const evaluation = evaluate(c, data.target, data.weights, kinds, data.constraints)
          // One candidate done, for the caller's progress line.
          parentPort?.postMessage('tick')
          return evaluation
        })
      : simulateSummaries(data.configs, data.scenario, data.seeds, kinds, data.oracle),
  )
