import * as t from 'io-ts'
import { decodeOrThrow } from './ConfigError.js'
import { constrained, DurationMs, Finite, intIn, literal, NonNegativeInt, struct } from './codecs.js'
import { canonical, type Detector, emptyDetectorSnapshot } from './Detector.js'

// ---- model -------------------------------------------------------------------------------

/**
 * The features a learned predictor sees, once per bucket, over three horizons:
 * - the bucket itself: its failure rate and that rate's change against the previous bucket's; the
 *   log of its mean latency over the learnt baseline, and that log's change;
 * - about 10 buckets and about 60 buckets: the same failure rate and log latency ratio, averaged
 *   (a running mean over the first buckets, then an exponential average with weight 1/10 and 1/60).
 *
 * A model weighs them linearly, so it can learn trends (10 buckets against 60: a rise that builds up
 * over a minute) and precursors (latency rising before errors) that no single bucket shows.
 */
export const PREDICTOR_FEATURES = [
  'failureRate',
  'failureRateChange',
  'logLatencyRatio',
  'logLatencyRatioChange',
  'failureRate10',
  'failureRate60',
  'logLatencyRatio10',
  'logLatencyRatio60',
] as const
/** One feature of the learned predictor's model (see {@link PREDICTOR_FEATURES}). */
export type PredictorFeature = (typeof PREDICTOR_FEATURES)[number]

/** The averaging horizons of the slower features, in buckets. */
const SHORT_HORIZON = 10
const LONG_HORIZON = 60

/**
 * What a learned predictor remembers of the buckets it closed: the last one's failure rate and
 * log latency ratio, the latency baseline, the number of buckets, and the averages over about 10
 * and 60 buckets. The detector and the trainer both carry it from bucket to bucket with
 * {@link closeBucket}, so a trained model sees in production what it saw in training.
 */
export interface PredictorHistory {
  /** The previous bucket's failure rate. */
  readonly lastRate: number
  /** The previous bucket's log latency ratio (0 while there is no baseline). */
  readonly lastLogRatio: number
  /** The mean latency of the warm-up's buckets (ms), then fixed; 0 until the first bucket. */
  readonly baselineMs: number
  /** Buckets closed with enough calls. */
  readonly buckets: number
  /** The failure rate averaged over about 10 buckets. */
  readonly rate10: number
  /** The failure rate averaged over about 60 buckets. */
  readonly rate60: number
  /** The log latency ratio averaged over about 10 buckets. */
  readonly logRatio10: number
  /** The log latency ratio averaged over about 60 buckets. */
  readonly logRatio60: number
}

/** The history before any bucket. */
export const EMPTY_PREDICTOR_HISTORY: PredictorHistory = {
  lastRate: 0,
  lastLogRatio: 0,
  baselineMs: 0,
  buckets: 0,
  rate10: 0,
  rate60: 0,
  logRatio10: 0,
  logRatio60: 0,
}

/** State of a learned predictor: the bucket being filled, what it remembers of the closed ones, the run of buckets over the threshold, the last probability. */
export interface LearnedPredictorState extends PredictorHistory {
  /** Always `learned`. */
  readonly kind: 'learned'
  /** When the bucket being filled began. */
  readonly bucketStart: number
  /** Calls in the bucket being filled. */
  readonly calls: number
  /** Failures in it. */
  readonly failures: number
  /** The sum of its calls' latencies, in ms. */
  readonly latencySum: number
  /** Consecutive buckets at or over the probability threshold. */
  readonly over: number
  /** The predicted probability of the last closed bucket. */
  readonly probability: number
}

// ---- codecs ------------------------------------------------------------------------------

const Weight = constrained('a finite number in [-1000, 1000]', (n) => n >= -1000 && n <= 1000)
const Probability = constrained('a probability in (0, 1)', (n) => n > 0 && n < 1)

/**
 * A logistic model over {@link PREDICTOR_FEATURES}: what `breaker-sim train` writes. The weights of
 * the averaged features (`failureRate10`, `failureRate60`, `logLatencyRatio10`,
 * `logLatencyRatio60`) are optional and 0 when absent, so a model trained on the bucket features
 * alone (as before they existed) predicts what it did.
 */
