import * as t from 'io-ts'
import { decodeOrThrow } from './ConfigError.js'
import { constrained, intIn, literal, NonNegativeInt, oneOf, struct } from './codecs.js'
import { canonical, type Detector, emptyDetectorSnapshot } from './Detector.js'
import { right } from './either.js'
import { Limits } from './Limits.js'

// ---- model -------------------------------------------------------------------------------

/** Which signal a CUSUM detector watches: the failure share, or the mean log2 latency. */
export type CusumSignal = 'failure' | 'latency'

/**
 * State of a CUSUM detector: the bucket being filled, the baseline it learnt, and the score.
 * `h` and `hNoise` are derived from the baseline and the rate (recomputed when a state is read back).
 */
export interface CusumState {
  /** Always `cusum`. */
  readonly kind: 'cusum'
  /** When the bucket being filled started. */
  readonly bucketAt: number
  /** Calls in that bucket. */
  readonly n: number
  /** Their failures, or the sum of their log2 latencies. */
  readonly sum: number
  /** The sum of their squared log2 latencies (latency only). */
  readonly sumSq: number
  /** The signal's baseline: a plain mean over the first buckets, then an EWMA while in control. */
  readonly baseline: number
  /** The latency signal's variance per call (0 for failures: the share's variance follows from it). */
  readonly variance: number
  /** Calls a second (an EWMA over buckets). */
  readonly rate: number
  /** Buckets that taught the baseline while learning (at most 10: then it judges). */
  readonly learnt: number
  /** Calls the baseline stands on (capped at what `baselineMs` holds): its precision. */
  readonly baselineCalls: number
  /** The CUSUM score, in signal-seconds (a rise of 0.2 held for 10 s scores 2, at any traffic). */
  readonly score: number
  /** Buckets in a row whose signal rose over the baseline's upper bound plus the slack. */
  readonly runBuckets: number
  /** How long that run has lasted, in ms. */
  readonly run: number
  /** The threshold: the larger of the noise floor and the burst floor. */
  readonly h: number
  /** The noise floor alone (enough once a rise has outlasted a burst, with `persist`). */
  readonly hNoise: number
}

// ---- codecs ------------------------------------------------------------------------------

const PositiveFinite = constrained('a finite number > 0', (n) => n > 0 && n < Number.POSITIVE_INFINITY)
const NonNegativeFinite = constrained('a finite number >= 0', (n) => n >= 0 && n < Number.POSITIVE_INFINITY)
const AnyTime = constrained('a time (ms) within Limits.maxTime', (n) => Number.isFinite(n) && Math.abs(n) <= Limits.maxTime)

/**
 * Config codec: `{ kind: 'cusum', signal, falseTripsPerDay, slack, burstMs, burstShift,
 * burstMargin, persist, bucketMs, baselineMs }`; see {@link cusum} for what each means and its
 * default.
 */
export const CusumConfig = struct(
  'a CUSUM detector',
  { kind: literal('cusum'), signal: oneOf<CusumSignal>(['failure', 'latency']) },
  {
    falseTripsPerDay: constrained('a number of false trips a day in (0, 1000]', (n) => n > 0 && n <= 1000),
    slack: PositiveFinite,
    burstMs: intIn(0, 3_600_000),
    burstShift: NonNegativeFinite,
    burstMargin: NonNegativeFinite,
    persist: t.boolean,
    bucketMs: intIn(10, 60_000),
    baselineMs: intIn(1_000, 86_400_000),
  },
)
/** A CUSUM config as written (defaults depend on the signal, so they are filled by the constructor). */
export type CusumConfig = t.TypeOf<typeof CusumConfig>

// ---- the statistics ----------------------------------------------------------------------

/** Buckets the baseline learns from before the detector judges. */
const LEARN_BUCKETS = 10
/** A bucket closes once it is `bucketMs` old and holds this many calls (or at `maxBucketMs`). */
const MIN_CALLS = 10
/** A day, in ms: `falseTripsPerDay` is per day of traffic. */
const DAY_MS = 86_400_000

/** The state as written: `h` and `hNoise` are recomputed when it is read back. */
const CusumStateCodec = struct('a CUSUM state', {
  kind: literal('cusum'),
  bucketAt: AnyTime,
  n: NonNegativeInt,
  sum: NonNegativeFinite,
  sumSq: NonNegativeFinite,
  baseline: NonNegativeFinite,
  variance: NonNegativeFinite,
  rate: NonNegativeFinite,
  learnt: intIn(0, LEARN_BUCKETS),
  baselineCalls: NonNegativeFinite,
  score: NonNegativeFinite,
  runBuckets: NonNegativeInt,
  run: NonNegativeFinite,
})

