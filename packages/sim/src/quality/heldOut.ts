/**
 * The learned predictor judged on incident kinds it never saw: for each kind of incident, a model
 * is trained on the train half's cells of every other kind and on its noise cells, its
 * `probability` is calibrated on the train half's noise to a false-trip budget (the model added
 * to a threshold, `any-of`), and it is reported on the held-out kind's test cells, which neither
 * the training nor the calibration saw. Fragile cells train as outages.
 */
import type { PredictorFeature } from '@datapunk/breaker'
import { trainPredictor } from '../train.js'
import type { QualityRow } from './rows.js'
import type { Cell } from './space.js'

/** The kind of incident a family is, for holding kinds out: outage, error ramp, latency creep, partial failure, cascading. */
export const incidentKind = (family: string): string => {
  if (family.startsWith('error-ramp')) return 'error ramp'
  if (family.startsWith('latency-creep')) return 'latency creep'
  if (family.startsWith('partial') || family.startsWith('capacity')) return 'partial failure'
  if (family.startsWith('cascading')) return 'cascading'
  return 'outage'
}

/** The probabilities tried, from the least sensitive to the most. */
export const HELD_OUT_PROBABILITIES: ReadonlyArray<number> = [0.99, 0.97, 0.9, 0.8, 0.5]

/** How the models are trained (the shipped way by default). */
export interface HeldOutTraining {
  /** Weigh both classes alike (default false, as `train` does). */
  readonly balance?: boolean
  /** The features fitted (default all). */
  readonly features?: ReadonlyArray<PredictorFeature>
  /** Added to row names, to tell ways of training apart in one matrix. */
  readonly label?: string
}

/** One held-out kind's model, as rows to calibrate: one per probability, least sensitive first. */
export interface HeldOutCandidate {
  /** The kind it never saw (see {@link incidentKind}). */
  readonly kind: string
  /** Its training buckets. */
  readonly examples: number
  /** Of those, the buckets followed by failure within the horizon. */
  readonly positives: number
  /** A row per probability in {@link HELD_OUT_PROBABILITIES}: the model added to the threshold. */
  readonly rows: ReadonlyArray<{ readonly probability: number; readonly row: QualityRow }>
}

/**
 * Trains a model per incident kind of `space`, each without that kind, on the train half at 20 to
 * 1,000 requests/s (a bucket of a second fills there) over `seeds` with a 30 s horizon; each model
 * is added to `threshold` (a trip config) at every probability, as rows named by `rowOf`.
 *
 * @example
 * import { heldOutModels, qualitySpace } from '@datapunk/breaker-sim'
 * // A small space: bursty noise and two incident kinds at 20 requests/s (the whole space trains for minutes).
 * const families = ['noise-bursts-40', 'outage', 'error-ramp']
 * const cells = qualitySpace().filter((c) => c.rps === 20 && families.includes(c.family))
 * const threshold = { kind: 'failure-rate', threshold: 0.45, minimumCalls: 20, window: { kind: 'time', durationMs: 10000, buckets: 10 } }
 * const models = heldOutModels(cells, threshold, [1], (name, trip) => ({ name, config: { name, trip } }))
 * models.map((m) => m.kind) // ['outage', 'error ramp']
 */
export const heldOutModels = (
  space: ReadonlyArray<Cell>,
  threshold: unknown,
  seeds: ReadonlyArray<number>,
  rowOf: (name: string, trip: unknown) => QualityRow,
  training: HeldOutTraining = {},
): HeldOutCandidate[] => {
  const kinds = [...new Set(space.filter((c) => c.kind === 'incident').map((c) => incidentKind(c.family)))]
  return kinds.map((kind) => {
    const cells = space.filter(
      (c) => c.half === 'train' && c.rps >= 20 && c.rps <= 1_000 && (c.kind === 'noise' || incidentKind(c.family) !== kind),
    )
    const trained = trainPredictor({
      scenarios: cells.map((c) => c.scenario),
      seeds,
      horizonMs: 30_000,
      balance: training.balance ?? false,
      ...(training.features === undefined ? {} : { features: training.features }),
    })
    const label = training.label === undefined || training.label === '' ? '' : ` (${training.label})`
    return {
      kind,
      examples: trained.examples,
      positives: trained.positives,
      rows: HELD_OUT_PROBABILITIES.map((probability) => ({
        probability,
        row: rowOf(`+learned${label} without ${kind} p=${probability}`, {
          kind: 'any-of',
          detectors: [threshold, { kind: 'learned', model: trained.model, probability }],
        }),
      })),
    }
  })
}
