import type * as t from 'io-ts'
import { ConfigError, decodeOrThrow, problem } from './ConfigError.js'
import { constrained, DurationMs, Finite, intIn, literal, NonNegativeInt, oneOf, Ratio, struct } from './codecs.js'
import { canonical, type Detector, emptyDetectorSnapshot } from './Detector.js'
import { Limits } from './Limits.js'

// ---- model -------------------------------------------------------------------------------

/** State of the trend-forecast detector: the bucket being filled and Holt's level and trend. */
export interface TrendForecastState {
  /** Always `trend-forecast`. */
  readonly kind: 'trend-forecast'
  /** When the bucket being filled began. */
  readonly bucketStart: number
  /** Calls in the bucket being filled. */
  readonly calls: number
  /** Failures in the bucket being filled. */
  readonly failures: number
  /** Smoothed failure rate (Holt's level), and its smoothed change per bucket (Holt's trend). */
  readonly level: number
  /** The smoothed change of the level per bucket (Holt's trend). */
  readonly trend: number
  /** Buckets that gave the smoothing a rate (those with `minimumCalls` outcomes or more). */
  readonly buckets: number
  /** For `signal: 'latency'`: the running estimate of the latency quantile (ms); 0 otherwise. */
  readonly estimate: number
}

// ---- codecs ------------------------------------------------------------------------------

/**
 * Config codec: `{ kind: 'trend-forecast', signal, threshold, quantile, horizonMs, bucketMs,
 * levelWeight, trendWeight, minimumCalls, warmupBuckets }`. `signal` is `'failure'` (default: the
 * failure rate, `threshold` a ratio, default 0.5) or `'latency'` (a latency quantile, `quantile`
 * default 0.9, `threshold` in ms, required). Defaults: `horizonMs` 10,000,
 * `bucketMs` 1,000, `levelWeight` 0.3, `trendWeight` 0.1, `minimumCalls` 10 (per bucket),
 * `warmupBuckets` 10. In the simulator (`bench/prediction/README.md`) a 30 s horizon tripped on
 * 3-second bursts of 25% errors; 10 s did not, and still shed a brown-out's load ~20 s early.
 */
export const TrendForecastConfig = struct(
  'a trend-forecast detector',
  { kind: literal('trend-forecast') },
  {
    signal: oneOf<'failure' | 'latency'>(['failure', 'latency']),
    threshold: constrained('a finite number > 0', (n) => n > 0 && n < Number.POSITIVE_INFINITY),
    quantile: constrained('a number in (0, 1)', (n) => n > 0 && n < 1),
    horizonMs: DurationMs,
    bucketMs: DurationMs,
    levelWeight: Ratio,
    trendWeight: Ratio,
    minimumCalls: intIn(1, Limits.maxStageCalls),
    warmupBuckets: intIn(1, 10_000),
  },
  {
    signal: 'failure',
    quantile: 0.9,
    horizonMs: 10_000,
    bucketMs: 1_000,
    levelWeight: 0.3,
    trendWeight: 0.1,
    minimumCalls: 10,
    warmupBuckets: 10,
  },
)
/** A trend-forecast config (defaults filled). */
export type TrendForecastConfig = t.TypeOf<typeof TrendForecastConfig>
/** The trend forecast's settings as written in code. */
export type TrendForecastInput = Partial<Omit<TrendForecastConfig, 'kind'>>

const Level = constrained('a finite number >= 0', (n) => n >= 0 && Number.isFinite(n))
const Trend = Finite

const TrendForecastStateCodec = struct('a trend-forecast state', {
  kind: literal('trend-forecast'),
  bucketStart: Finite,
  calls: NonNegativeInt,
  failures: NonNegativeInt,
  level: Level,
  trend: Trend,
  buckets: NonNegativeInt,
  estimate: Level,
})

const forecastState = (
  bucketStart: number,
  calls: number,
  failures: number,
  level: number,
  trend: number,
  buckets: number,
  estimate: number,
): TrendForecastState => ({ kind: 'trend-forecast', bucketStart, calls, failures, level, trend, buckets, estimate })

// ---- constructors ------------------------------------------------------------------------

/**
 * Trips on where the failure rate (or a latency quantile) is heading: Holt's linear smoothing of
 * the failure rate per `bucketMs`, tripping when the forecast `horizonMs` ahead (`level + trend *
 * horizonMs / bucketMs`) reaches `threshold`, once `warmupBuckets` buckets have been seen. With
 * `signal: 'latency'` the value per bucket is a running estimate of the `quantile` of latency
 * (a stochastic approximation that moves up by `quantile` and down by `1 - quantile` in steps of
 * 2% of itself, O(1) per call) and `threshold` is in ms.
 *
 * - A bucket gives the smoothing its failure rate when it closes with `minimumCalls` outcomes or
 *   more; a quieter bucket gives nothing (too little evidence either way), and buckets without
 *   traffic are skipped, so an idle service neither trips nor forgets.
 * - `levelWeight` and `trendWeight` are Holt's alpha and beta: how fast the level follows the
 *   rates, and the trend follows the level's changes. The level is kept in [0, 1], the trend in
 *   [-1, 1].
 * - A rising trend alone never trips a healthy upstream far from the threshold: the forecast must
 *   reach it, so a steep but short burst (a few buckets at 25%) moves the level and the trend too
 *   little, while a ramp that keeps rising trips before the rate itself gets there.
 *
 * @example
 * import { trendForecast } from '@datapunk/breaker'
 * const detector = trendForecast({ horizonMs: 20_000, warmupBuckets: 3 })
 * let s = detector.initial(0)
 * // 100 calls a second; the failure rate climbs 2 points a second from 2%.
 * for (let ms = 0; ms < 20_000 && !detector.tripped(s); ms += 10) {
 *   const rate = 0.02 + 0.02 * Math.floor(ms / 1000)
 *   s = detector.record(s, (ms / 10) % 100 < rate * 100, 30, ms)
 * }
 * // It trips while the smoothed rate itself is still under the threshold.
 * detector.tripped(s) // true
 * s.level < 0.5 // true
 */
