/**
 * Client-side adaptive throttling after Envoy's admission control (itself the Google SRE book's
 * client-side throttling, "Handling Overload"): a strategy combinator that rejects requests
 * locally, before the circuit sees them, with probability
 * `min(maxRejectionProbability, ((requests - accepts / successRateThreshold) / (requests + 1)) ^ (1 / aggression))`
 * over a sliding window of completed calls, so that a client sends a sick upstream roughly what
 * it can accept instead of everything until a circuit trips. It is written against the open
 * `Strategy` interface, as a user could write it: the wrapped strategy (any circuit, or your own)
 * still trips on a hard outage.
 */
import * as t from 'io-ts'
import type { BreakerEvent } from './BreakerEvent.js'
import { ConfigError, decodeOrThrow, problem } from './ConfigError.js'
import { constrained, DurationMs, Finite, intIn, literal, NonNegativeInt, numbersOf, struct, validateAt } from './codecs.js'
import { PPM } from './credit.js'
import { type Decision, rejected } from './Decision.js'
import { emptyDetectorSnapshot } from './Detector.js'
import { kindOf } from './PartShapes.js'
import type { Handoff, Snapshot, Strategy } from './Strategy.js'
import { handoffOf } from './Swap.js'

// ---- model -------------------------------------------------------------------------------

/** The throttle's own state: its window of requests and accepts, and its admission credit. */
export interface ThrottleState {
  /** Start time of the newest bucket. */
  readonly start: number
  /** Calls completed (settled, failed or not) per bucket, newest last: a call counts when it completes. */
  readonly requests: ReadonlyArray<number>
  /** Accepted calls (settled without failing, within `slowCallMs` if set) per bucket, newest last. */
  readonly accepts: ReadonlyArray<number>
  /** Admission credit, in millionths: each request adds its admit share, an admission spends 1,000,000. */
  readonly credit: number
}

/** State of a throttled strategy: the throttle's and the wrapped strategy's. */
export interface ThrottledState<S> {
  /** The throttle's window of requests and accepts. */
  readonly throttle: ThrottleState
  /** The wrapped strategy's state. */
  readonly inner: S
}

/** The JSON config of a throttled strategy: the throttle's knobs, and the wrapped strategy's config as `circuit`. */
export type ThrottledConfig = AdaptiveThrottleConfig & { readonly circuit: unknown }

/** A strategy wrapped by {@link adaptiveThrottle}: also exposes its config and the wrapped strategy. */
export interface ThrottledStrategy<S> extends Strategy<ThrottledState<S>> {
  /** `{ kind: 'adaptive-throttle', ...knobs, circuit }`, where `circuit` is the wrapped strategy's `config` (if it has one). */
  readonly config: ThrottledConfig
  /** The wrapped strategy. */
  readonly inner: Strategy<S>
}

// ---- codecs ------------------------------------------------------------------------------

/**
 * Config codec: `{ kind: 'adaptive-throttle', successRateThreshold, aggression,
 * maxRejectionProbability, minRequestsPerSecond, windowMs, buckets, slowCallMs }`, Envoy's
 * admission control knobs. Defaults: `successRateThreshold` 0.5 (the SRE book's `k = 2`: no
 * rejection while at least half the calls succeed), `aggression` 1 (the rejection probability
 * rises linearly as the success rate falls), `maxRejectionProbability` 0.95 (a twentieth of the
 * traffic always goes through, so a recovery shows at once), `minRequestsPerSecond` 1 (no rejection
 * below it: a few calls never decide), `windowMs` 5,000 in `buckets` 10; `slowCallMs` unset (a
 * success slower than it would count as a failure: the success criterion). Chosen on the train half
 * of the quality matrix (`bench/quality/README.md`).
 */
