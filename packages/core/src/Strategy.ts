import type * as t from 'io-ts'
import type { BreakerEvent } from './BreakerEvent.js'
import type { CircuitState, Mode, TransitionReason } from './CircuitState.js'
import type { Decision } from './Decision.js'
import type { DetectorSnapshot } from './Detector.js'
import type { Evidence } from './Evidence.js'
import type { RecoverySnapshot } from './Recovery.js'

/**
 * A circuit-breaker strategy: a value holding pure functions over a plain-data state.
 *
 * `step(state, event, now)` returns the next state and the decision. It never reads a clock
 * (time is `now`), never draws a random number, never mutates `state`, and never throws on any
 * event sequence. `inspect` reports the state for metrics and UIs; `codec` snapshots and
 * restores it as JSON. A `step` function may carry a transient twin for handles that own their
 * state (see {@link InPlaceStep}); `step` itself stays pure.
 */
export interface Strategy<S> {
  /** A name for logs and metrics. */
  readonly name: string
  /** A fresh state at `now` (closed, nothing counted). */
  initial(now: number): S
  /** The reducer: the state after `event` at `now`, and the decision. Pure: never mutates `state`, never throws. */
  step(state: S, event: BreakerEvent, now: number): readonly [S, Decision]
  /** What the state shows a watcher: phase, counts and rates, each part's figures. */
  inspect(state: S): Snapshot
  /** Encodes the state to JSON-safe data and decodes it back, checking everything. */
  readonly codec: StrategyCodec<S>
  /**
   * From how long (ms) a call still running counts as slow: a handle reports each admitted call
   * that runs this long as `CallOverdue` (once, on its first event after that time), so a hung
   * upstream trips within the slow-call threshold rather than the timeout. A circuit has its
   * detectors' smallest slow-call threshold (`slow-call-rate`'s `slowCallMs`); absent when none
   * counts slow calls.
   */
  readonly overdueAfterMs?: number
  /**
   * What this strategy hands to its successor in a run-time swap: plain data (see {@link Handoff}).
   * Without it a swap hands over `{ kind: 'snapshot', snapshot: inspect(state) }`.
   */
  handoff?(state: S, now: number): Handoff
  /**
   * Takes over another strategy's hand-off for a run-time swap (`swapStrategy`, `Breaker.swap`).
   * Without it a swap starts from `initial(now)`. Circuits adopt any hand-off: another circuit's
   * part by part, a wrapper's through its `inner` hand-off, anything else from its snapshot
   * (phase, open-until). Swaps use nothing but this data, so a wrapper made by spreading a strategy
   * (`{ ...inner, step }`) swaps exactly as the strategy it wraps.
   */
  adopt?(from: Handoff, now: number): S
  /**
   * Whether anything a watcher sees (phase, mode, generation, admit rate) may differ between two
   * states. Handles call it on every state change to decide whether to `inspect`; without it
   * they inspect every time.
   */
  transitioned?(before: S, after: S): boolean
  /**
   * The evidence this breaker gathered itself, to share with a fleet (see `Evidence`): a circuit
   * shares its detectors' own counts while closed, and nothing otherwise. The other half is the
   * event `BreakerEvent.evidence(...)`, which hands it the rest of the fleet's counts.
   */
  share?(state: S): ReadonlyArray<Evidence>
}

/**
 * What a strategy hands to its successor in a run-time swap: plain data, never object identity.
 * `snapshot` is what anyone can adopt (phase, mode, open-until); a kind's own fields (a circuit's
 * state and its parts' keys, a throttle's window) serve adopters that know that kind; a wrapper
 * puts the strategy it wraps under `inner`, so an adopter that does not know the wrapper can
 * still take over what it wraps.
 */
export interface Handoff {
  /** `'circuit'`, `'adaptive-throttle'`, `'snapshot'` (nothing but the snapshot), or your own. */
  readonly kind: string
  /** What the strategy showed when it handed off (every adopter can start from it). */
  readonly snapshot: Snapshot
  /** The wrapped strategy's hand-off, for a wrapper. */
  readonly inner?: Handoff
}

/**
 * The transient twin of a strategy's `step`, for speed (as Clojure's transients and Immer's drafts
 * are for theirs): steps `state` in place and returns the decision, leaving `state` equal to the
 * state `step` would have returned. Returns `undefined`, `state` untouched, for any step it has no
 * in-place path for; the caller then calls `step`. `step` stays the definition, and property tests
 * hold the two equal.
 *
 * Only a caller that owns `state` may call it: it made `state` with the strategy's `initial` or
 * `step` (a strategy offering a twin returns new objects, or the state it was given, from both) and
 * never handed it out. A handle that shows its state to anyone stops calling it until `step` gives
 * it a new one. An in-place step changes nothing a watcher sees (phase, mode, generation, admit
 * rate), keeps no reference to `event`, and writes nothing `inspect` returns.
 *
 * The twin lives on the `step` function itself (see {@link withInPlace}): a strategy built by
 * spreading another and replacing `step` (a wrapper that logs or records) drops it with the step it
 * replaced, so the fast path can never go around a wrapper.
 */
export type InPlaceStep<S> = (state: S, event: BreakerEvent, now: number) => Decision | undefined

/** A `step` function carrying its in-place twin. */
export type StepWithInPlace<S> = ((state: S, event: BreakerEvent, now: number) => readonly [S, Decision]) & {
  readonly inPlace: InPlaceStep<S>
}

