/**
 * The three phases of a circuit breaker.
 *
 * - `closed`: calls flow; a detector watches their outcomes.
 * - `open`: calls are rejected until `openUntil`.
 * - `half-open`: a recovery policy admits some calls to learn whether the upstream healed.
 *
 * @example
 * import { CircuitState } from '@datapunk/breaker'
 * const isServing = (state: CircuitState) => state !== CircuitState.Open
 * isServing(CircuitState.HalfOpen) // true
 */
export const CircuitState = {
  Closed: 'closed',
  Open: 'open',
  HalfOpen: 'half-open',
} as const

/** One of `'closed' | 'open' | 'half-open'`. */
export type CircuitState = (typeof CircuitState)[keyof typeof CircuitState]

/**
 * An operator's override on top of the phase.
 *
 * - `normal`: the strategy decides.
 * - `forced-open`: every call is rejected until a reset (phase `open`, no `openUntil`).
 * - `isolated`: every call is rejected until every isolation is released (phase `open`, no `openUntil`).
 * - `disabled`: every call is admitted and counted, and nothing trips (phase `closed`).
 */
export const Mode = {
  Normal: 'normal',
  ForcedOpen: 'forced-open',
  Isolated: 'isolated',
  Disabled: 'disabled',
} as const

/** One of `'normal' | 'forced-open' | 'disabled'`. */
export type Mode = (typeof Mode)[keyof typeof Mode]

/** Why the breaker entered its current phase; recorded in its state and shown by `inspect`. */
export type TransitionReason =
  | 'initial'
  | 'tripped'
  | 'open-elapsed'
  | 'recovered'
  | 'recovery-failed'
  | 'forced-open'
  | 'disabled'
  | 'reset'
  | 'swapped'
  | 'opened-manually'
  | 'half-opened-manually'
  | 'closed-manually'
  | 'isolated'
  | 'released'
  | 'peer-tripped'
  | 'peer-recovered'

/** Every {@link TransitionReason}, in a stable order (for codecs and documentation). */
export const transitionReasons: ReadonlyArray<TransitionReason> = [
  'initial',
  'tripped',
  'open-elapsed',
  'recovered',
  'recovery-failed',
  'forced-open',
  'disabled',
  'reset',
  'swapped',
  'opened-manually',
  'half-opened-manually',
  'closed-manually',
  'isolated',
  'released',
  'peer-tripped',
  'peer-recovered',
]