/**
 * Siegmund's approximation of the average run length (in increments) of a CUSUM whose increments
 * have mean `mu` (< 0, in control) and deviation `sigma`, with threshold `h`.
 */
const runLength = (mu: number, sigma: number, h: number): number => {
  const d = mu / sigma
  const b = h / sigma + 1.166
  return (Math.exp(-2 * d * b) + 2 * d * b - 1) / (2 * d * d)
}

/** The least `h` whose average run length reaches `increments` (bisection to a millionth). */
const noiseFloor = (mu: number, sigma: number, increments: number): number => {
  if (!(sigma > 0)) return 0
  let lo = 0
  let hi = sigma
  while (runLength(mu, sigma, hi) < increments && hi < 1e9) hi *= 2
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2
    if (runLength(mu, sigma, mid) < increments) lo = mid
    else hi = mid
  }
  return hi
}

/** A CUSUM detector's settings as written in code: `signal` required, the rest optional. */
export type CusumInput = Omit<CusumConfig, 'kind'>

/** The resolved config: every default filled in. */
type Resolved = Required<CusumConfig>

const resolve = (decoded: CusumConfig): Resolved => {
  const failure = decoded.signal === 'failure'
  return {
    kind: 'cusum',
    signal: decoded.signal,
    falseTripsPerDay: decoded.falseTripsPerDay ?? 1,
    slack: decoded.slack ?? (failure ? 0.1 : 0.5),
    burstMs: decoded.burstMs ?? 5_000,
    burstShift: decoded.burstShift ?? (failure ? 0.4 : 3.7),
    burstMargin: decoded.burstMargin ?? 4,
    // Latency's rise outlasts its bursts (calls end up to seconds after a spike): persistence there
    // tripped 1,296 times a day on the quality matrix's latency spikes.
    persist: decoded.persist ?? failure,
    bucketMs: decoded.bucketMs ?? 1_000,
    // (Shorter than a bucket, it follows each bucket whole: a bucket's weight is capped at 1.)
    baselineMs: decoded.baselineMs ?? 300_000,
  }
}

/** The two thresholds for buckets at `rate` calls a second, from the baseline (pure arithmetic on the config). */
const thresholds = (config: Resolved, baseline: number, variance: number, rate: number): { h: number; hNoise: number } => {
  const failure = config.signal === 'failure'
  const { slack: k, bucketMs, burstMs, burstShift } = config
  const maxBucketMs = Math.max(bucketMs, 10_000)
  // How long a bucket lasts at this rate, and the calls in it.
  const lengthMs = Math.min(maxBucketMs, Math.max(bucketMs, (1000 * MIN_CALLS) / Math.max(rate, 1e-9)))
  const seconds = lengthMs / 1000
  const calls = Math.max(1, (rate * lengthMs) / 1000)
  const perCall = failure ? Math.max(baseline * (1 - baseline), 0.01 * 0.99) : Math.max(variance, 0.05)
  const sigma = Math.sqrt(perCall / calls) * seconds
  const hNoise = noiseFloor(-k * seconds, sigma, DAY_MS / lengthMs / config.falseTripsPerDay)
  // A burst: its excess over the slack for `burstMs`, plus `burstMargin` deviations of its buckets'
  // sum (noisier than the baseline's: a failure share near the burst's level).
  const during = failure ? Math.min(0.5, baseline + burstShift) : 0
  const burstBuckets = Math.max(1, Math.ceil(burstMs / lengthMs))
  const burstSigma = failure ? Math.sqrt((during * (1 - during)) / calls) * seconds : sigma
  const burst =
    burstMs === 0 ? 0 : Math.max(0, burstShift - k) * (burstMs / 1000) + config.burstMargin * burstSigma * Math.sqrt(burstBuckets)
  return { h: Math.max(hNoise, burst), hNoise }
}