export const trendForecast = (input: TrendForecastInput = {}): Detector<TrendForecastState> => {
  const decoded = decodeOrThrow(TrendForecastConfig, { ...input, kind: 'trend-forecast' })
  const latency = decoded.signal === 'latency'
  if (latency && decoded.threshold === undefined)
    throw new ConfigError([problem('threshold', 'expected a latency in ms for signal latency')])
  if (!latency && decoded.threshold !== undefined && decoded.threshold > 1) {
    throw new ConfigError([problem('threshold', `expected a failure rate in (0, 1], got ${decoded.threshold}`)])
  }
  const config = { ...decoded, threshold: decoded.threshold ?? 0.5 }
  const { threshold, horizonMs, bucketMs, levelWeight, trendWeight, minimumCalls, warmupBuckets, quantile } = config
  if (horizonMs < bucketMs) {
    throw new ConfigError([problem('horizonMs', `expected at least bucketMs (${bucketMs}), got ${horizonMs}`)])
  }
  const hi = latency ? Number.MAX_VALUE : 1
  const ahead = horizonMs / bucketMs
  const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x))

  /** Closes the buckets that ended by `now`: the one filled so far gives a rate if it has the calls. */
  const rotate = (s: TrendForecastState, now: number): TrendForecastState => {
    if (!(now >= s.bucketStart + bucketMs)) return s
    const start = s.bucketStart + Math.floor((now - s.bucketStart) / bucketMs) * bucketMs
    if (s.calls < minimumCalls) return forecastState(start, 0, 0, s.level, s.trend, s.buckets, s.estimate)
    const value = latency ? s.estimate : s.failures / s.calls
    if (s.buckets === 0) return forecastState(start, 0, 0, value, 0, 1, s.estimate)
    const level = clamp(levelWeight * value + (1 - levelWeight) * (s.level + s.trend), 0, hi)
    const trend = clamp(trendWeight * (level - s.level) + (1 - trendWeight) * s.trend, -hi, hi)
    return forecastState(start, 0, 0, level, trend, s.buckets + 1, s.estimate)
  }

  return {
    kind: 'trend-forecast',
    config,
    key: canonical(config),
    ...(latency ? {} : { failureRateThreshold: threshold }),
    initial: (now) => forecastState(now, 0, 0, 0, 0, 0, 0),
    record: (s, failed, latencyMs, now) => {
      const r = rotate(s, now)
      // A running quantile (stochastic approximation): up by quantile, down by 1 - quantile, in steps of 2% of the estimate.
      const estimate = !latency
        ? 0
        : r.estimate === 0
          ? latencyMs
          : Math.max(0, r.estimate + Math.max(r.estimate, 1) * 0.02 * (latencyMs > r.estimate ? quantile : quantile - 1))
      return forecastState(r.bucketStart, r.calls + 1, failed ? r.failures + 1 : r.failures, r.level, r.trend, r.buckets, estimate)
    },
    advance: (s, now) => rotate(s, now),
    rebase: (s, deltaMs) => forecastState(s.bucketStart + deltaMs, s.calls, s.failures, s.level, s.trend, s.buckets, s.estimate),
    tripped: (s) => s.buckets >= warmupBuckets && s.level + s.trend * ahead >= threshold,
    measure: (s) => [
      {
        ...emptyDetectorSnapshot('trend-forecast'),
        failureRate: s.buckets === 0 || latency ? null : s.level,
        figures: { level: s.level, trend: s.trend, forecast: clamp(s.level + s.trend * ahead, 0, hi), buckets: s.buckets },
      },
    ],
    codec: {
      validate: (u, c) => {
        const r = TrendForecastStateCodec.validate(u, c)
        if (r._tag === 'Left') return r
        const v = r.right
        return v.failures > v.calls
          ? { _tag: 'Left', left: [{ value: u, context: c, message: 'expected failures <= calls' }] }
          : !latency && (v.level > 1 || Math.abs(v.trend) > 1 || v.estimate !== 0)
            ? {
                _tag: 'Left',
                left: [
                  { value: u, context: c, message: 'expected a level in [0, 1], a trend in [-1, 1] and no estimate for signal failure' },
                ],
              }
            : { _tag: 'Right', right: forecastState(v.bucketStart, v.calls, v.failures, v.level, v.trend, v.buckets, v.estimate) }
      },
      encode: (s) => ({ ...s }),
    },
  }
}
