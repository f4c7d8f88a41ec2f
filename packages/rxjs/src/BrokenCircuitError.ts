import type { RejectReason } from '@datapunk/breaker'

/**
 * What a subscriber gets when the breaker rejects its call: the breaker's name, why, and when to
 * try again (`retryAfterMs`, `null` where unknown).
 *
 * Rejecting is what a breaker does most during an outage, so building this error captures no
 * stack trace and formats no message until `message` is read.
 *
 * @example
 * import { BrokenCircuitError } from '@datapunk/breaker-rxjs'
 * const error = new BrokenCircuitError('payments', 'open', 1200)
 * error.message // 'circuit "payments" rejected the call (open); retry after 1200 ms'
 * error instanceof Error // true
 */
export class BrokenCircuitError extends Error {
  override readonly name = 'BrokenCircuitError'
  constructor(
    readonly breaker: string,
    readonly reason: RejectReason,
    readonly retryAfterMs: number | null,
  ) {
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    super()
    Error.stackTraceLimit = limit
  }

  override get message(): string {
    return `circuit "${this.breaker}" rejected the call (${this.reason})${this.retryAfterMs === null ? '' : `; retry after ${this.retryAfterMs} ms`}`
  }
}

/**
 * What a subscriber gets when an admitted call does not settle within `timeoutMs`: the source was
 * unsubscribed and the call counted as a failure.
 *
 * @example
 * import { CallTimeoutError } from '@datapunk/breaker-rxjs'
 * new CallTimeoutError('payments', 500).message // 'call through circuit "payments" timed out after 500 ms'
 */
export class CallTimeoutError extends Error {
  override readonly name = 'CallTimeoutError'
  constructor(
    readonly breaker: string,
    readonly timeoutMs: number,
  ) {
    super(`call through circuit "${breaker}" timed out after ${timeoutMs} ms`)
  }
}
