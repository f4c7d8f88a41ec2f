/**
 * The bookkeeping of one admitted call, shared by the `circuitBreaker()` operator and
 * `Breaker.execute` (`settle`): the call settles exactly once (success, failure or cancellation),
 * with its latency on the breaker's clock, whatever races between the source, a timeout and an abort.
 */
import type { Admitted, Decision, Rejected } from '@datapunk/breaker'
import type { Clock } from './Clock.js'
import type { Unsubscribable } from './EventStream.js'
import { type Classifier, type Judged, judge } from './Verdict.js'

/** How a call ended, as the breaker counts it: a success, a failure, or a cancellation (counts nowhere). */
export type Outcome = typeof SUCCESS | typeof FAILURE | typeof CANCEL
export const SUCCESS = 0
export const FAILURE = 1
export const CANCEL = 2

/** The breaker operations an admitted call needs (any breaker handle). */
export interface CallSink {
  readonly name: string
  readonly clock: { now(): number }
  succeeded(ticket: Admitted, latencyMs: number, now: number, call: number): unknown
  /** `retryAfterMs`: the upstream's retry hint, if the call's classifier read one. */
  failed(ticket: Admitted, latencyMs: number, now: number, call: number, timedOut?: boolean, retryAfterMs?: number): unknown
  cancelled(ticket: Admitted, call: number): unknown
  /** Reports a classifier that threw or answered no verdict (the call then counts as a failure). */
  classifierFailed(error: unknown): void
}

/**
 * What `execute` and the RxJS operator need of a breaker: admission, waiting in half-open, and
 * the outcomes (a `Breaker` is one; so is any handle that forwards to one).
 */
export interface CallGate extends CallSink {
  readonly clock: Clock
  /** The number of the call the last `request` asked about. */
  readonly lastCall: number
  request(now?: number): Decision
  canWait(rejection: Rejected, maxWaiting: number): boolean
  wait(maxWaitMs: number, admit: (ticket: Admitted, call: number, now: number) => void, fail: (rejection: Rejected) => void): Unsubscribable
}

/**
 * Classifies an error with the call's error classifier (`undefined`: every error is a failure); a
 * classifier that throws or answers no verdict counts the call as a failure (the upstream's answer
 * was unexpected) and is reported on the breaker, never thrown.
 */
export const classifyError = (sink: CallSink, classifier: Classifier<unknown> | undefined, error: unknown): Judged =>
  classifier === undefined ? FAILURE : judge(classifier, error, sink, 'classifyError')

/** Classifies a value a call answered with (`undefined`: every answer is a success); see {@link classifyError}. */
export const classifyResult = <T>(sink: CallSink, classifier: Classifier<T> | undefined, value: T): Judged =>
  classifier === undefined ? SUCCESS : judge(classifier, value, sink, 'classifyResult')

/** What settling an admitted call reads and writes (an `AdmittedCall`, or the operator's subscriber). */
export interface Settleable {
  settled: boolean
  readonly sink: CallSink
  readonly ticket: Admitted
  readonly call: number
  readonly started: number
}

/**
 * Records the outcome of `admitted` (`timedOut`: a failure by timeout; a hinted failure carries
 * the upstream's retry hint), with its latency on the breaker's clock; `false` if it had already settled.
 */
export const settle = (admitted: Settleable, outcome: Judged, timedOut = false): boolean => {
  if (admitted.settled) return false
  admitted.settled = true
  const sink = admitted.sink
  if (outcome === CANCEL) {
    sink.cancelled(admitted.ticket, admitted.call)
    return true
  }
  const now = sink.clock.now()
  const latencyMs = now - admitted.started
  if (outcome === SUCCESS) sink.succeeded(admitted.ticket, latencyMs, now, admitted.call)
  else if (outcome === FAILURE) sink.failed(admitted.ticket, latencyMs, now, admitted.call, timedOut)
  else sink.failed(admitted.ticket, latencyMs, now, admitted.call, timedOut, outcome.retryAfterMs)
  return true
}

/** One admitted call: settles once. `Breaker.execute` adds the plumbing of the promise API. */
export class AdmittedCall implements Settleable {
  settled = false

  constructor(
    readonly sink: CallSink,
    readonly ticket: Admitted,
    readonly call: number,
    readonly started: number,
  ) {}

  /** Records the outcome (`timedOut`: a failure by timeout); `false` if the call had already settled. */
  settle(outcome: Judged, timedOut = false): boolean {
    return settle(this, outcome, timedOut)
  }
}