export const PredictorModel = struct('a predictor model', {
  bias: Weight,
  weights: struct(
    'the weights by feature',
    {
      failureRate: Weight,
      failureRateChange: Weight,
      logLatencyRatio: Weight,
      logLatencyRatioChange: Weight,
    },
    { failureRate10: Weight, failureRate60: Weight, logLatencyRatio10: Weight, logLatencyRatio60: Weight },
    { failureRate10: 0, failureRate60: 0, logLatencyRatio10: 0, logLatencyRatio60: 0 },
  ),
})
/** A decoded predictor model: every weight present. */
export type PredictorModel = t.TypeOf<typeof PredictorModel>
/** A predictor model as written: the averaged features' weights optional (0 when absent). */
export type PredictorModelInput = t.OutputOf<typeof PredictorModel>

/**
 * Config codec: `{ kind: 'learned', model, probability, bucketMs, minimumCalls, confirmBuckets,
 * warmupBuckets }`. Defaults: `probability` 0.5, `bucketMs` 1,000, `minimumCalls` 10 (per
 * bucket), `confirmBuckets` 2, `warmupBuckets` 10.
 */
export const LearnedPredictorConfig = struct(
  'a learned predictor',
  { kind: literal('learned'), model: PredictorModel },
  {
    probability: Probability,
    bucketMs: DurationMs,
    minimumCalls: intIn(1, 1_000_000),
    confirmBuckets: intIn(1, 1000),
    warmupBuckets: intIn(1, 10_000),
  },
  { probability: 0.5, bucketMs: 1_000, minimumCalls: 10, confirmBuckets: 2, warmupBuckets: 10 },
)
/** A decoded learned-predictor config (defaults filled). */
export type LearnedPredictorConfig = t.TypeOf<typeof LearnedPredictorConfig>
/** What `learnedPredictor` takes: the model (as written), with every other field optional (defaults filled). */
export type LearnedPredictorInput = { readonly model: PredictorModelInput } & Partial<
  Pick<LearnedPredictorConfig, 'probability' | 'bucketMs' | 'minimumCalls' | 'confirmBuckets' | 'warmupBuckets'>
>

const NonNegativeFinite = constrained('a finite number >= 0', (n) => n >= 0 && Number.isFinite(n))
const Rate = constrained('a number in [0, 1]', (n) => n >= 0 && n <= 1)
/** A log latency ratio as features keep it: in [-5, 5]. */
const LogRatio = constrained('a number in [-5, 5]', (n) => n >= -5 && n <= 5)
/**
 * The state codec. The averages are optional: a state written before they existed reads back with
 * each set to its horizon's last bucket (the best guess it holds).
 */
const StateCodec = struct(
  'a learned-predictor state',
  {
    kind: literal('learned'),
    bucketStart: Finite,
    calls: NonNegativeInt,
    failures: NonNegativeInt,
    latencySum: NonNegativeFinite,
    lastRate: Rate,
    lastLogRatio: Finite,
    baselineMs: NonNegativeFinite,
    buckets: NonNegativeInt,
    over: NonNegativeInt,
    probability: Rate,
  },
  { rate10: Rate, rate60: Rate, logRatio10: LogRatio, logRatio60: LogRatio },
)

const predictorState = (
  bucketStart: number,
  calls: number,
  failures: number,
  latencySum: number,
  history: PredictorHistory,
  over: number,
  probability: number,
): LearnedPredictorState => ({
  kind: 'learned',
  bucketStart,
  calls,
  failures,
  latencySum,
  lastRate: history.lastRate,
  lastLogRatio: history.lastLogRatio,
  baselineMs: history.baselineMs,
  buckets: history.buckets,
  rate10: history.rate10,
  rate60: history.rate60,
  logRatio10: history.logRatio10,
  logRatio60: history.logRatio60,
  over,
  probability,
})

/** A log latency ratio is kept in [-5, 5] (a factor of ~150 either way): one odd bucket cannot dominate. */
const clampLog = (x: number) => Math.max(-5, Math.min(5, x))
const clampRate = (x: number) => Math.max(0, Math.min(1, x))

