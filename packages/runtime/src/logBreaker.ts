import type { Logger } from 'pino'
import { kindOf } from './checkInput.js'
import { type EventStream, Subscription } from './EventStream.js'
import type { MetricEvent } from './MetricEvent.js'

/** The part of a breaker `logBreaker` reads. */
export interface Loggable {
  /** Every call's event: admitted, rejected, settled. */
  readonly calls$: EventStream<MetricEvent>
  /** Every change of phase, mode or strategy. */
  readonly transitions$: EventStream<MetricEvent>
}

/**
 * Writes a breaker's metric events as structured pino lines: opening at `warn`, other state
 * changes, recovery-rate changes and config swaps at `info`, rejected configs at `error`, and
 * per-call events at `debug` (subscribed only if the logger's level lets debug through, so an
 * info logger adds no per-call work). A logger or destination that throws loses that line and
 * nothing else: logging never breaks the breaker or the caller. Returns the subscription;
 * unsubscribe to stop.
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { createBreaker, logBreaker } from '@datapunk/breaker-runtime'
 * import pino from 'pino'
 * const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 5 } }))
 * const logging = logBreaker(breaker, pino({ level: 'silent' }))
 * logging.closed // false
 */
export const logBreaker = (breaker: Loggable, logger: Logger): Subscription => {
  const given = logger as unknown as Record<string, unknown> | null
  const missing = LOGGER_METHODS.find((m) => typeof given !== 'object' || given === null || typeof given[m] !== 'function')
  if (missing !== undefined) throw new TypeError(`logBreaker: expected a pino logger (with ${missing}()), got ${kindOf(given)}`)
  const subscription = new Subscription()
  subscription.add(breaker.transitions$.subscribe((event) => safely(logger, event)))
  if (logger.isLevelEnabled('debug')) subscription.add(breaker.calls$.subscribe((event) => safely(logger, event)))
  return subscription
}

/** What `logBreaker` calls on the logger. */
const LOGGER_METHODS = ['isLevelEnabled', 'debug', 'info', 'warn', 'error'] as const

const safely = (logger: Logger, event: MetricEvent): void => {
  try {
    write(logger, event)
  } catch {
    // A broken logger (a full disk, a closed stream) must not turn a log line into an outage.
  }
}

const write = (logger: Logger, event: MetricEvent): void => {
  const { _tag: event_, ...fields } = event
  const line = { event: event_, ...fields }
  switch (event._tag) {
    case 'StateChanged':
      if (event.to === 'open') logger.warn(line, `circuit ${event.breaker} opened (${event.reason})`)
      else logger.info(line, `circuit ${event.breaker} ${event.from} -> ${event.to} (${event.reason})`)
      return
    case 'RecoveryRateChanged':
      logger.info(line, `circuit ${event.breaker} admits ${Math.round(event.to * 100)}% of calls`)
      return
    case 'ConfigSwapped':
      logger.info(line, `circuit ${event.breaker} now uses ${event.strategy}`)
      return
    case 'ConfigRejected':
      logger.error(line, `circuit ${event.breaker} rejected a config: ${event.message}`)
      return
    case 'ClassifierFailed':
      logger.error(line, `circuit ${event.breaker}: a classifier failed (${event.message}); the call counted as a failure`)
      return
    default:
      logger.debug(line, `circuit ${event.breaker}: ${event._tag}`)
  }
}
