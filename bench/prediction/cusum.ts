/**
 * A prototype, judged by `pnpm bench:prediction-space` before anything like it enters the core: a
 * CUSUM over one-second buckets whose threshold comes from a stated false-alarm rate.
 *
 * A bucket is a second, or longer at low traffic (until it holds 10 calls, 10 s at most). Each
 * bucket's signal (the failure share, or the mean log2 latency) is compared with a baseline
 * learnt while nothing is wrong; the score adds the rise over the baseline beyond a slack `k`
 * (`S = max(0, S + x - baseline - k)`, in signal-seconds: traffic does not change its scale) and
 * trips at `h`. `h` is the larger of two floors:
 *
 * - **the noise floor**: the `h` at which Siegmund's approximation of the average run length of a
 *   CUSUM with the bucket's sampling noise (`sigma`, from the baseline and the calls per bucket)
 *   reaches a day over `falseTripsPerDay` buckets: fewer calls per bucket, noisier buckets, a
 *   higher `h`, so the stated rate holds at any traffic level (as far as the noise is that);
 * - **the burst floor**: bursts up to `burstMs` long, `burstShift` over the baseline, are not
 *   incidents (the quality matrix's noise has 5 s bursts of 40% errors and latency spikes 12x the
 *   median), with a margin of four standard deviations of the burst's sum.
 *
 * With `persist: true` it also trips past the noise floor alone once the rise has outlasted a
 * burst: buckets over the baseline's upper bound plus the slack, one after another, for longer than
 * `burstMs` and two buckets, five buckets at least. A burst never lasts that long; an error ramp
 * does, well before it crosses a static threshold.
 *
 * The baseline follows the signal while the score is under the noise floor (frozen above it, in an
 * incident). Freezing it at any score above 0 kept the quiet buckets and dropped the loud ones: at
 * two calls a second it settled at 4 to 6% errors where the truth was 12%, and every bucket looked
 * like a rise.
 *
 * A custom kind (the core's open registry), as a user would write one: `{ kind: 'cusum', signal }`.
 */
import { canonical, type Detector, detectorKind, emptyDetectorSnapshot, type Kinds, literal, struct } from '@datapunk/breaker'
import * as t from 'io-ts'

const Positive = new t.Type<number, number, unknown>(
  'a finite number > 0',
  (u): u is number => typeof u === 'number' && u > 0 && Number.isFinite(u),
  (u, c) => (typeof u === 'number' && u > 0 && Number.isFinite(u) ? t.success(u) : t.failure(u, c)),
  (n) => n,
)

/** `{ kind: 'cusum', signal, falseTripsPerDay, slack, burstMs, burstShift, burstMargin, bucketMs, baselineMs }` */
export const CusumConfig = struct(
  'a CUSUM detector',
  { kind: literal('cusum'), signal: t.union([literal('failure'), literal('latency')]) },
  {
    falseTripsPerDay: Positive,
    slack: Positive,
    burstMs: Positive,
    burstShift: Positive,
    burstMargin: Positive,
    persist: t.boolean,
    bucketMs: Positive,
    baselineMs: Positive,
  },
)

export interface CusumState {
  /** Start of the bucket being filled. */
  readonly bucketAt: number
  readonly n: number
  /** Failures, or the sum of log2 latencies, in the bucket. */
  readonly sum: number
  /** The sum of squared log2 latencies (latency only). */
  readonly sumSq: number
  /** The signal's baseline (EWMA over buckets while the score is 0), and its variance per call. */
  readonly baseline: number
  readonly variance: number
  /** Calls a second (EWMA over buckets). */
  readonly rate: number
  /** Buckets that taught the baseline. */
  readonly learnt: number
  /** The CUSUM score, in signal-seconds. */
  readonly score: number
  /** The threshold the score was last compared with. */
  readonly h: number
  /** The noise floor alone: enough once the rise has persisted (`runBuckets`). */
  readonly hNoise: number
  /** Buckets in a row whose signal rose over the baseline's upper bound plus the slack. */
  readonly runBuckets: number
  /** How long that run has lasted, in ms. */
  readonly run: number
  /** Calls that taught the baseline (capped at what `baselineMs` holds): its precision. */
  readonly baselineCalls: number
}

/** Siegmund's approximation of a CUSUM's average run length, increments of mean `mu` (< 0) and deviation `sigma`, threshold `h`. */
const runLength = (mu: number, sigma: number, h: number): number => {
  const d = mu / sigma
  const b = h / sigma + 1.166
  return (Math.exp(-2 * d * b) + 2 * d * b - 1) / (2 * d * d)
}

/** The least `h` whose run length reaches `buckets` (bisection). */
const noiseFloor = (mu: number, sigma: number, buckets: number): number => {
  if (!(sigma > 0)) return 0
  let lo = 0
  let hi = sigma
  while (runLength(mu, sigma, hi) < buckets && hi < 1e6) hi *= 2
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2
    if (runLength(mu, sigma, mid) < buckets) lo = mid
    else hi = mid
  }
  return hi
}

const MIN_BUCKETS = 10