/** An average over about `horizon` buckets after `n` earlier ones, moved to `x`: a running mean at first, then exponential. */
const averaged = (average: number, x: number, n: number, horizon: number): number => average + (x - average) / Math.min(n + 1, horizon)

/**
 * The features of a closed bucket (`calls` outcomes, `failures` of them, `latencySum` ms in all)
 * given what the predictor remembers of the buckets before it: what the predictor and the trainer
 * both compute (so a trained model sees in production what it saw in training).
 */
export const predictorFeatures = (
  calls: number,
  failures: number,
  latencySum: number,
  history: PredictorHistory,
): Readonly<Record<PredictorFeature, number>> => {
  const rate = failures / calls
  const mean = latencySum / calls
  const { baselineMs, buckets } = history
  const logRatio = baselineMs > 0 ? clampLog(Math.log(Math.max(mean, 0.001) / baselineMs)) : 0
  return {
    failureRate: rate,
    failureRateChange: rate - history.lastRate,
    logLatencyRatio: logRatio,
    logLatencyRatioChange: logRatio - history.lastLogRatio,
    // Clamped against rounding: an average of values in a range stays in it (the state codec checks).
    failureRate10: clampRate(averaged(history.rate10, rate, buckets, SHORT_HORIZON)),
    failureRate60: clampRate(averaged(history.rate60, rate, buckets, LONG_HORIZON)),
    logLatencyRatio10: clampLog(averaged(history.logRatio10, logRatio, buckets, SHORT_HORIZON)),
    logLatencyRatio60: clampLog(averaged(history.logRatio60, logRatio, buckets, LONG_HORIZON)),
  }
}

/** The latency baseline after a bucket of mean `meanMs`: the running mean over the first `warmupBuckets` buckets, then fixed. */
export const nextBaseline = (baselineMs: number, buckets: number, meanMs: number, warmupBuckets: number): number =>
  buckets < warmupBuckets ? baselineMs + (meanMs - baselineMs) / (buckets + 1) : baselineMs

/**
 * Closes a bucket of `calls` outcomes (at least one), `failures` of them, `latencySum` ms in all:
 * its features, and the history the next bucket is judged against. The detector and the trainer
 * both go from bucket to bucket with it.
 *
 * @example
 * import { closeBucket, EMPTY_PREDICTOR_HISTORY } from '@datapunk/breaker'
 * const first = closeBucket(EMPTY_PREDICTOR_HISTORY, 10, 1, 500, 10)
 * first.features.failureRate // 0.1
 * const second = closeBucket(first.history, 10, 3, 500, 10)
 * second.features.failureRate10 // 0.2: the mean of the two buckets so far
 */
export const closeBucket = (
  history: PredictorHistory,
  calls: number,
  failures: number,
  latencySum: number,
  warmupBuckets: number,
): { readonly features: Readonly<Record<PredictorFeature, number>>; readonly history: PredictorHistory } => {
  const features = predictorFeatures(calls, failures, latencySum, history)
  return {
    features,
    history: {
      lastRate: features.failureRate,
      lastLogRatio: features.logLatencyRatio,
      baselineMs: nextBaseline(history.baselineMs, history.buckets, latencySum / calls, warmupBuckets),
      buckets: history.buckets + 1,
      rate10: features.failureRate10,
      rate60: features.failureRate60,
      logRatio10: features.logLatencyRatio10,
      logRatio60: features.logLatencyRatio60,
    },
  }
}

/** The model's probability for `features` (a weight the model does not have counts as 0). */
export const predict = (model: PredictorModelInput, features: Readonly<Record<PredictorFeature, number>>): number => {
  let z = model.bias
  const weights: Partial<Record<PredictorFeature, number>> = model.weights
  for (const name of PREDICTOR_FEATURES) z += (weights[name] ?? 0) * features[name]
  return 1 / (1 + Math.exp(-Math.max(-50, Math.min(50, z))))
}

// ---- constructors ------------------------------------------------------------------------