export const AdaptiveThrottleConfig = struct(
  'an adaptive throttle',
  { kind: literal('adaptive-throttle') },
  {
    successRateThreshold: constrained('a success rate in (0, 1]', (n) => n > 0 && n <= 1),
    aggression: constrained('a number in (0, 100]', (n) => n > 0 && n <= 100),
    maxRejectionProbability: constrained('a probability in [0, 1]', (n) => n >= 0 && n <= 1),
    minRequestsPerSecond: constrained('a rate in [0, 1,000,000]', (n) => n >= 0 && n <= 1_000_000),
    windowMs: DurationMs,
    buckets: intIn(1, 1000),
    slowCallMs: DurationMs,
  },
  { successRateThreshold: 0.5, aggression: 1, maxRejectionProbability: 0.95, minRequestsPerSecond: 1, windowMs: 5_000, buckets: 10 },
)
/** An adaptive throttle's config (defaults filled). */
export type AdaptiveThrottleConfig = t.TypeOf<typeof AdaptiveThrottleConfig>
/** The throttle's settings as written in code. */
export type AdaptiveThrottleInput = Partial<Omit<AdaptiveThrottleConfig, 'kind'>>

const ThrottleStateCodec = struct('a throttle state', {
  start: Finite,
  requests: numbersOf(NonNegativeInt),
  accepts: numbersOf(NonNegativeInt),
  credit: NonNegativeInt,
})

// ---- the combinator ------------------------------------------------------------------------

const sum = (xs: ReadonlyArray<number>): number => {
  let total = 0
  for (let i = 0; i < xs.length; i++) total += xs[i] ?? 0
  return total
}

/** A throttle's window settings, decoded once: what every function of the window reads. */
interface Window {
  readonly buckets: number
  readonly bucketMs: number
  readonly windowMs: number
  readonly successRateThreshold: number
  readonly maxRejectionProbability: number
  readonly inverseAggression: number
  /** Requests in the window below which nothing is rejected. */
  readonly minRequests: number
  readonly slowCallMs: number | undefined
  readonly zeros: ReadonlyArray<number>
}

const throttleAt = (start: number, requests: ReadonlyArray<number>, accepts: ReadonlyArray<number>, credit: number): ThrottleState => ({
  start,
  requests,
  accepts,
  credit,
})

/** The window moved on to `now`: buckets older than `windowMs` dropped. */
const rotate = (w: Window, s: ThrottleState, now: number): ThrottleState => {
  if (!(now >= s.start + w.bucketMs)) return s
  const steps = Math.floor((now - s.start) / w.bucketMs)
  if (steps >= w.buckets) return throttleAt(s.start + steps * w.bucketMs, w.zeros, w.zeros, s.credit)
  const shift = (xs: ReadonlyArray<number>) => [...xs.slice(steps), ...w.zeros.slice(0, steps)]
  return throttleAt(s.start + steps * w.bucketMs, shift(s.requests), shift(s.accepts), s.credit)
}

const bump = (w: Window, xs: ReadonlyArray<number>): ReadonlyArray<number> => {
  const next = xs.slice()
  next[w.buckets - 1] = (next[w.buckets - 1] ?? 0) + 1
  return next
}

/** The rejection probability over the window (both sums in one pass: it runs on every request). */
const rejectProbability = (w: Window, s: ThrottleState): number => {
  let requests = 0
  let accepts = 0
  for (let i = 0; i < w.buckets; i++) {
    requests += s.requests[i] ?? 0
    accepts += s.accepts[i] ?? 0
  }
  if (requests < w.minRequests || requests === 0) return 0
  const raw = (requests - accepts / w.successRateThreshold) / (requests + 1)
  if (!(raw > 0)) return 0
  const p = w.inverseAggression === 1 ? raw : raw ** w.inverseAggression
  return Math.min(p, w.maxRejectionProbability)
}

const state = <X>(throttle: ThrottleState, innerState: X): ThrottledState<X> => ({ throttle, inner: innerState })

const isTimed = (now: number): boolean => Number.isFinite(now) && Math.abs(now) <= Number.MAX_SAFE_INTEGER