export const cusum = (input: t.TypeOf<typeof CusumConfig>): Detector<CusumState> => {
  const failure = input.signal === 'failure'
  const config = {
    kind: 'cusum' as const,
    signal: input.signal,
    falseTripsPerDay: input.falseTripsPerDay ?? 1,
    slack: input.slack ?? (failure ? 0.1 : 0.5),
    burstMs: input.burstMs ?? 5_000,
    burstShift: input.burstShift ?? (failure ? 0.4 : 3.7),
    burstMargin: input.burstMargin ?? 4,
    persist: input.persist ?? false,
    bucketMs: input.bucketMs ?? 1_000,
    baselineMs: input.baselineMs ?? 300_000,
  }
  const { slack: k, bucketMs, burstMs, burstShift, persist } = config
  /** A bucket closes once it is `bucketMs` old and holds `MIN_CALLS` calls, or at `MAX_BUCKET_MS`. */
  const MIN_CALLS = 10
  const MAX_BUCKET_MS = Math.max(bucketMs, 10_000)

  /** The threshold for buckets of `rate` calls a second: the larger of the noise and the burst floors. */
  const threshold = (baseline: number, variance: number, rate: number): { readonly h: number; readonly hNoise: number } => {
    // The length of a bucket at this rate, and the calls in it.
    const lengthMs = Math.min(MAX_BUCKET_MS, Math.max(bucketMs, (1000 * MIN_CALLS) / Math.max(rate, 1e-9)))
    const seconds = lengthMs / 1000
    const calls = Math.max(1, (rate * lengthMs) / 1000)
    const perCall = failure ? Math.max(baseline * (1 - baseline), 0.01 * 0.99) : Math.max(variance, 0.05)
    const sigma = Math.sqrt(perCall / calls) * seconds
    const noise = noiseFloor(-k * seconds, sigma, 86_400_000 / lengthMs / config.falseTripsPerDay)
    // A burst: its excess over the slack for `burstMs`, plus four deviations of its buckets' sum
    // (noisier than the baseline's: a failure share near the burst's level).
    const during = failure ? Math.min(0.5, baseline + burstShift) : 0
    const burstBuckets = Math.max(1, Math.ceil(burstMs / lengthMs))
    const burstSigma = failure ? Math.sqrt((during * (1 - during)) / calls) * seconds : sigma
    const burst = (burstShift - k) * (burstMs / 1000) + config.burstMargin * burstSigma * Math.sqrt(burstBuckets)
    return { h: Math.max(noise, burst), hNoise: noise }
  }

  /** Closes the bucket of `s` if it is old enough and full enough (or too old). */
  const roll = (s: CusumState, now: number): CusumState => {
    const age = now - s.bucketAt
    if (!(age >= MAX_BUCKET_MS || (age >= bucketMs && s.n >= MIN_CALLS))) return s
    const seconds = age / 1000
    const weight = Math.min(1, age / config.baselineMs)
    // Calls a second, over the buckets (the first one sets it).
    const perSecond = s.n / seconds
    const rate = s.learnt === 0 ? perSecond : s.rate + weight * (perSecond - s.rate)
    if (s.n === 0) return { ...s, bucketAt: now, rate, run: 0, runBuckets: 0, ...threshold(s.baseline, s.variance, rate) }
    const x = s.sum / s.n
    let { baseline, variance, learnt, score, run, runBuckets, baselineCalls } = s
    if (learnt < MIN_BUCKETS) {
      // Learning: a plain mean of the first buckets.
      baseline += (x - baseline) / (learnt + 1)
      if (!failure) variance += (s.sumSq / s.n - x * x - variance) / (learnt + 1)
      learnt++
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
        // In control (the score under the noise floor: freezing it at any score above 0 would
        // keep the quiet buckets and drop the loud ones, and bias it low at a few calls a bucket):
        // the baseline follows slowly.
        baseline += weight * (x - baseline)
        if (!failure) variance += weight * (s.sumSq / s.n - x * x - variance)
        baselineCalls = Math.min(baselineCalls + s.n, (rate * config.baselineMs) / 1000)
      }
    }
    return {
      bucketAt: now,
      n: 0,
      sum: 0,
      sumSq: 0,
      baseline,
      variance,
      rate,
      learnt,
      score,
      run,
      runBuckets,
      baselineCalls,
      ...threshold(baseline, variance, rate),
    }
  }

  return {
    kind: 'cusum',
    config,
    key: canonical(config),
    initial: (now) => ({
      bucketAt: now,
      n: 0,
      sum: 0,
      sumSq: 0,
      baseline: 0,
      variance: 0,
      rate: 0,
      learnt: 0,
      score: 0,
      h: Infinity,
      hNoise: Infinity,
      run: 0,
      runBuckets: 0,
      baselineCalls: 0,
    }),
    record: (s0, failed, latencyMs, now) => {
      const s = roll(s0, now)
      const v = failure ? (failed ? 1 : 0) : Math.log2(Math.max(1, latencyMs))
      return { ...s, n: s.n + 1, sum: s.sum + v, sumSq: s.sumSq + v * v }
    },
    advance: (s, now) => roll(s, now),
    rebase: (s, deltaMs) => ({ ...s, bucketAt: s.bucketAt + deltaMs }),
    // Past the burst floor; or, with `persist`, past the noise floor once the rise has outlasted a
    // burst and its alignment, over 5 buckets at least.
    tripped: (s) =>
      s.learnt >= MIN_BUCKETS &&
      (s.score >= s.h || (persist && s.score >= s.hNoise && s.run > burstMs + 2 * bucketMs && s.runBuckets >= 5)),
    measure: (s) => [
      {
        ...emptyDetectorSnapshot('cusum'),
        figures: { score: s.score, threshold: Number.isFinite(s.h) ? s.h : null, baseline: s.baseline },
      },
    ],
    codec: {
      validate: (u, c) => (typeof u === 'object' && u !== null ? t.success(u as CusumState) : t.failure(u, c, 'expected a CUSUM state')),
      encode: (s) => s,
    },
  }
}

/** The kinds this module adds (the quality matrix loads it in its workers). */
export const kinds: Kinds = { detectors: { cusum: detectorKind({ codec: CusumConfig, build: (c) => cusum(c) }) } }