/** Closes the bucket of `s` if it is old enough and full enough (or too old); else returns `s`. */
const rollBucket = (config: Resolved, s: CusumState, now: number): CusumState => {
  const failure = config.signal === 'failure'
  const { slack: k, bucketMs, baselineMs } = config
  const maxBucketMs = Math.max(bucketMs, 10_000)
  const limits = (baseline: number, variance: number, rate: number) => thresholds(config, baseline, variance, rate)
  const age = now - s.bucketAt
  if (!(age >= maxBucketMs || (age >= bucketMs && s.n >= MIN_CALLS))) return s
  const seconds = age / 1000
  const weight = Math.min(1, age / baselineMs)
  const perSecond = s.n / seconds
  const rate = s.learnt === 0 ? perSecond : s.rate + weight * (perSecond - s.rate)
  if (s.n === 0) return { ...s, bucketAt: now, rate, run: 0, runBuckets: 0, ...limits(s.baseline, s.variance, rate) }
  const x = s.sum / s.n
  const spread = failure ? 0 : Math.max(0, s.sumSq / s.n - x * x)
  let { baseline, variance, learnt, score, run, runBuckets, baselineCalls } = s
  if (learnt < LEARN_BUCKETS) {
    // Learning: a plain mean of the first buckets.
    learnt++
    baseline += (x - baseline) / learnt
    variance += (spread - variance) / learnt
    baselineCalls += s.n
  } else {
    score = Math.max(0, score + (x - baseline - k) * seconds)
    // A persistent rise is judged against the baseline's upper bound: a baseline learnt from few
    // calls may sit low, and every bucket would then look like a rise.
    const upper = failure ? baseline + 2 * Math.sqrt((Math.max(baseline, 0.005) * (1 - baseline)) / Math.max(1, baselineCalls)) : baseline
    const rises = x - upper - k > 0
    run = rises ? run + age : 0
    runBuckets = rises ? runBuckets + 1 : 0
    if (score < s.hNoise) {
      // In control: the baseline follows slowly. (Frozen at any score above 0 it would keep the
      // quiet buckets and drop the loud ones, and settle low at a few calls a bucket.)
      baseline += weight * (x - baseline)
      variance += weight * (spread - variance)
      baselineCalls = Math.min(baselineCalls + s.n, (rate * baselineMs) / 1000)
    }
  }
  return {
    kind: 'cusum',
    bucketAt: now,
    n: 0,
    sum: 0,
    sumSq: 0,
    baseline,
    variance,
    rate,
    learnt,
    baselineCalls,
    score,
    runBuckets,
    run,
    ...limits(baseline, variance, rate),
  }
}

const START = (now: number): CusumState => ({
  kind: 'cusum',
  bucketAt: now,
  n: 0,
  sum: 0,
  sumSq: 0,
  baseline: 0,
  variance: 0,
  rate: 0,
  learnt: 0,
  baselineCalls: 0,
  score: 0,
  runBuckets: 0,
  run: 0,
  h: 0,
  hNoise: 0,
})

// ---- constructors ------------------------------------------------------------------------

