/**
 * When a strategy's part throws (a custom detector's `record`, a custom recovery's `initial`): the
 * breaker never lets the throw reach a caller, an operator or the process. It reports the strategy
 * as a rejected config (`ConfigRejected`), goes back to the strategy it used before the last swap
 * if there is one (where the call in hand counts as a failure), and otherwise rejects calls until
 * the strategy is replaced.
 */
import {
  type BreakerEvent,
  type Decision,
  type Ignored,
  type Rejected,
  type Snapshot,
  type Strategy,
  swapStrategy,
} from '@datapunk/breaker'

const REJECTED_BROKEN: Rejected = { _tag: 'Rejected', reason: 'open', retryAfterMs: null }
const IGNORED_BROKEN: Ignored = { _tag: 'Ignored', reason: 'invalid-event' }

const describe = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error))

/**
 * What a breaker was doing when a part threw, for messages: stepping an event, or (`DESCRIBING`,
 * `ADOPTING`) reading or adopting a state.
 */
export type Doing = BreakerEvent | typeof DESCRIBING | typeof ADOPTING
export const DESCRIBING = 'describing its state'
export const ADOPTING = 'adopting the state'

/** The `ConfigRejected` message for `broken`, whose part threw `error` while `doing`. */
export const partFailedMessage = (
  broken: Strategy<unknown>,
  fallback: Strategy<unknown> | undefined,
  error: unknown,
  doing: Doing,
): string =>
  `a part of strategy '${broken.name}' threw ${typeof doing === 'string' ? doing : `on ${doing._tag}`} (${describe(error)}); ` +
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

/**
 * What a breaker whose only strategy is broken reports (its strategy cannot say): open by force
 * (it rejects every request until the strategy is replaced), since `now`, with nothing counted.
 */
export const brokenSnapshot = (now: number): Snapshot => ({
  state: 'open',
  mode: 'forced-open',
  generation: 0,
  openUntil: null,
  since: now,
  reason: 'forced-open',
  trips: 0,
  admitRate: 0,
  inFlight: 0,
  isolations: 0,
  calls: null,
  failures: null,
  slowCalls: null,
  failureRate: null,
  failureRateThreshold: null,
  slowCallRate: null,
  consecutiveFailures: null,
  detectors: [],
  recovery: null,
})