/** A request: throttled by credit at the window's rejection probability, else the inner strategy's to decide. */
const onRequest = <S>(w: Window, inner: Strategy<S>, s: ThrottledState<S>, event: BreakerEvent, now: number) => {
  const rotated = rotate(w, s.throttle, now)
  const p = rejectProbability(w, rotated)
  // Nothing to reject: the credit would gain a whole request and spend it.
  if (p === 0) {
    const [innerNext, decision] = inner.step(s.inner, event, now)
    return [rotated === s.throttle && innerNext === s.inner ? s : state(rotated, innerNext), decision] as const
  }
  const share = Math.round((1 - p) * PPM)
  const credit = rotated.credit + share
  const counted = throttleAt(rotated.start, rotated.requests, rotated.accepts, credit >= PPM ? credit - PPM : credit)
  if (credit < PPM) {
    const requests = sum(rotated.requests)
    const interval = requests > 0 ? Math.min(w.windowMs, now - rotated.start + (w.buckets - 1) * w.bucketMs) / requests : null
    const needed = share > 0 ? Math.ceil((PPM - counted.credit) / share) : null
    return [
      state(counted, s.inner),
      rejected('throttled', interval === null || needed === null ? null : Math.ceil(needed * interval)),
    ] as const
  }
  const [innerNext, decision] = inner.step(s.inner, event, now)
  return [state(counted, innerNext), decision] as const
}

const step = <S>(
  w: Window,
  inner: Strategy<S>,
  s: ThrottledState<S>,
  event: BreakerEvent,
  now: number,
): readonly [ThrottledState<S>, Decision] => {
  // Times the inner strategy refuses are not times here either.
  const timed = isTimed(now)
  if (event !== null && typeof event === 'object' && event._tag === 'CallRequested' && timed) return onRequest(w, inner, s, event, now)
  const [innerNext, decision] = inner.step(s.inner, event, now)
  let throttle = timed ? rotate(w, s.throttle, now) : s.throttle
  // An outcome the inner strategy took (not ignored) completes a call: a success within
  // `slowCallMs` is an accept too.
  if (event !== null && typeof event === 'object' && decision._tag !== 'Ignored' && timed) {
    const tag = event._tag
    const slowCallMs = w.slowCallMs
    if ((tag === 'CallSucceeded' || tag === 'CallFailed') && !(slowCallMs !== undefined && overdueBeyond(event, 'overdueMs', slowCallMs))) {
      const latency = (event as { readonly latencyMs?: unknown }).latencyMs
      const accepted = tag === 'CallSucceeded' && (slowCallMs === undefined || !(typeof latency === 'number' && latency > slowCallMs))
      throttle = throttleAt(
        throttle.start,
        bump(w, throttle.requests),
        accepted ? bump(w, throttle.accepts) : throttle.accepts,
        throttle.credit,
      )
    } else if (tag === 'CallOverdue' && slowCallMs !== undefined && overdueBeyond(event, 'elapsedMs', slowCallMs)) {
      // A call still running past `slowCallMs` can no longer be an accept: it counts now, and not when it ends.
      throttle = throttleAt(throttle.start, bump(w, throttle.requests), throttle.accepts, throttle.credit)
    }
  }
  return innerNext === s.inner && throttle === s.throttle ? [s, decision] : [state(throttle, innerNext), decision]
}

/** Whether `event[field]` is a time past `slowCallMs` (a call reported overdue beyond it). */
const overdueBeyond = (event: object, field: 'overdueMs' | 'elapsedMs', slowCallMs: number): boolean => {
  const ms = (event as { readonly [k: string]: unknown })[field]
  return typeof ms === 'number' && ms > slowCallMs && ms < Number.POSITIVE_INFINITY
}

const inspect = <S>(w: Window, inner: Strategy<S>, s: ThrottledState<S>): Snapshot => {
  const snapshot = inner.inspect(s.inner)
  const p = rejectProbability(w, s.throttle)
  return {
    ...snapshot,
    admitRate: snapshot.admitRate * (1 - p),
    detectors: [
      ...snapshot.detectors,
      {
        ...emptyDetectorSnapshot('adaptive-throttle'),
        figures: { rejectRate: p, requests: sum(s.throttle.requests), accepts: sum(s.throttle.accepts) },
      },
    ],
  }
}

const validateWindow = (w: Window, u: unknown, c: t.Context): t.Validation<ThrottleState> => {
  const r = ThrottleStateCodec.validate(u, c)
  if (r._tag === 'Left') return r
  const v = r.right
  if (v.requests.length !== w.buckets || v.accepts.length !== w.buckets)
    return t.failure(u, c, `expected ${w.buckets} buckets of requests and of accepts`)
  if (v.credit >= PPM) return t.failure(u, c, `expected credit below ${PPM}`)
  if (v.accepts.some((a, i) => a > (v.requests[i] ?? 0)))
    return t.failure(u, c, 'expected at most as many accepts as requests in each bucket')
  return t.success(throttleAt(v.start, [...v.requests], [...v.accepts], v.credit))
}

