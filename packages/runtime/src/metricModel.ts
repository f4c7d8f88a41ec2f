/**
 * The metric model every exporter renders (Prometheus, OpenTelemetry, yours): the phases a state
 * gauge reports, and what became of a call as a metric label. Exporters differ in names and
 * format, never in what they count.
 */
import type { RejectReason } from '@datapunk/breaker'
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

/**
 * Counts a breaker's calls as they end, told with plain values instead of an event object per call
 * (see `Breaker.countCalls`): what a metrics exporter needs, for one method call per call. It hears
 * exactly what `outcomes$` carries. A method that throws is reported (thrown from a timer), never
 * thrown into the call.
 */
export interface CallCounter {
  /**
   * An admitted call ended: `'success'`, `'failure'` or `'timeout'` after `latencyMs`;
   * `'cancelled'` (`latencyMs` null); `'ignored'` (its outcome arrived after a state change: its
   * latency, or null if it was cancelled).
   */
  settled(outcome: CallOutcomeLabel, latencyMs: number | null): void
  /** A call was rejected without reaching the upstream, for `reason`. */
  rejected(reason: RejectReason): void
}
