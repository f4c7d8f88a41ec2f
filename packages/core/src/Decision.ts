/**
 * What a strategy decided about an event: the output of `step`.
 *
 * An admission is also the call's {@link Ticket}: hand it back with the outcome.
 */
export type Decision = Admitted | Rejected | Recorded | Ignored

/**
 * Identifies the admission an outcome belongs to: the breaker's generation when the call was
 * admitted, and whether it was a recovery probe. Outcomes from an older generation are stale.
 */
export interface Ticket {
  readonly generation: number
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
  readonly reason: RejectReason
  readonly retryAfterMs: number | null
}

/** The event (an outcome, a tick or a manual command) was taken into account. */
export interface Recorded {
  readonly _tag: 'Recorded'
}

/** Why an event changed nothing. */
export type IgnoreReason = 'stale' | 'invalid-event'

/**
 * The event changed nothing: an outcome whose ticket is from an older generation or matches no
 * admission (`stale`), or an event that is malformed (`invalid-event`, e.g. a negative latency).
 */
export interface Ignored {
  readonly _tag: 'Ignored'
  readonly reason: IgnoreReason
}

/** Builds an admission for `generation`. */
export const admitted = (generation: number, probe: boolean): Admitted => ({
  _tag: 'Admitted',
  generation,
  probe,
})

/** Builds a rejection. */
export const rejected = (reason: RejectReason, retryAfterMs: number | null): Rejected => ({
  _tag: 'Rejected',
  reason,
  retryAfterMs,
})

/** The one `Recorded` value (decisions are immutable, so it is shared). */
export const recorded: Recorded = { _tag: 'Recorded' }

/** The shared `Ignored` values. */
export const ignoredStale: Ignored = { _tag: 'Ignored', reason: 'stale' }
export const ignoredInvalid: Ignored = { _tag: 'Ignored', reason: 'invalid-event' }

/** The shared rejection for a forced-open breaker (no retry time is known). */
export const rejectedForcedOpen: Rejected = rejected('forced-open', null)

/** The shared rejection for a half-open breaker whose probe permits are all taken. */
export const rejectedHalfOpenFull: Rejected = rejected('half-open-full', null)

/** Narrows a decision to an admission. */
export const isAdmitted = (decision: Decision): decision is Admitted => decision._tag === 'Admitted'

/** Narrows a decision to a rejection. */
export const isRejected = (decision: Decision): decision is Rejected => decision._tag === 'Rejected'
