/**
 * The metric model every exporter renders (Prometheus, OpenTelemetry, yours): the phases a state
 * gauge reports, and what became of a call as a metric label. Exporters differ in names and
 * format, never in what they count.
 */
import type { CallOutcomeEvent } from './MetricEvent.js'

/** The phases a state gauge reports, 1 for the current one and 0 for the others. */
export const PHASES = ['closed', 'open', 'half-open'] as const

/** What became of an admitted call: `timeout` is a failure by its timeout; `ignored`, an outcome after a state change. */
export const CALL_OUTCOMES = ['success', 'failure', 'timeout', 'cancelled', 'ignored'] as const
/** One of {@link CALL_OUTCOMES}: the `outcome` label of an admitted call in metrics. */
export type CallOutcomeLabel = (typeof CALL_OUTCOMES)[number]

/**
 * The label of a call event: one of {@link CALL_OUTCOMES} for an admitted call, or `rejected`. A
 * string, not an object: exporters call it on every call.
 *
 * @example
 * import { callOutcomeOf } from '@datapunk/breaker-runtime'
 * callOutcomeOf({ _tag: 'CallFailed', breaker: 'b', at: 5, call: 1, latencyMs: 1000, timedOut: true }) // 'timeout'
 */
export const callOutcomeOf = (event: CallOutcomeEvent): CallOutcomeLabel | 'rejected' => {
  switch (event._tag) {
    case 'CallSucceeded':
      return 'success'
    case 'CallFailed':
      return event.timedOut ? 'timeout' : 'failure'
    case 'CallCancelled':
      return 'cancelled'
    case 'CallStale':
      return 'ignored'
    case 'CallRejected':
      return 'rejected'
  }
}
