/**
 * When a strategy's part throws (a custom detector's `record`, a custom recovery's `initial`): the
 * breaker never lets the throw reach a caller, an operator or the process. It reports the strategy
 * as a rejected config (`ConfigRejected`), goes back to the strategy it used before the last swap
 * if there is one (where the call in hand counts as a failure), and otherwise rejects calls until
 * the strategy is replaced.
 */
import { type BreakerEvent, type Decision, type Ignored, type Rejected, type Strategy, swapStrategy } from '@datapunk/breaker'

const REJECTED_BROKEN: Rejected = { _tag: 'Rejected', reason: 'open', retryAfterMs: null }
const IGNORED_BROKEN: Ignored = { _tag: 'Ignored', reason: 'invalid-event' }

const describe = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error))

/** The `ConfigRejected` message for `broken`, whose part threw `error` on `event`. */
export const partFailedMessage = (
  broken: Strategy<unknown>,
  fallback: Strategy<unknown> | undefined,
  error: unknown,
  event: BreakerEvent,
): string =>
  `a part of strategy '${broken.name}' threw on ${event._tag} (${describe(error)}); ` +
  (fallback === undefined ? 'no strategy to go back to: calls are rejected until it is replaced' : `back to '${fallback.name}'`)

/** What the breaker answers `event` with while its only strategy is broken: requests are rejected, the rest ignored. */
export const brokenDecision = (event: BreakerEvent): Decision => (event._tag === 'CallRequested' ? REJECTED_BROKEN : IGNORED_BROKEN)

/** The fallback's state, adopted from the broken strategy's state if that works, else its fresh state. */
export const fallbackState = (broken: Strategy<unknown>, state: unknown, fallback: Strategy<unknown>, now: number): unknown => {
  try {
    return swapStrategy(broken, state, fallback, now)
  } catch {
    return fallback.initial(now)
  }
}

/** The event to give the fallback: the call in hand counts as a failure (a part failed on it). */
export const asFailure = (event: BreakerEvent): BreakerEvent =>
  event._tag === 'CallSucceeded' ? { _tag: 'CallFailed', ticket: event.ticket, latencyMs: event.latencyMs } : event