/**
 * Attaches `inPlace` to `step` as its transient twin (see {@link InPlaceStep}); returns `step`
 * itself, carrying it. A wrapper that keeps the inner strategy's twin must keep its guarantees.
 *
 * @example
 * import { BreakerEvent, type CircuitData, circuit, inPlaceStep, withInPlace } from '@datapunk/breaker'
 * const inner = circuit({ trip: { kind: 'consecutive-failures', threshold: 3 } })
 * let counted = 0
 * // A wrapper that counts the events stepped, in place or not: it wraps both, so nothing goes around it.
 * const counting = {
 *   ...inner,
 *   step: withInPlace(
 *     (state: CircuitData, event: BreakerEvent, now: number) => {
 *       counted++
 *       return inner.step(state, event, now)
 *     },
 *     (state: CircuitData, event: BreakerEvent, now: number) => {
 *       const decision = inPlaceStep(inner)?.(state, event, now)
 *       if (decision !== undefined) counted++
 *       return decision
 *     },
 *   ),
 * }
 * inPlaceStep(counting)?.(counting.initial(0), BreakerEvent.requested(), 1)
 * counted // 1
 */
export const withInPlace = <S>(
  step: (state: S, event: BreakerEvent, now: number) => readonly [S, Decision],
  inPlace: InPlaceStep<S>,
): StepWithInPlace<S> => Object.assign(step, { inPlace })

/**
 * The in-place twin of `strategy.step`, if it has one. Circuits step a closed circuit's requests,
 * and the outcomes it counts without tripping, in place: a call then allocates its ticket, where
 * `step` allocates two states and two pairs.
 *
 * @example
 * import { BreakerEvent, circuit, inPlaceStep } from '@datapunk/breaker'
 * const strategy = circuit({ trip: { kind: 'consecutive-failures', threshold: 3 } })
 * const inPlace = inPlaceStep(strategy)
 * const state = strategy.initial(0) // made here, never handed out: ours to step in place
 * const ticket = inPlace?.(state, BreakerEvent.requested(), 5)
 * ticket // { _tag: 'Admitted', generation: 0, id: 0, probe: false }
 * state.inFlight // 1
 * inPlace?.(state, BreakerEvent.forcedOpen(), 6) // undefined
 */
export const inPlaceStep = <S>(strategy: Strategy<S>): InPlaceStep<S> | undefined =>
  (strategy.step as { readonly inPlace?: InPlaceStep<S> }).inPlace

/**
 * A strategy's state codec: an io-ts `Type<S, unknown, unknown>` fits. (Declared with methods so
 * that a `Strategy<MyState>` is also a `Strategy<unknown>`, which swaps and handles take.)
 */
export interface StrategyCodec<S> {
  /** What the codec reads, for error messages. */
  readonly name: string
  /** Reads a state from JSON-safe data: `Right` with the state, or `Left` with every problem. */
  decode(input: unknown): t.Validation<S>
  /** `decode` within a larger value (`context` is where it sits), as io-ts codecs compose. */
  validate(input: unknown, context: t.Context): t.Validation<S>
  /** Writes the state as JSON-safe data that `decode` reads back to an equal state. */
  encode(state: S): unknown
}

/** What `inspect` reports: plain data for metrics, logs and dashboards. */
export interface Snapshot {
  /** The phase: `closed`, `open` or `half-open`. */
  readonly state: CircuitState
  /** `normal`, or an operator's `forced-open` or `disabled` (until a reset). */
  readonly mode: Mode
  /** Bumped on every transition; outcomes of older tickets are stale. */
  readonly generation: number
  /** When an open circuit may let a probe through (`null` unless open by a trip). */
  readonly openUntil: number | null
  /** When the current phase began, and why. */
  readonly since: number
  /** Why the current phase began (`tripped`, `open-elapsed`, `recovered`, ...). */
  readonly reason: TransitionReason
  /** Trips since the last close (drives the backoff). */
  readonly trips: number
  /**
   * The share of requests admitted now: 1 closed, 0 open, the ramp's rate in gradual recovery, 1 or
   * 0 in classic half-open (a permit free or not), and 0 while probes admitted before a swap to
   * another recovery policy are still in flight (they block new probes; `recovery` reports only
   * the new policy's own probes).
   */
  readonly admitRate: number
  /** Calls admitted in this phase and not yet settled (probes while half-open). */
  readonly inFlight: number
  /** Isolations held (see `BreakerEvent.isolate`). */
  readonly isolations: number
  /** From the first detector that tracks each figure; `null` where none does. */
  readonly calls: number | null
  /** Failures in the window. */
  readonly failures: number | null
  /** Slow calls in the window. */
  readonly slowCalls: number | null
  /** Failures over calls in the window, in [0, 1]; `null` below the detector's `minimumCalls`. */
  readonly failureRate: number | null
  /** The failure rate at which the circuit trips (the strictest of its detectors'), or `null` if none trips on a rate. */
  readonly failureRateThreshold: number | null
  /** Slow calls over calls in the window, in [0, 1]; `null` where not known. */
  readonly slowCallRate: number | null
  /** The current run of failures. */
  readonly consecutiveFailures: number | null
  /** Every detector's own figures, in config order (`any-of` flattened). */
  readonly detectors: ReadonlyArray<DetectorSnapshot>
  /** The recovery policy's figures while half-open, else `null`. */
  readonly recovery: RecoverySnapshot | null
}
