/**
 * Training the learned predictor: simulate scenarios with every call let through, compute the
 * predictor's per-bucket features exactly as the detector does, label each bucket with whether
 * the upstream's true failure rate reaches 50% within the horizon, and fit a logistic model by
 * plain batch gradient descent (no randomness: the same inputs give the same weights).
 */
import {
  type BreakerEvent,
  circuit,
  closeBucket,
  EMPTY_PREDICTOR_HISTORY,
  PREDICTOR_FEATURES,
  type PredictorFeature,
  type PredictorModel,
  predict,
  type Strategy,
} from '@datapunk/breaker'
import type { Scenario } from './Scenario.js'
import { simulate } from './simulate.js'

/** Options of {@link trainPredictor}. */
export interface TrainOptions {
  /** The scenarios to simulate for training data. */
  readonly scenarios: ReadonlyArray<Scenario>
  /** The seeds to run each scenario on. */
  readonly seeds: ReadonlyArray<number>
  /** Recorded outcomes (time, failed, latency ms) to train on as well, labelled by the outcomes that followed them. */
  readonly outcomes?: ReadonlyArray<readonly [number, boolean, number]>
  /** A bucket is positive when the true failure rate reaches 50% within this many ms of its end. */
  readonly horizonMs: number
  /** The detector settings the features are computed with (defaults as `learnedPredictor`'s). */
  readonly bucketMs?: number
  /** Calls a bucket needs to count (default as the detector's). */
  readonly minimumCalls?: number
  /** Buckets seen before the baseline counts (default as the detector's). */
  readonly warmupBuckets?: number
  /** Gradient descent: passes over the data (default 2,000), step size (0.5), L2 penalty (0.0001). */
  readonly epochs?: number
  /** Gradient descent's step size (default 0.5). */
  readonly learningRate?: number
  /** The L2 penalty (default 0.0001). */
  readonly l2?: number
  /**
   * Weigh positive and negative buckets to half the total each (default false). Off, the model's
   * output is a probability (what `probability` in a learned config means), and a false-trip
   * budget is kept by choosing that probability. On, a class too rare for the fit to learn at all
   * still weighs; a balanced score of 0.5 then trips far more often than a probability of 0.5.
   */
  readonly balance?: boolean
  /** The features fitted (default: all of {@link PREDICTOR_FEATURES}); the others weigh 0. */
  readonly features?: ReadonlyArray<PredictorFeature>
  /** Told as the work goes: each (scenario, seed) simulated, then each hundred epochs. */
  readonly onProgress?: (done: number, total: number) => void
}

/** What training produced: the model, and how it fits the data it was trained on. */
export interface Trained {
  /** The model: weights and bias, ready for a `learned` detector config. */
  readonly model: PredictorModel
  /** Training buckets. */
  readonly examples: number
  /** Of those, buckets followed by failure within the horizon. */
  readonly positives: number
  /** Share of training buckets the model classifies right at probability 0.5. */
  readonly accuracy: number
  /**
   * What answering "no failure ahead" for every bucket scores: the share of negatives. Accuracy
   * means little next to it when positives are rare.
   */
  readonly alwaysNoAccuracy: number
  /** Of the buckets it flags (probability 0.5 or more), the share followed by failure; `null` if it flags none. */
  readonly precision: number | null
  /** Of the buckets followed by failure, the share it flags; `null` if there are none. */
  readonly recall: number | null
}

type Features = Readonly<Record<(typeof PREDICTOR_FEATURES)[number], number>>

/** A strategy that never trips and records every outcome it takes (time, failed, latency). */
const recorder = (sink: Array<readonly [number, boolean, number]>): Strategy<unknown> => {
  const inner = circuit({ name: 'recorder', trip: { kind: 'consecutive-failures', threshold: 1_000_000_000 } }) as Strategy<unknown>
  return {
    ...inner,
    step: (s: unknown, event: BreakerEvent, now: number) => {
      const result = inner.step(s, event, now)
      if ((event._tag === 'CallSucceeded' || event._tag === 'CallFailed') && result[1]._tag !== 'Ignored') {
        sink.push([now, event._tag === 'CallFailed', event.latencyMs])
      }
      return result
    },
  }
}

/** The highest true failure rate of `scenario` over [from, to]. */
const worstRate = (scenario: Scenario, from: number, to: number): number => {
  let worst = 0
  const segments = scenario.health
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]
    if (segment === undefined) continue
    const end = segments[i + 1]?.atMs ?? Number.POSITIVE_INFINITY
    if (segment.atMs <= to && end > from) worst = Math.max(worst, segment.failureRate)
  }
  return worst
}

/** One settled call: when, whether it failed, its latency in ms. */
export type TraceOutcome = readonly [number, boolean, number]