/**
 * Trips on a sustained rise of the failure share or of the latency, with a false-trip rate you
 * state: a Bernoulli (or Gaussian, for latency) CUSUM over buckets of time, whose threshold comes
 * from the rate instead of being written by hand.
 *
 * - **Buckets.** A bucket lasts `bucketMs` (default 1,000), longer at low traffic: until it holds
 *   10 calls, 10 s at most. Its signal is its failure share, or its mean log2 latency (so a call
 *   twice as slow adds 1).
 * - **Baseline.** The first 10 buckets teach it (a plain mean); then it follows the signal, over
 *   about `baselineMs` (default 300,000), while the score is under the noise floor. In an
 *   incident it holds still.
 * - **Score.** Each bucket adds its rise over the baseline beyond `slack` (default 0.1 of failure
 *   share, 0.5 of log2 latency: 41% slower), times its length in seconds, and the score never goes
 *   below 0. A rise of 0.2 held for 10 s scores 2 at 2 calls a second or at 2,000.
 * - **Threshold.** The larger of two floors, recomputed every bucket:
 *   - the noise floor: where Siegmund's approximation of the CUSUM's average run length, for the
 *     sampling noise of buckets at the current traffic, reaches a day over `falseTripsPerDay`
 *     (default 1). Fewer calls a bucket are noisier and raise it, so the rate holds at 2 calls a
 *     second as at 5,000, as far as the noise is sampling noise;
 *   - the burst floor: a burst `burstShift` over the baseline (default 0.4 of failure share, 3.7 of
 *     log2 latency: 13 times slower) lasting `burstMs` (default 5,000) is noise too, with a margin
 *     of `burstMargin` (default 4) deviations. Set `burstMs: 0` if your traffic has no bursts.
 * - **Persistence** (`persist`, default true for failures, false for latency): a rise that has
 *   outlasted any burst (buckets over the baseline's upper bound plus the slack, one after
 *   another, for more than `burstMs` and two buckets, five buckets at least) trips once the score
 *   passes the noise floor alone. An error ramp does that long before it crosses a static
 *   threshold. Latency's bursts outlast themselves (slow calls end seconds after a spike), so
 *   there it is off unless you ask.
 *
 * Measured on the quality matrix's space (`pnpm bench:prediction-space`, held-out seeds, no false
 * trip on any noise cell): one part per signal, in an `any-of` with a 45% failure-rate threshold
 * (the most sensitive that keeps one false trip a day on every noise cell), sheds load 22 to 31 s
 * earlier than that threshold alone on error ramps and latency creeps, and is never later
 * (bench/prediction/SPACE.md). It costs success where an upstream only degrades (up to 5.3 points
 * on the quality matrix with a 5 s open time: bench/quality/RESULTS.md). It needs traffic to learn
 * from: 10 buckets after every close before it judges at all.
 *
 * @example
 * import { cusum } from '@datapunk/breaker'
 * const detector = cusum({ signal: 'failure' })
 * let s = detector.initial(0)
 * // 60 s at 20 calls a second, one call in 20 failing: it learns 5% as normal.
 * for (let i = 0; i < 1200; i++) s = detector.record(s, i % 20 === 0, 40, i * 50)
 * detector.tripped(s) // false
 * // Then half the calls fail, for 15 s: past any 5-second burst.
 * for (let i = 1200; i < 1500; i++) s = detector.record(s, i % 2 === 0, 40, i * 50)
 * detector.tripped(s) // true
 */
export const cusum = (input: CusumInput): Detector<CusumState> => {
  const config = resolve(decodeOrThrow(CusumConfig, { ...input, kind: 'cusum' }))
  const failure = config.signal === 'failure'
  const { bucketMs, burstMs, persist } = config
  const limits = (baseline: number, variance: number, rate: number) => thresholds(config, baseline, variance, rate)
  const fresh = limits(0, 0, 0) // (what a state read back with nothing learnt recomputes)

  const roll = (s: CusumState, now: number): CusumState => rollBucket(config, s, now)

  return {
    kind: 'cusum',
    config,
    key: canonical(config),
    initial: (now) => ({ ...START(now), ...fresh }),
    record: (s0, failed, latencyMs, now) => {
      const s = roll(s0, now)
      const v = failure ? (failed ? 1 : 0) : Math.log2(Math.max(1, latencyMs))
      return { ...s, n: s.n + 1, sum: s.sum + v, sumSq: failure ? 0 : s.sumSq + v * v }
    },
    advance: roll,
    rebase: (s, deltaMs) => ({ ...s, bucketAt: s.bucketAt + deltaMs }),
    // Past the threshold; or, persisting, past the noise floor once the rise has outlasted a burst.
    tripped: (s) =>
      s.learnt >= LEARN_BUCKETS &&
      (s.score >= s.h || (persist && s.score >= s.hNoise && s.run > burstMs + 2 * bucketMs && s.runBuckets >= 5)),
    measure: (s) => {
      const judging = s.learnt >= LEARN_BUCKETS
      return [
        {
          ...emptyDetectorSnapshot('cusum'),
          figures: {
            score: s.score,
            threshold: judging ? s.h : null,
            noiseFloor: judging ? s.hNoise : null,
            baseline: s.learnt === 0 ? null : s.baseline,
          },
        },
      ]
    },
    codec: {
      validate: (u, c) => {
        const r = CusumStateCodec.validate(u, c)
        if (r._tag === 'Left') return r
        const d = r.right
        if (failure && (d.baseline > 1 || d.sum > d.n)) return t.failure(u, c, 'a CUSUM state whose failure share is above 1')
        return right({ ...d, ...limits(d.baseline, d.variance, d.rate) })
      },
      // The thresholds are not written: they follow from the rest (and a state read back cannot
      // carry one that does not).
      encode: ({ h: _h, hNoise: _n, ...rest }) => rest,
    },
  }
}