/**
 * A learned predictor: a logistic model (its weights are config, written by `breaker-sim train`)
 * over per-bucket features of the traffic ({@link PREDICTOR_FEATURES}), predicting that the
 * upstream will be failing within the horizon it was trained for. It trips once the predicted
 * probability has been at least `probability` for `confirmBuckets` buckets in a row, after
 * `warmupBuckets`. Buckets with fewer than `minimumCalls` outcomes give no prediction (and do not
 * break a run of confirmations). The latency baseline is the mean latency of the warm-up's
 * buckets, then fixed (the circuit restarts the detector on every close), so it cannot learn a
 * degradation away, and the trainer computes exactly the same features. Pure and deterministic:
 * the model is data.
 *
 * @example
 * import { learnedPredictor } from '@datapunk/breaker'
 * const detector = learnedPredictor({
 *   model: { bias: -4, weights: { failureRate: 12, failureRateChange: 5, logLatencyRatio: 1, logLatencyRatioChange: 1 } },
 *   warmupBuckets: 1, confirmBuckets: 1,
 * })
 * let s = detector.initial(0)
 * for (let ms = 0; ms < 3000; ms += 10) s = detector.record(s, false, 30, ms) // healthy
 * detector.tripped(s) // false
 * for (let ms = 3000; ms < 5000; ms += 10) s = detector.record(s, (ms / 10) % 2 === 0, 30, ms) // half fail
 * detector.tripped(s) // true
 */
export const learnedPredictor = (input: LearnedPredictorInput): Detector<LearnedPredictorState> => {
  const config = decodeOrThrow(LearnedPredictorConfig, { ...input, kind: 'learned' })
  const { model, probability, bucketMs, minimumCalls, confirmBuckets, warmupBuckets } = config

  const rotate = (s: LearnedPredictorState, now: number): LearnedPredictorState => {
    if (!(now >= s.bucketStart + bucketMs)) return s
    const start = s.bucketStart + Math.floor((now - s.bucketStart) / bucketMs) * bucketMs
    if (s.calls < minimumCalls) return predictorState(start, 0, 0, 0, s, s.over, s.probability)
    const closed = closeBucket(s, s.calls, s.failures, s.latencySum, warmupBuckets)
    const p = predict(model, closed.features)
    return predictorState(start, 0, 0, 0, closed.history, p >= probability ? s.over + 1 : 0, p)
  }

  return {
    kind: 'learned',
    config,
    key: canonical(config),
    initial: (now) => predictorState(now, 0, 0, 0, EMPTY_PREDICTOR_HISTORY, 0, 0),
    record: (s, failed, latencyMs, now) => {
      const r = rotate(s, now)
      return predictorState(
        r.bucketStart,
        r.calls + 1,
        failed ? r.failures + 1 : r.failures,
        r.latencySum + latencyMs,
        r,
        r.over,
        r.probability,
      )
    },
    advance: (s, now) => rotate(s, now),
    rebase: (s, deltaMs) => predictorState(s.bucketStart + deltaMs, s.calls, s.failures, s.latencySum, s, s.over, s.probability),
    tripped: (s) => s.buckets >= warmupBuckets && s.over >= confirmBuckets,
    measure: (s) => [{ ...emptyDetectorSnapshot('learned'), figures: { probability: s.probability, buckets: s.buckets } }],
    codec: {
      validate: (u, c) => {
        const r = StateCodec.validate(u, c)
        if (r._tag === 'Left') return r
        const v = r.right
        if (v.failures > v.calls || v.over > v.buckets) return t.failure(u, c, 'expected failures <= calls and over <= buckets')
        const history: PredictorHistory = {
          lastRate: v.lastRate,
          lastLogRatio: v.lastLogRatio,
          baselineMs: v.baselineMs,
          buckets: v.buckets,
          rate10: v.rate10 ?? v.lastRate,
          rate60: v.rate60 ?? v.lastRate,
          logRatio10: v.logRatio10 ?? clampLog(v.lastLogRatio),
          logRatio60: v.logRatio60 ?? clampLog(v.lastLogRatio),
        }
        return t.success(predictorState(v.bucketStart, v.calls, v.failures, v.latencySum, history, v.over, v.probability))
      },
      encode: (s) => ({ ...s }),
    },
  }
}