/**
 * The labelled feature vectors of a sequence of outcomes (in time order): one per bucket with
 * `minimumCalls`, after the warm-up, labelled by `failingWithin(bucketEnd)`.
 */
const examplesFrom = (
  start: number,
  outcomes: ReadonlyArray<TraceOutcome>,
  failingWithin: (end: number) => boolean,
  bucketMs: number,
  minimumCalls: number,
  warmupBuckets: number,
): Array<readonly [Features, 0 | 1]> => {
  const out: Array<readonly [Features, 0 | 1]> = []
  let bucketStart = start
  let calls = 0
  let failures = 0
  let latencySum = 0
  let history = EMPTY_PREDICTOR_HISTORY
  const close = () => {
    if (calls >= minimumCalls) {
      const closed = closeBucket(history, calls, failures, latencySum, warmupBuckets)
      const end = bucketStart + bucketMs
      if (history.buckets >= warmupBuckets) out.push([closed.features, failingWithin(end) ? 1 : 0])
      history = closed.history
    }
    calls = 0
    failures = 0
    latencySum = 0
  }
  for (const [at, failed, latencyMs] of outcomes) {
    if (at >= bucketStart + bucketMs) {
      close()
      // Skip whole empty buckets at once (a trace may have long quiet spells).
      bucketStart += Math.floor((at - bucketStart) / bucketMs) * bucketMs
    }
    calls++
    if (failed) failures++
    latencySum += latencyMs
  }
  close()
  return out
}

/** The labelled examples of one simulated run, with every call let through; labels from the scenario's true health. */
const examplesOf = (
  scenario: Scenario,
  seed: number,
  horizonMs: number,
  bucketMs: number,
  minimumCalls: number,
  warmupBuckets: number,
): Array<readonly [Features, 0 | 1]> => {
  const outcomes: TraceOutcome[] = []
  simulate(scenario, [recorder(outcomes)], { seed, bucketMs: scenario.durationMs })
  return examplesFrom(0, outcomes, (end) => worstRate(scenario, end, end + horizonMs) >= 0.5, bucketMs, minimumCalls, warmupBuckets)
}

/**
 * The labelled examples of recorded outcomes (a live breaker's trace): a bucket is positive when
 * the calls settled within the horizon after it failed at 50% or more (at least `minimumCalls`
 * of them). Only what the live breaker let through is known: a trace of an open breaker has gaps.
 */
export const traceExamples = (
  outcomes: ReadonlyArray<TraceOutcome>,
  horizonMs: number,
  options: { readonly bucketMs?: number; readonly minimumCalls?: number; readonly warmupBuckets?: number } = {},
): Array<readonly [Features, 0 | 1]> => {
  const bucketMs = options.bucketMs ?? 1000
  const minimumCalls = options.minimumCalls ?? 10
  const sorted = [...outcomes].sort((a, b) => a[0] - b[0])
  const times = sorted.map((o) => o[0])
  const failedPrefix = [0]
  for (const [, failed] of sorted) failedPrefix.push((failedPrefix[failedPrefix.length - 1] ?? 0) + (failed ? 1 : 0))
  /** Index of the first outcome at or after `t`. */
  const from = (t: number) => {
    let lo = 0
    let hi = times.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((times[mid] ?? 0) < t) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  const failingWithin = (end: number) => {
    const a = from(end)
    const b = from(end + horizonMs)
    const calls = b - a
    return calls >= minimumCalls && ((failedPrefix[b] ?? 0) - (failedPrefix[a] ?? 0)) / calls >= 0.5
  }
  return examplesFrom(sorted[0]?.[0] ?? 0, sorted, failingWithin, bucketMs, minimumCalls, options.warmupBuckets ?? 10)
}

/** Keeps a weight within what the model codec accepts, rounded to six decimals. */
const roundWeight = (v: number) => Math.max(-1000, Math.min(1000, Math.round(v * 1e6) / 1e6))

/**
 * Fits a logistic model by batch gradient descent on standardised features (each feature's mean
 * removed and divided by its spread, so one learning rate suits them all), then writes the
 * weights back for the raw features. `balance` weighs each class to half the total, so a rare
 * positive class is not traded away for accuracy on the common one. Deterministic.
 */
const fitLogistic = (
  data: ReadonlyArray<readonly [Features, 0 | 1]>,
  o: {
    readonly epochs: number
    readonly rate: number
    readonly l2: number
    readonly balance: boolean
    readonly features: ReadonlyArray<PredictorFeature>
    readonly onEpochs: () => void
  },
): PredictorModel => {
  const names = o.features
  const n = Math.max(1, data.length)
  const mean = names.map((name) => data.reduce((a, [x]) => a + x[name], 0) / n)
  const spread = names.map((name, i) => {
    const variance = data.reduce((a, [x]) => a + (x[name] - (mean[i] ?? 0)) ** 2, 0) / n
    return variance > 1e-12 ? Math.sqrt(variance) : 1
  })
  const rows = data.map(([x, y]) => ({ x: names.map((name, i) => (x[name] - (mean[i] ?? 0)) / (spread[i] ?? 1)), y }))
  const positives = data.filter(([, y]) => y === 1).length
  const weightOf = (y: 0 | 1): number => {
    if (!o.balance || positives === 0 || positives === data.length) return 1
    return y === 1 ? n / (2 * positives) : n / (2 * (n - positives))
  }
  const w = names.map(() => 0)
  let bias = 0
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    if (epoch % 100 === 99) o.onEpochs()
    const grad = names.map(() => 0)
    let gradBias = 0
    for (const { x, y } of rows) {
      let z = bias
      for (let i = 0; i < x.length; i++) z += (w[i] ?? 0) * (x[i] ?? 0)
      const p = 1 / (1 + Math.exp(-Math.max(-50, Math.min(50, z))))
      const err = (p - y) * weightOf(y)
      gradBias += err
      for (let i = 0; i < x.length; i++) grad[i] = (grad[i] ?? 0) + err * (x[i] ?? 0)
    }
    bias -= (o.rate * gradBias) / n
    for (let i = 0; i < w.length; i++) w[i] = (w[i] ?? 0) - o.rate * ((grad[i] ?? 0) / n + o.l2 * (w[i] ?? 0))
  }
  // Back to the raw features: z = bias + sum w_i (x_i - mean_i) / spread_i.
  const raw = names.map((_, i) => (w[i] ?? 0) / (spread[i] ?? 1))
  const rawBias = bias - raw.reduce((a, wi, i) => a + wi * (mean[i] ?? 0), 0)
  const weights = Object.fromEntries(
    PREDICTOR_FEATURES.map((name) => {
      const i = names.indexOf(name)
      return [name, i < 0 ? 0 : roundWeight(raw[i] ?? 0)]
    }),
  ) as Record<PredictorFeature, number>
  return { bias: roundWeight(rawBias), weights }
}

