/**
 * How long a circuit stays open after a trip: a part of its own, like detectors and recoveries.
 * The built-in policies are a constant duration and an exponential backoff by consecutive trips;
 * a policy you write is a value of the same {@link OpenFor} type.
 */
import * as t from 'io-ts'
import { decodeOrThrow } from './ConfigError.js'
import { constrained, DurationMs, literal, refine, struct, tagged } from './codecs.js'
import { canonical } from './Detector.js'
import { Limits } from './Limits.js'

// ---- model -------------------------------------------------------------------------------

/**
 * An open-duration policy: a pure function of the number of consecutive trips (1 for the first)
 * and of the upstream's own word, if it gave one.
 */
export interface OpenFor {
  /** Its kind (`constant`, `exponential`, `retry-after`, or your own). */
  readonly kind: string
  /** The JSON config this policy was built from. */
  readonly config: unknown
  /** Canonical text of its config. */
  readonly key: string
  /**
   * The open duration in ms after the `trips`-th consecutive trip; finite, in [1, maxMs].
   * `retryAfterMs`: how much longer the upstream asked to be left alone (a failure's HTTP
   * `Retry-After`, still in the future at the trip), if it did. Most policies ignore it; the
   * `retry-after` kind honours it.
   */
  durationMs(trips: number, retryAfterMs?: number): number
  /** The longest duration this policy ever returns (a restored state may not claim more). */
  readonly maxMs: number
}

// ---- codecs ------------------------------------------------------------------------------

const Multiplier = constrained('a number in [1, 1000]', (n) => n >= 1 && n <= 1000)

/** The same duration after every trip. */
export const ConstantOpenForConfig = struct('a constant open duration', { kind: literal('constant'), ms: DurationMs })
export type ConstantOpenForConfig = t.TypeOf<typeof ConstantOpenForConfig>

/**
 * `initialMs` after the first trip, multiplied by `multiplier` (default 2) for each further trip
 * without a close in between, capped at `maxMs` (at least `initialMs`). A close resets it.
 */
export const ExponentialOpenForConfig = refine(
  struct(
    'an exponential open duration',
    { kind: literal('exponential'), initialMs: DurationMs, maxMs: DurationMs },
    { multiplier: Multiplier },
    { multiplier: 2 },
  ),
  (c) =>
    c.maxMs < c.initialMs
      ? { path: 'maxMs', value: c.maxMs, message: `expected at least initialMs (${c.initialMs}), got ${c.maxMs}` }
      : undefined,
)
export type ExponentialOpenForConfig = t.TypeOf<typeof ExponentialOpenForConfig>

/**
 * The upstream's word, within bounds: after a trip whose failures carried a retry hint (an HTTP
 * `Retry-After`, see `CallFailed.retryAfterMs`), open for that long, held to [`minMs`, `maxMs`]
 * (defaults 1 s and 5 min); without one, `otherwise` decides (any open-duration config, default
 * the 1 s constant).
 */
export const RetryAfterOpenForConfig = refine(
  struct(
    'a retry-after open duration',
    { kind: literal('retry-after') },
    { minMs: DurationMs, maxMs: DurationMs, otherwise: t.unknown },
    { minMs: 1_000, maxMs: 300_000 },
  ),
  (c) =>
    c.maxMs < c.minMs ? { path: 'maxMs', value: c.maxMs, message: `expected at least minMs (${c.minMs}), got ${c.maxMs}` } : undefined,
)
export type RetryAfterOpenForConfig = t.TypeOf<typeof RetryAfterOpenForConfig>

/** Config codec of the built-in open durations. */
export const OpenForConfig = tagged('an open duration', { constant: ConstantOpenForConfig, exponential: ExponentialOpenForConfig })
export type OpenForConfig = t.TypeOf<typeof OpenForConfig>

/** The open duration when a config names none: 1 s (chosen on the scenario space's train half, see bench/quality/README.md). */
export const DEFAULT_OPEN_FOR: ConstantOpenForConfig = { kind: 'constant', ms: 1_000 }

// ---- constructors ------------------------------------------------------------------------

/**
 * The same open duration after every trip.
 *
 * @example
 * import { constantOpenFor } from '@datapunk/breaker'
 * const openFor = constantOpenFor(5000)
 * openFor.durationMs(3) // 5000
 */
export const constantOpenFor = (ms: number): OpenFor => {
  const config = decodeOrThrow(ConstantOpenForConfig, { kind: 'constant', ms })
  return { kind: 'constant', config, key: canonical(config), durationMs: () => config.ms, maxMs: config.ms }
}

