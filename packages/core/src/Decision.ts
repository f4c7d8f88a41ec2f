import { primeShape } from './shapes.js'

/**
 * What a strategy decided about an event: the output of `step`.
 *
 * An admission is also the call's {@link Ticket}: hand it back with the outcome.
 */
export type Decision = Admitted | Rejected | Recorded | Ignored | Isolated

/**
 * Identifies the admission an outcome belongs to: the breaker's generation when the call was
 * admitted, the call's id within that generation, and whether it was a recovery probe. Outcomes
 * from an older generation are stale; an id never issued, or already settled, is ignored.
 *
 * The contract: one outcome (or cancellation) per admission. In half-open the circuit knows its
 * probes by id and ignores any second outcome; while closed it keeps O(1) state (how many calls
 * are in flight and how many ids were issued), so a forged or out-of-range id is ignored, and a
 * duplicate outcome can at most take the place of another in-flight call's outcome. The handles
 * (`Breaker`, the operator, `execute`) settle each ticket exactly once.
 */
export interface Ticket {
  /** The circuit generation that admitted the call (an outcome from an older one is stale). */
  readonly generation: number
  /** The call's id within its generation: 0, 1, 2, ... in admission order. */
  readonly id: number
  /** Whether the call is a probe of a recovering (half-open) circuit. */
  readonly probe: boolean
}

/** The call may proceed. Pass this value (it is a {@link Ticket}) back with the call's outcome. */
export interface Admitted extends Ticket {
  readonly _tag: 'Admitted'
}

/** Why a call was rejected. */
export type RejectReason = 'open' | 'forced-open' | 'half-open-full' | 'throttled'

/** The call must not proceed. `retryAfterMs` is a hint where one is known, otherwise `null`. */
export interface Rejected {
  readonly _tag: 'Rejected'
  /** Why: `open`, `forced-open`, `half-open-full` (every probe permit taken) or `throttled`. */
  readonly reason: RejectReason
  /** When to try again, in ms from now on the caller clock; `null` where no wait is known. */
  readonly retryAfterMs: number | null
}

/** The event (an outcome, a tick or a manual command) was taken into account. */
export interface Recorded {
  readonly _tag: 'Recorded'
}

/**
 * Why an event changed nothing:
 * - `stale`: the ticket is from an older generation (the circuit changed phase since);
 * - `unknown-ticket`: no such call was admitted (an id never issued, a forged ticket, or, while
 *   closed, an outcome when no call is in flight);
 * - `already-settled`: the probe's outcome or cancellation was already recorded (or it timed out);
 * - `invalid-event`: the event is malformed (e.g. a negative latency);
 * - `invalid-time`: `now` is not a finite number;
 * - `illegal-transition`: a manual transition the circuit cannot make from where it is;
 * - `unknown-isolation`: a release of an isolation that is not held.
 */
export type IgnoreReason =
  | 'stale'
  | 'unknown-ticket'
  | 'already-settled'
  | 'invalid-event'
  | 'invalid-time'
  | 'illegal-transition'
  | 'unknown-isolation'

/** The event changed nothing, for `reason`. */
export interface Ignored {
  readonly _tag: 'Ignored'
  /** Why the event changed nothing. */
  readonly reason: IgnoreReason
}

/** An isolation was taken: the circuit stays forced open until every isolation is released. Keep `id` to release it. */
export interface Isolated {
  readonly _tag: 'Isolated'
  /** The isolation, to release with `IsolationReleased`. */
  readonly id: number
}

/** Builds an admission: call `id` of `generation`. */
export const admitted = (generation: number, id: number, probe: boolean): Admitted => ({
  _tag: 'Admitted',
  generation,
  id,
  probe,
})

/** Builds a rejection. */
export const rejected = (reason: RejectReason, retryAfterMs: number | null): Rejected => ({
  _tag: 'Rejected',
  reason,
  retryAfterMs,
})

// Ids and retry times of any size, fractions included, in one hidden class each (see shapes.ts).
primeShape((v) => admitted(v, v, v))
primeShape((v) => rejected(v, v))

/** The one `Recorded` value (decisions are immutable, so it is shared). */
export const recorded: Recorded = { _tag: 'Recorded' }

/** The shared `Ignored` value of each reason. */
export const ignored: { readonly [R in IgnoreReason]: Ignored } = {
  stale: { _tag: 'Ignored', reason: 'stale' },
  'unknown-ticket': { _tag: 'Ignored', reason: 'unknown-ticket' },
  'already-settled': { _tag: 'Ignored', reason: 'already-settled' },
  'invalid-event': { _tag: 'Ignored', reason: 'invalid-event' },
  'invalid-time': { _tag: 'Ignored', reason: 'invalid-time' },
  'illegal-transition': { _tag: 'Ignored', reason: 'illegal-transition' },
  'unknown-isolation': { _tag: 'Ignored', reason: 'unknown-isolation' },
}

/** The shared rejection for a forced-open breaker (no retry time is known). */
export const rejectedForcedOpen: Rejected = rejected('forced-open', null)

/** The shared rejection for a half-open breaker whose probe permits are all taken. */
export const rejectedHalfOpenFull: Rejected = rejected('half-open-full', null)

/** Narrows a decision to an admission. */
export const isAdmitted = (decision: Decision): decision is Admitted => decision._tag === 'Admitted'

/** Narrows a decision to a rejection. */
export const isRejected = (decision: Decision): decision is Rejected => decision._tag === 'Rejected'