const validate = <S>(w: Window, inner: Strategy<S>, u: unknown, c: t.Context): t.Validation<ThrottledState<S>> => {
  if (typeof u !== 'object' || u === null) return t.failure(u, c, 'expected { throttle, inner }')
  const { throttle, inner: innerState } = u as { throttle?: unknown; inner?: unknown }
  const th = validateWindow(w, throttle, t.appendContext(c, 'throttle', t.unknown, throttle))
  if (th._tag === 'Left') return th
  const is = validateAt(inner.codec, innerState, c, 'inner')
  if (is._tag === 'Left') return is
  return t.success(state(th.right, is.right))
}

const encode = <S>(inner: Strategy<S>, s: ThrottledState<S>): unknown => ({
  throttle: { start: s.throttle.start, requests: [...s.throttle.requests], accepts: [...s.throttle.accepts], credit: s.throttle.credit },
  inner: inner.codec.encode(s.inner),
})

/** A swap carries the inner state across (as the inner strategy adopts it), and the window from a throttle of the same shape. */
const adopt = <S>(w: Window, inner: Strategy<S>, from: Handoff, now: number): ThrottledState<S> => {
  const other = isThrottleHandoff(from) ? from : undefined
  const sameWindow = other !== undefined && other.throttle.buckets === w.buckets && other.throttle.windowMs === w.windowMs
  const handed = other?.inner ?? from
  return state(
    sameWindow ? other.throttle.window : throttleAt(now, w.zeros, w.zeros, 0),
    inner.adopt === undefined ? inner.initial(now) : inner.adopt(handed, now),
  )
}

/**
 * Wraps `inner` in client-side adaptive throttling, after Envoy's admission control. A call counts
 * in the window when it completes (so a cold start, with nothing completed yet, is never
 * throttled); a call that settles without failing (and within `slowCallMs`, if set) is an accept.
 * Requests the throttle rejects count nowhere (they never reached the upstream). Below
 * `minRequestsPerSecond` of completed calls over the window nothing is rejected. Otherwise the
 * rejection probability is
 * `min(maxRejectionProbability, ((requests - accepts / successRateThreshold) / (requests + 1)) ^ (1 / aggression))`
 * (0 while the success rate is at the threshold or above), applied deterministically with an
 * admission credit (each request adds `1 - p`, an admission spends 1): over any run of requests at
 * one probability, the admitted count is within one of `(1 - p) * requests`. A throttled request
 * is rejected with reason `throttled` and a retry-after (the requests still needed before the next
 * admission times the window's mean interval between completions) and never reaches `inner`.
 * Everything else goes to `inner` as it is; outcomes `inner` ignores (stale, forged) count
 * nowhere here either.
 *
 * `maxRejectionProbability` below 1 keeps a share of traffic flowing through a hard outage, so the
 * throttle sees the upstream come back at once; the wrapped circuit is what stops traffic
 * altogether, and it sees only the calls the throttle lets through: give it a detector that trips
 * on a few calls.
 *
 * The snapshot is `inner`'s, with `admitRate` multiplied by the throttle's admit share and the
 * throttle's figures as one more entry of `detectors` (kind `adaptive-throttle`: `rejectRate`,
 * `requests`, `accepts`). As a config, `{ kind: 'adaptive-throttle', ...knobs, circuit }` (see
 * `strategyFromConfig`).
 *
 * @example
 * import { adaptiveThrottle, BreakerEvent, circuit } from '@datapunk/breaker'
 * const strategy = adaptiveThrottle(circuit({ trip: { kind: 'consecutive-failures', threshold: 1000 } }), { maxRejectionProbability: 0.9 })
 * let s = strategy.initial(0)
 * let admitted = 0
 * for (let i = 0; i < 1000; i++) {
 *   const [next, d] = strategy.step(s, BreakerEvent.requested(), i)
 *   s = next
 *   if (d._tag === 'Admitted') {
 *     admitted++
 *     s = strategy.step(s, BreakerEvent.failed(d, 1), i)[0] // the upstream fails everything
 *   }
 * }
 * admitted < 150 // true: once nothing is accepted, 90% of requests are throttled
 * admitted > 90 // true: and a tenth still go through, to see the upstream come back
 */