/**
 * The open duration a circuit uses after the `trips`-th trip: the policy's, held to what a policy
 * may return whatever a custom one does: at least 1 ms, at most its own `maxMs` and the longest
 * timer (`Limits.maxDurationMs`); a duration that is not a number (NaN) counts as the longest.
 *
 * @example
 * import { boundedOpenDuration } from '@datapunk/breaker'
 * boundedOpenDuration({ kind: 'mine', config: {}, durationMs: () => Number.POSITIVE_INFINITY, maxMs: Number.POSITIVE_INFINITY }, 1) // 2147483647
 * boundedOpenDuration({ kind: 'mine', config: {}, durationMs: () => Number.NaN, maxMs: 60_000 }, 1) // 60000
 * boundedOpenDuration({ kind: 'mine', config: {}, durationMs: () => -5, maxMs: 60_000 }, 1) // 1
 */
export const boundedOpenDuration = (openFor: OpenFor, trips: number, retryAfterMs?: number): number => {
  const cap = Number.isFinite(openFor.maxMs) && openFor.maxMs >= 1 ? Math.min(openFor.maxMs, Limits.maxDurationMs) : Limits.maxDurationMs
  const ms = retryAfterMs === undefined ? openFor.durationMs(trips) : openFor.durationMs(trips, retryAfterMs)
  return Number.isNaN(ms) ? cap : Math.min(cap, Math.max(1, ms))
}

/**
 * Exponential backoff by consecutive trips, capped.
 *
 * @example
 * import { exponentialOpenFor } from '@datapunk/breaker'
 * const backoff = exponentialOpenFor({ initialMs: 1000, multiplier: 2, maxMs: 5000 })
 * ;[1, 2, 3, 4].map((trips) => backoff.durationMs(trips)) // [1000, 2000, 4000, 5000]
 */
export const exponentialOpenFor = (
  input: Omit<ExponentialOpenForConfig, 'kind' | 'multiplier'> & { readonly multiplier?: number },
): OpenFor => {
  const config = decodeOrThrow(ExponentialOpenForConfig, { ...input, kind: 'exponential' })
  const { initialMs, multiplier, maxMs } = config
  return {
    kind: 'exponential',
    config,
    key: canonical(config),
    durationMs: (trips) => Math.min(maxMs, initialMs * multiplier ** Math.max(0, Math.min(trips, 10_000) - 1)),
    maxMs,
  }
}

/**
 * Honours the upstream's retry hint within [`minMs`, `maxMs`] (defaults 1 s and 5 min); without a
 * hint, `otherwise` decides (default: 1 s).
 *
 * @example
 * import { exponentialOpenFor, retryAfterOpenFor } from '@datapunk/breaker'
 * const openFor = retryAfterOpenFor({ maxMs: 60_000, otherwise: exponentialOpenFor({ initialMs: 1000, maxMs: 8000 }) })
 * openFor.durationMs(1, 30_000) // 30000: the upstream asked for 30 s
 * openFor.durationMs(1, 3_600_000) // 60000: held to maxMs
 * openFor.durationMs(3) // 4000: no hint, the backoff decides
 */
export const retryAfterOpenFor = (
  input: { readonly minMs?: number | undefined; readonly maxMs?: number | undefined; readonly otherwise?: OpenFor | undefined } = {},
): OpenFor => {
  const otherwise = input.otherwise ?? constantOpenFor(DEFAULT_OPEN_FOR.ms)
  const checked = decodeOrThrow(RetryAfterOpenForConfig, { kind: 'retry-after', minMs: input.minMs, maxMs: input.maxMs })
  const { minMs, maxMs } = checked
  const config = { kind: 'retry-after' as const, minMs, maxMs, otherwise: otherwise.config }
  return {
    kind: 'retry-after',
    config,
    key: canonical(config),
    durationMs: (trips, retryAfterMs) =>
      retryAfterMs === undefined || !(retryAfterMs >= 0) ? otherwise.durationMs(trips) : Math.min(maxMs, Math.max(minMs, retryAfterMs)),
    maxMs: Math.max(maxMs, otherwise.maxMs),
  }
}

/** Builds the policy a decoded built-in config describes. */
export const openForFromConfig = (config: OpenForConfig): OpenFor =>
  config.kind === 'constant' ? constantOpenFor(config.ms) : exponentialOpenFor(config)

/**
 * The open duration for the `trips`-th consecutive trip (1 for the first) of a built-in config.
 *
 * @example
 * import { openDuration } from '@datapunk/breaker'
 * const backoff = { kind: 'exponential', initialMs: 1000, multiplier: 2, maxMs: 5000 } as const
 * ;[1, 2, 3, 4].map((trips) => openDuration(backoff, trips)) // [1000, 2000, 4000, 5000]
 */
export const openDuration = (config: OpenForConfig, trips: number): number => openForFromConfig(config).durationMs(trips)
