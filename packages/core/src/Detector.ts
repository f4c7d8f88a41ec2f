/**
 * A failure detector watches outcomes while the circuit is closed and says when to trip. It owns
 * its counting state (a counter or a window) and nothing else: the circuit owns the phases.
 */
import type * as t from 'io-ts'
import type { ConsecutiveFailuresConfig } from './ConsecutiveFailures.js'
import type { CountWindow } from './CountWindow.js'
import type { FailureCountConfig } from './FailureCount.js'
import type { FailureRateConfig } from './FailureRate.js'
import type { SlowCallRateConfig } from './SlowCallRate.js'
import type { TimeWindow } from './TimeWindow.js'

// ---- model -------------------------------------------------------------------------------

/** The state of any library detector: plain JSON. */
export type DetectorState = ConsecutiveFailuresState | CountWindow | TimeWindow | AnyOfState

/** State of the consecutive-failures detector. */
export interface ConsecutiveFailuresState {
  readonly kind: 'consecutive'
  readonly consecutiveFailures: number
}

/** State of `anyOf`: its detectors' states, in order. */
export interface AnyOfState {
  readonly kind: 'any-of'
  readonly detectors: ReadonlyArray<DetectorState>
}

/** A decoder/encoder pair for a state, usable inside other codecs (method syntax keeps it variance-friendly). */
export interface StateCodec<S> {
  validate(input: unknown, context: t.Context): t.Validation<S>
  encode(state: S): unknown
}

/** What a detector reports for metrics and UIs. Fields a detector does not track are `null`. */
export interface DetectorSnapshot {
  readonly kind: string
  /** Calls in the window (`null` for detectors without a window). */
  readonly calls: number | null
  /** Failures in the window (`null` for detectors without a window). */
  readonly failures: number | null
  /** Slow calls in the window (`null` where slow calls are not tracked). */
  readonly slowCalls: number | null
  /** `failures / calls`, or `null` below `minimumCalls` or where not tracked. */
  readonly failureRate: number | null
  /** `slowCalls / calls`, or `null` below `minimumCalls` or where not tracked. */
  readonly slowCallRate: number | null
  /** The current run of failures (consecutive-failures only). */
  readonly consecutiveFailures: number | null
}

/**
 * A detector: pure functions over its own state. `record` takes one outcome, `advance` lets time
 * pass (time windows expire buckets), `tripped` says whether the circuit should open now.
 */
export interface Detector<S extends DetectorState = DetectorState> {
  /** The JSON config this detector was built from. */
  readonly config: TripConfig
  /** Canonical text of the config: detectors with equal keys count the same way (used by swaps). */
  readonly key: string
  initial(now: number): S
  record(state: S, failed: boolean, latencyMs: number, now: number): S
  advance(state: S, now: number): S
  tripped(state: S): boolean
  measure(state: S): ReadonlyArray<DetectorSnapshot>
  readonly codec: StateCodec<S>
}

export type { ConsecutiveFailuresConfig, FailureCountConfig, FailureRateConfig, SlowCallRateConfig }

/** The JSON config of any detector. */
export type TripConfig = ConsecutiveFailuresConfig | FailureCountConfig | FailureRateConfig | SlowCallRateConfig | AnyOfConfig

/** Trip when any of `detectors` trips. */
export interface AnyOfConfig {
  readonly kind: 'any-of'
  readonly detectors: ReadonlyArray<TripConfig>
}

/** Canonical JSON text of a value (keys sorted), for comparing configs. */
export const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  )