/**
 * Trains the learned predictor on `scenarios` x `seeds`. Deterministic. Keep some seeds out of
 * training to evaluate on (`breaker-sim evaluate` defaults to 101..120).
 *
 * @example
 * import { scenarios, trainPredictor } from '@datapunk/breaker-sim'
 * const brownout = scenarios.brownout
 * const trained = brownout && trainPredictor({ scenarios: [brownout], seeds: [1], horizonMs: 10_000, epochs: 200 })
 * trained !== undefined && trained.examples > 100 // true
 */
export const trainPredictor = (options: TrainOptions): Trained => {
  const features = options.features ?? PREDICTOR_FEATURES
  const unknown = features.filter((f) => !PREDICTOR_FEATURES.includes(f))
  if (unknown.length > 0 || features.length === 0)
    throw new RangeError(`trainPredictor: features must be some of ${PREDICTOR_FEATURES.join(', ')}, got ${features.join(', ') || 'none'}`)
  const bucketMs = options.bucketMs ?? 1000
  const minimumCalls = options.minimumCalls ?? 10
  const warmupBuckets = options.warmupBuckets ?? 10
  const epochs = options.epochs ?? 2000
  const rate = options.learningRate ?? 0.5
  const l2 = options.l2 ?? 0.0001
  const data: Array<readonly [Features, 0 | 1]> = []
  // Progress: each (scenario, seed) simulated, then each hundred epochs.
  const total = options.scenarios.length * options.seeds.length + Math.ceil(epochs / 100)
  let done = 0
  for (const scenario of options.scenarios) {
    for (const seed of options.seeds) {
      data.push(...examplesOf(scenario, seed, options.horizonMs, bucketMs, minimumCalls, warmupBuckets))
      options.onProgress?.(++done, total)
    }
  }
  if (options.outcomes !== undefined)
    data.push(...traceExamples(options.outcomes, options.horizonMs, { bucketMs, minimumCalls, warmupBuckets }))
  const model = fitLogistic(data, {
    epochs,
    rate,
    l2,
    balance: options.balance ?? false,
    features,
    onEpochs: () => options.onProgress?.(++done, total),
  })
  let truePositives = 0
  let flagged = 0
  let positives = 0
  for (const [x, y] of data) {
    const flags = predict(model, x) >= 0.5
    if (flags) flagged++
    if (y === 1) positives++
    if (flags && y === 1) truePositives++
  }
  const right = data.length - (flagged - truePositives) - (positives - truePositives)
  const n = Math.max(1, data.length)
  return {
    model,
    examples: data.length,
    positives,
    accuracy: right / n,
    alwaysNoAccuracy: (data.length - positives) / n,
    precision: flagged === 0 ? null : truePositives / flagged,
    recall: positives === 0 ? null : truePositives / positives,
  }
}
