/** A simulator worker thread: runs the job it is given (evaluate tuner candidates, or simulate seeds) and posts the result back. */
import { parentPort, workerData } from 'node:worker_threads'
import type { Kinds } from '@datapunk/breaker'
import { loadKinds } from './kindsModule.js'
import type { Scenario } from './Scenario.js'
import { type Candidate, evaluate, simulateSummaries, type Target, type Weights } from './tune.js'

type Job =
  | { job: 'evaluate'; candidates: ReadonlyArray<Candidate>; target: Target; weights: Weights; kindsModule: string | undefined }
  | { job: 'simulate'; configs: ReadonlyArray<unknown>; scenario: Scenario; seeds: ReadonlyArray<number>; kindsModule: string | undefined }

const data = workerData as Job
let kinds: Kinds | undefined
if (data.kindsModule !== undefined) {
  const loaded = await loadKinds(data.kindsModule)
  if ('error' in loaded) throw new Error(loaded.error)
  kinds = loaded.kinds
}
parentPort?.postMessage(
  data.job === 'evaluate'
    ? data.candidates.map((c) => evaluate(c, data.target, data.weights, kinds))
    : simulateSummaries(data.configs, data.scenario, data.seeds, kinds),
)
