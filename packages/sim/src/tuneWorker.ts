/** A tuner worker thread: evaluates the candidates it is given and posts the evaluations back. */
import { parentPort, workerData } from 'node:worker_threads'
import type { Kinds } from '@datapunk/breaker'
import { loadKinds } from './kindsModule.js'
import { type Candidate, evaluate, type Target, type Weights } from './tune.js'

const data = workerData as { candidates: ReadonlyArray<Candidate>; target: Target; weights: Weights; kindsModule: string | undefined }
let kinds: Kinds | undefined
if (data.kindsModule !== undefined) {
  const loaded = await loadKinds(data.kindsModule)
  if ('error' in loaded) throw new Error(loaded.error)
  kinds = loaded.kinds
}
parentPort?.postMessage(data.candidates.map((c) => evaluate(c, data.target, data.weights, kinds)))