export const adaptiveThrottle = <S>(inner: Strategy<S>, input: AdaptiveThrottleInput = {}): ThrottledStrategy<S> => {
  const given = inner as Partial<Strategy<S>> | null
  if (typeof given !== 'object' || given === null || typeof given.step !== 'function' || typeof given.initial !== 'function')
    throw new TypeError(`adaptiveThrottle: expected the strategy to wrap (circuit(...)), got ${kindOf(given)}`)
  const config = decodeOrThrow(AdaptiveThrottleConfig, { ...input, kind: 'adaptive-throttle' })
  const { windowMs, buckets } = config
  if (windowMs / buckets < 1)
    throw new ConfigError([problem('buckets', `expected buckets of 1 ms at least (windowMs / buckets), got ${windowMs / buckets}`)])
  const w: Window = {
    buckets,
    bucketMs: windowMs / buckets,
    windowMs,
    successRateThreshold: config.successRateThreshold,
    maxRejectionProbability: config.maxRejectionProbability,
    inverseAggression: 1 / config.aggression,
    minRequests: (config.minRequestsPerSecond * windowMs) / 1000,
    slowCallMs: config.slowCallMs,
    zeros: Object.freeze(new Array<number>(buckets).fill(0)),
  }
  return {
    name: inner.name,
    config: { ...config, circuit: (inner as { readonly config?: unknown }).config ?? null },
    inner,
    initial: (now) => state(throttleAt(now, w.zeros, w.zeros, 0), inner.initial(now)),
    step: (s, event, now) => step(w, inner, s, event, now),
    inspect: (s) => inspect(w, inner, s),
    codec: {
      name: `a throttled ${inner.codec.name}`,
      decode: (u) => validate(w, inner, u, t.getDefaultContext(t.unknown)),
      validate: (u, c) => validate(w, inner, u, c),
      encode: (s) => encode(inner, s),
    },
    // The inner strategy's hand-off under `inner`, and the window (for another throttle of the same shape).
    handoff: (s, now): ThrottleHandoff => ({
      kind: 'adaptive-throttle',
      snapshot: inspect(w, inner, s),
      inner: handoffOf(inner, s.inner, now),
      throttle: { window: s.throttle, buckets, windowMs },
    }),
    adopt: (from, now) => adopt(w, inner, from, now),
    transitioned: (before, after) =>
      inner.transitioned === undefined ||
      inner.transitioned(before.inner, after.inner) ||
      (before.throttle !== after.throttle && rejectProbability(w, before.throttle) !== rejectProbability(w, after.throttle)),
    share: (s) => inner.share?.(s.inner) ?? [],
    ...overdueAfter(inner.overdueAfterMs, w.slowCallMs),
  }
}

/**
 * The smaller of the inner strategy's `overdueAfterMs` and the time from which the throttle knows a
 * running call is no accept (past `slowCallMs`: 1 ms after it), as a field (none: no field).
 */
const overdueAfter = (inner: number | undefined, slowCallMs: number | undefined): { readonly overdueAfterMs?: number } =>
  inner === undefined && slowCallMs === undefined
    ? {}
    : { overdueAfterMs: Math.min(inner ?? Number.POSITIVE_INFINITY, slowCallMs === undefined ? Number.POSITIVE_INFINITY : slowCallMs + 1) }

/** A throttle's hand-off: its window (kept by a throttle of the same shape) and, under `inner`, the wrapped strategy's. */
export interface ThrottleHandoff extends Handoff {
  readonly kind: 'adaptive-throttle'
  readonly inner: Handoff
  /** The throttle's window, with its bucket count and span (a throttle of the same shape keeps it). */
  readonly throttle: { readonly window: ThrottleState; readonly buckets: number; readonly windowMs: number }
}

const isThrottleHandoff = (h: Handoff): h is ThrottleHandoff =>
  h.kind === 'adaptive-throttle' && h.inner !== undefined && typeof (h as { throttle?: unknown }).throttle === 'object'
