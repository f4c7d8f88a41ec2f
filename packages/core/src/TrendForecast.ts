import type * as t from 'io-ts'
import { ConfigError, decodeOrThrow, problem } from './ConfigError.js'
import { constrained, DurationMs, Finite, intIn, literal, NonNegativeInt, Ratio, struct } from './codecs.js'
import { canonical, type Detector, emptyDetectorSnapshot } from './Detector.js'
import { Limits } from './Limits.js'

// ---- model -------------------------------------------------------------------------------

/** State of the trend-forecast detector: the bucket being filled and Holt's level and trend. */
export interface TrendForecastState {
  readonly kind: 'trend-forecast'
  /** When the bucket being filled began. */
  readonly bucketStart: number
  readonly calls: number
  readonly failures: number
  /** Smoothed failure rate (Holt's level), and its smoothed change per bucket (Holt's trend). */
  readonly level: number
  readonly trend: number
  /** Buckets that gave the smoothing a rate (those with `minimumCalls` outcomes or more). */
  readonly buckets: number
}

// ---- codecs ------------------------------------------------------------------------------

/**
 * Config codec: `{ kind: 'trend-forecast', threshold, horizonMs, bucketMs, levelWeight,
 * trendWeight, minimumCalls, warmupBuckets }`. Defaults: `threshold` 0.5, `horizonMs` 10,000,
 * `bucketMs` 1,000, `levelWeight` 0.3, `trendWeight` 0.1, `minimumCalls` 10 (per bucket),
 * `warmupBuckets` 10. In the simulator (`bench/prediction/README.md`) a 30 s horizon tripped on
 * 3-second bursts of 25% errors; 10 s did not, and still shed a brown-out's load ~20 s early.
 */
export const TrendForecastConfig = struct(
  'a trend-forecast detector',
  { kind: literal('trend-forecast') },
  {
    threshold: Ratio,
    horizonMs: DurationMs,
    bucketMs: DurationMs,
    levelWeight: Ratio,
    trendWeight: Ratio,
    minimumCalls: intIn(1, Limits.maxStageCalls),
    warmupBuckets: intIn(1, 10_000),
  },
  { threshold: 0.5, horizonMs: 10_000, bucketMs: 1_000, levelWeight: 0.3, trendWeight: 0.1, minimumCalls: 10, warmupBuckets: 10 },
)
/** A trend-forecast config (defaults filled). */
export type TrendForecastConfig = t.TypeOf<typeof TrendForecastConfig>
/** The trend forecast's settings as written in code. */
export type TrendForecastInput = Partial<Omit<TrendForecastConfig, 'kind'>>

const Level = constrained('a number in [0, 1]', (n) => n >= 0 && n <= 1)
const Trend = constrained('a number in [-1, 1]', (n) => n >= -1 && n <= 1)

const TrendForecastStateCodec = struct('a trend-forecast state', {
  kind: literal('trend-forecast'),
  bucketStart: Finite,
  calls: NonNegativeInt,
  failures: NonNegativeInt,
  level: Level,
  trend: Trend,
  buckets: NonNegativeInt,
})

const forecastState = (
  bucketStart: number,
  calls: number,
  failures: number,
  level: number,
  trend: number,
  buckets: number,
): TrendForecastState => ({ kind: 'trend-forecast', bucketStart, calls, failures, level, trend, buckets })

// ---- constructors ------------------------------------------------------------------------

/**
 * Trips on where the failure rate is heading: Holt's linear smoothing of the failure rate per
 * `bucketMs`, tripping when the forecast `horizonMs` ahead (`level + trend * horizonMs /
 * bucketMs`) reaches `threshold`, once `warmupBuckets` buckets have been seen.
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
  const config = decodeOrThrow(TrendForecastConfig, { ...input, kind: 'trend-forecast' })
  const { threshold, horizonMs, bucketMs, levelWeight, trendWeight, minimumCalls, warmupBuckets } = config
  if (horizonMs < bucketMs) {
    throw new ConfigError([problem('horizonMs', `expected at least bucketMs (${bucketMs}), got ${horizonMs}`)])
  }
  const ahead = horizonMs / bucketMs
  const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x))

  /** Closes the buckets that ended by `now`: the one filled so far gives a rate if it has the calls. */
  const rotate = (s: TrendForecastState, now: number): TrendForecastState => {
    if (!(now >= s.bucketStart + bucketMs)) return s
    const start = s.bucketStart + Math.floor((now - s.bucketStart) / bucketMs) * bucketMs
    if (s.calls < minimumCalls) return forecastState(start, 0, 0, s.level, s.trend, s.buckets)
    const rate = s.failures / s.calls
    if (s.buckets === 0) return forecastState(start, 0, 0, rate, 0, 1)
    const level = clamp(levelWeight * rate + (1 - levelWeight) * (s.level + s.trend), 0, 1)
    const trend = clamp(trendWeight * (level - s.level) + (1 - trendWeight) * s.trend, -1, 1)
    return forecastState(start, 0, 0, level, trend, s.buckets + 1)
  }

  return {
    kind: 'trend-forecast',
    config,
    key: canonical(config),
    failureRateThreshold: threshold,
    initial: (now) => forecastState(now, 0, 0, 0, 0, 0),
    record: (s, failed, _latencyMs, now) => {
      const r = rotate(s, now)
      return forecastState(r.bucketStart, r.calls + 1, failed ? r.failures + 1 : r.failures, r.level, r.trend, r.buckets)
    },
    advance: (s, now) => rotate(s, now),
    rebase: (s, deltaMs) => forecastState(s.bucketStart + deltaMs, s.calls, s.failures, s.level, s.trend, s.buckets),
    tripped: (s) => s.buckets >= warmupBuckets && s.level + s.trend * ahead >= threshold,
    measure: (s) => [
      {
        ...emptyDetectorSnapshot('trend-forecast'),
        failureRate: s.buckets === 0 ? null : s.level,
        figures: { level: s.level, trend: s.trend, forecast: clamp(s.level + s.trend * ahead, 0, 1), buckets: s.buckets },
      },
    ],
    codec: {
      validate: (u, c) => {
        const r = TrendForecastStateCodec.validate(u, c)
        if (r._tag === 'Left') return r
        const v = r.right
        return v.failures > v.calls
          ? { _tag: 'Left', left: [{ value: u, context: c, message: 'expected failures <= calls' }] }
          : { _tag: 'Right', right: forecastState(v.bucketStart, v.calls, v.failures, v.level, v.trend, v.buckets) }
      },
      encode: (s) => ({ ...s }),
    },
  }
}
