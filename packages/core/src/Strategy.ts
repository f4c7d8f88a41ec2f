import type * as t from 'io-ts'
import type { BreakerEvent } from './BreakerEvent.js'
import type { CircuitState, Mode, TransitionReason } from './CircuitState.js'
import type { Decision } from './Decision.js'
import type { DetectorSnapshot } from './Detector.js'
import type { RecoverySnapshot } from './Recovery.js'

/**
 * A circuit-breaker strategy: a value holding pure functions over a plain-data state.
 *
 * `step(state, event, now)` returns the next state and the decision. It never reads a clock
 * (time is `now`), never draws a random number, never mutates `state`, and never throws on any
 * event sequence. `inspect` reports the state for metrics and UIs; `codec` snapshots and
 * restores it as JSON.
 */
export interface Strategy<S> {
  /** A name for logs and metrics. */
  readonly name: string
  initial(now: number): S
  step(state: S, event: BreakerEvent, now: number): readonly [S, Decision]
  inspect(state: S): Snapshot
  /** Encodes the state to JSON-safe data and decodes it back, checking everything. */
  readonly codec: t.Type<S, unknown, unknown>
}

/** What `inspect` reports: plain data for metrics, logs and dashboards. */
export interface Snapshot {
  readonly state: CircuitState
  readonly mode: Mode
  /** Bumped on every transition; outcomes of older tickets are stale. */
  readonly generation: number
  /** When an open circuit may let a probe through (`null` unless open by a trip). */
  readonly openUntil: number | null
  /** When the current phase began, and why. */
  readonly since: number
  readonly reason: TransitionReason
  /** Trips since the last close (drives the backoff). */
  readonly trips: number
  /** The share of requests admitted now: 1 closed, 0 open, the ramp's rate in gradual recovery, 1 or 0 in classic half-open (a permit free or not). */
  readonly admitRate: number
  /** From the first detector that tracks each figure; `null` where none does. */
  readonly calls: number | null
  readonly failures: number | null
  readonly slowCalls: number | null
  readonly failureRate: number | null
  readonly slowCallRate: number | null
  readonly consecutiveFailures: number | null
  /** Every detector's own figures, in config order (`any-of` flattened). */
  readonly detectors: ReadonlyArray<DetectorSnapshot>
  /** The recovery policy's figures while half-open, else `null`. */
  readonly recovery: RecoverySnapshot | null
}
