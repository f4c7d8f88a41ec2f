/**
 * Training the learned predictor: simulate scenarios with every call let through, compute the
 * predictor's per-bucket features exactly as the detector does, label each bucket with whether
 * the upstream's true failure rate reaches 50% within the horizon, and fit a logistic model by
 * plain batch gradient descent (no randomness: the same inputs give the same weights).
 */
import {
  type BreakerEvent,
  circuit,
  nextBaseline,
  PREDICTOR_FEATURES,
  type PredictorModel,
  predict,
  predictorFeatures,
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
  let lastRate = 0
  let lastLogRatio = 0
  let baselineMs = 0
  let buckets = 0
  const close = () => {
    if (calls >= minimumCalls) {
      const features = predictorFeatures(calls, failures, latencySum, lastRate, lastLogRatio, baselineMs)
      const end = bucketStart + bucketMs
      if (buckets >= warmupBuckets) out.push([features, failingWithin(end) ? 1 : 0])
      lastRate = features.failureRate
      lastLogRatio = baselineMs === 0 ? 0 : features.logLatencyRatio
      baselineMs = nextBaseline(baselineMs, buckets, latencySum / calls, warmupBuckets)
      buckets++
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
  const names = PREDICTOR_FEATURES
  const w = names.map(() => 0)
  let bias = 0
  const n = Math.max(1, data.length)
  for (let epoch = 0; epoch < epochs; epoch++) {
    if (epoch % 100 === 99) options.onProgress?.(++done, total)
    const grad = names.map(() => 0)
    let gradBias = 0
    for (const [x, y] of data) {
      let z = bias
      names.forEach((name, i) => {
        z += (w[i] ?? 0) * x[name]
      })
      const p = 1 / (1 + Math.exp(-Math.max(-50, Math.min(50, z))))
      const err = p - y
      gradBias += err
      names.forEach((name, i) => {
        grad[i] = (grad[i] ?? 0) + err * x[name]
      })
    }
    bias -= (rate * gradBias) / n
    names.forEach((_, i) => {
      w[i] = (w[i] ?? 0) - rate * ((grad[i] ?? 0) / n + l2 * (w[i] ?? 0))
    })
  }
  const round = (v: number) => Math.max(-1000, Math.min(1000, Math.round(v * 1e6) / 1e6))
  const model: PredictorModel = {
    bias: round(bias),
    weights: {
      failureRate: round(w[0] ?? 0),
      failureRateChange: round(w[1] ?? 0),
      logLatencyRatio: round(w[2] ?? 0),
      logLatencyRatioChange: round(w[3] ?? 0),
    },
  }
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
