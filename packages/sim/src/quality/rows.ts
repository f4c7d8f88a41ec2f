/**
 * What the quality matrix measures: rows of strategies, each given as data (a circuit config, or
 * an adaptive throttle around one, as its config kind), so worker threads can build them.
 */
import { type Kinds, type PredictorModelInput, type Strategy, strategyFromConfig } from '@datapunk/breaker'
import { demoDetection } from '../strategies.js'

/** A row of the matrix: a name, and a strategy config as `strategyFromConfig` reads it (a circuit, or an adaptive throttle around one). */
export interface QualityRow {
  /** The row's name in tables. */
  readonly name: string
  /** Its strategy config (JSON, any kind). */
  readonly config: unknown
}

/** The row every other is compared with: the demo's failure-rate detection with classic half-open (one probe, 5 s open). */
export const BASELINE = 'classic'

const classicParts = { recovery: { kind: 'classic', probes: 1 }, openFor: { kind: 'constant', ms: 5_000 } } as const

/** Every built-in detector that is added to a threshold, next to the demo's failure-rate threshold as the docs recommend. */
const addedDetectors: ReadonlyArray<QualityRow> = [
  {
    name: '+slow-call-rate',
    config: {
      name: '+slow-call-rate',
      trip: {
        kind: 'any-of',
        detectors: [
          demoDetection,
          { kind: 'slow-call-rate', threshold: 0.5, slowCallMs: 2_000, minimumCalls: 20, window: demoDetection.window },
        ],
      },
      ...classicParts,
    },
  },
  {
    name: '+change-point',
    config: {
      name: '+change-point',
      trip: { kind: 'any-of', detectors: [demoDetection, { kind: 'change-point', signal: 'latency' }] },
      ...classicParts,
    },
  },
  {
    name: '+change-point-failures',
    config: {
      name: '+change-point-failures',
      trip: { kind: 'any-of', detectors: [demoDetection, { kind: 'change-point', signal: 'failure' }] },
      ...classicParts,
    },
  },
  {
    name: '+trend-forecast',
    config: { name: '+trend-forecast', trip: { kind: 'any-of', detectors: [demoDetection, { kind: 'trend-forecast' }] }, ...classicParts },
  },
  {
    // Both signals, as the docs recommend adding the CUSUM detector.
    name: '+cusum',
    config: {
      name: '+cusum',
      trip: { kind: 'any-of', detectors: [demoDetection, { kind: 'cusum', signal: 'failure' }, { kind: 'cusum', signal: 'latency' }] },
      ...classicParts,
    },
  },
]

/**
 * The library's strategies as shipped (with a trained model, the learned predictor too): the demo's three (the baseline, gradual recovery at its
 * defaults, consecutive failures with backoff), every built-in detector next to the demo's
 * failure-rate threshold as the docs recommend adding it, and adaptive throttling alone, around
 * the baseline, and around a circuit that trips at 90% and recovers gradually. Every part at its defaults, except what the docs tell a user to set.
 *
 * @example
 * import { BASELINE, libraryRows, strategyOfRow } from '@datapunk/breaker-sim'
 * const rows = libraryRows()
 * rows[0].name === BASELINE // true
 * strategyOfRow(rows[0]).inspect(strategyOfRow(rows[0]).initial(0)).state // 'closed'
 */
export const libraryRows = (options: LibraryRowsOptions = {}): ReadonlyArray<QualityRow> => [
  { name: BASELINE, config: { name: BASELINE, trip: demoDetection, ...classicParts } },
  { name: 'gradual', config: { name: 'gradual', trip: demoDetection, recovery: { kind: 'gradual' }, openFor: classicParts.openFor } },
  {
    name: 'consecutive+backoff',
    config: {
      name: 'consecutive+backoff',
      trip: { kind: 'consecutive-failures', threshold: 10 },
      recovery: { kind: 'classic', probes: 3 },
      openFor: { kind: 'exponential', initialMs: 1_000, maxMs: 30_000 },
    },
  },
  {
    name: 'failure-count',
    config: {
      name: 'failure-count',
      trip: { kind: 'failure-count', threshold: 20, window: { kind: 'time', durationMs: 10_000, buckets: 10 } },
      ...classicParts,
    },
  },
  ...addedDetectors,
  {
    // A circuit that never trips, inside the throttle: throttling alone.
    name: 'throttle',
    config: { kind: 'adaptive-throttle', circuit: { name: 'throttle', trip: { kind: 'consecutive-failures', threshold: 1_000_000 } } },
  },
  {
    name: 'throttle+classic',
    config: { kind: 'adaptive-throttle', circuit: { name: 'throttle+classic', trip: demoDetection, ...classicParts } },
  },
  {
    // The throttle sheds a partial failure's excess; the circuit trips only on a near-total one and
    // recovers gradually, which is what saves a fragile upstream. Threshold and open time chosen by
    // `breaker-sim tune` on the train half, seeds 1..3 (bench/quality/README.md).
    name: 'throttle+gradual',
    config: {
      kind: 'adaptive-throttle',
      circuit: {
        name: 'throttle+gradual',
        trip: { ...demoDetection, threshold: 0.9 },
        recovery: { kind: 'gradual' },
        openFor: { kind: 'constant', ms: 1_000 },
      },
    },
  },
  ...(options.learnedModel === undefined
    ? []
    : [
        {
          name: '+learned',
          config: {
            name: '+learned',
            trip: { kind: 'any-of', detectors: [demoDetection, { kind: 'learned', model: options.learnedModel }] },
            ...classicParts,
          },
        },
      ]),
]

/** Options of {@link libraryRows}. */
export interface LibraryRowsOptions {
  /** A model for the learned predictor (from `trainPredictor`): adds a row with it next to the failure-rate threshold. */
  readonly learnedModel?: PredictorModelInput
}

/** Builds a row's strategy, or says why its config is refused. */
export const strategyOfRow = (row: QualityRow, kinds: Kinds | undefined): Strategy<unknown> => {
  const decoded = strategyFromConfig(row.config, kinds === undefined ? {} : { kinds })
  if (decoded._tag === 'Left') throw new Error(`row ${row.name}: ${decoded.left.message}`)
  const built = decoded.right as Strategy<unknown>
  return built.name === row.name ? built : { ...built, name: row.name }
}
