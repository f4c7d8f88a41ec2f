import type { CircuitState, Mode, RejectReason, TransitionReason } from '@datapunk/breaker'

/**
 * Typed metric events of a breaker, on `breaker.metrics$`. Each carries the breaker's name and
 * the clock's time (`at`). Logging, Prometheus and OpenTelemetry are subscribers.
 */
export type MetricEvent = CallEvent | TransitionEvent

/**
 * Per call (emitted only while someone subscribes to `calls$`, `metrics$` or, but for admissions, `outcomes$`). `call` numbers
 * the calls of a breaker from 1, tying each outcome to its request (0: an outcome recorded by
 * hand without a call number). Recorded as JSON lines, these events are a trace the simulator
 * can replay through other strategies.
 */
export type CallEvent =
  | { readonly _tag: 'CallAdmitted'; readonly breaker: string; readonly at: number; readonly call: number; readonly probe: boolean }
  | {
      readonly _tag: 'CallRejected'
      readonly breaker: string
      readonly at: number
      readonly call: number
      readonly reason: RejectReason
      readonly retryAfterMs: number | null
    }
  | { readonly _tag: 'CallSucceeded'; readonly breaker: string; readonly at: number; readonly call: number; readonly latencyMs: number }
  | {
      readonly _tag: 'CallFailed'
      readonly breaker: string
      readonly at: number
      readonly call: number
      readonly latencyMs: number
      /** The call failed because it ran past its `timeoutMs`. */
      readonly timedOut: boolean
    }
  | { readonly _tag: 'CallCancelled'; readonly breaker: string; readonly at: number; readonly call: number }
  | {
      readonly _tag: 'CallStale'
      readonly breaker: string
      readonly at: number
      readonly call: number
      /** The outcome that arrived after a state change and was not counted, and its latency. */
      readonly outcome: 'succeeded' | 'failed' | 'cancelled'
      readonly latencyMs: number | null
    }

/**
 * What became of a call (emitted only while someone subscribes to `outcomes$`): every call event
 * but the admission. What metrics count; one event per call instead of two.
 */
export type CallOutcomeEvent = Exclude<CallEvent, { readonly _tag: 'CallAdmitted' }>

/** Changes of the breaker itself. */
export type TransitionEvent =
  | {
      readonly _tag: 'StateChanged'
      readonly breaker: string
      readonly at: number
      readonly from: CircuitState
      readonly to: CircuitState
      readonly mode: Mode
      readonly reason: TransitionReason
    }
  | { readonly _tag: 'RecoveryRateChanged'; readonly breaker: string; readonly at: number; readonly from: number; readonly to: number }
  | { readonly _tag: 'ConfigSwapped'; readonly breaker: string; readonly at: number; readonly strategy: string }
  | { readonly _tag: 'ConfigRejected'; readonly breaker: string; readonly at: number; readonly message: string }
  /** A classifier (`isFailure`, `classifyError`, `classifyResult`) threw or answered no verdict; the call counted as a failure. */
  | { readonly _tag: 'ClassifierFailed'; readonly breaker: string; readonly at: number; readonly message: string }
