import type { Admitted } from '@datapunk/breaker'
import { type MonoTypeOperatorFunction, Observable, type Subscription } from 'rxjs'
import type { Breaker } from './Breaker.js'
import { BrokenCircuitError, CallTimeoutError } from './BrokenCircuitError.js'

/** Options of {@link circuitBreaker}. */
export interface CircuitBreakerConfig {
  /**
   * When an admitted call counts as a success: on `'complete'`, or on the `'first-value'` (for
   * sources that never complete, like a stream of server events). Default `'complete'`.
   */
  readonly successOn?: 'complete' | 'first-value'
  /**
   * Whether an error is the upstream's fault. Errors it returns `false` for (a 404, a validation
   * error) count nowhere and give back a probe permit. Default: every error is a failure.
   */
  readonly isFailure?: (error: unknown) => boolean
  /**
   * What an unsubscribe before the call settled and before any value means: `'cancel'` (counts
   * nowhere, gives back a probe permit) or `'failure'`. Default `'cancel'`. An unsubscribe after a
   * value (`take(1)`, `firstValueFrom`) counts as a success: the upstream answered.
   */
  readonly onUnsubscribe?: 'cancel' | 'failure'
  /**
   * If set, an admitted call that has not settled after this many ms (scheduler time) is
   * unsubscribed, counted as a failure, and errors with a `CallTimeoutError`. Default: none.
   */
  readonly timeoutMs?: number
}

const everyError = (): boolean => true

/**
 * Protects the source with a breaker: every subscription asks for admission first.
 *
 * - Rejected: the subscriber gets a {@link BrokenCircuitError} at once (reason, `retryAfterMs`)
 *   and the source is never subscribed.
 * - Admitted: the source is subscribed; its outcome is recorded with its latency and its ticket,
 *   so an outcome arriving after the breaker changed state is stale, not counted.
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { circuitBreaker, createBreaker } from '@datapunk/breaker-rxjs'
 * import { throwError } from 'rxjs'
 * const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }))
 * throwError(() => new Error('boom')).pipe(circuitBreaker(breaker)).subscribe({ error: () => {} })
 * breaker.snapshot().state // 'open'
 */
export const circuitBreaker = <T>(breaker: BreakerLike, config: CircuitBreakerConfig = {}): MonoTypeOperatorFunction<T> => {
  const successOnValue = config.successOn === 'first-value'
  const isFailure = config.isFailure ?? everyError
  const cancelCounts = config.onUnsubscribe === 'failure'
  const timeoutMs = config.timeoutMs
  if (timeoutMs !== undefined && !(timeoutMs > 0 && timeoutMs < Number.POSITIVE_INFINITY)) {
    throw new RangeError(`circuitBreaker: timeoutMs must be a finite number of milliseconds > 0, got ${timeoutMs}`)
  }
  const b = breaker
  return (source) =>
    new Observable<T>((subscriber) => {
      const decision = b.request()
      if (decision._tag !== 'Admitted') {
        subscriber.error(
          decision._tag === 'Rejected'
            ? BrokenCircuitError.of(b.name, decision.reason, decision.retryAfterMs)
            : BrokenCircuitError.of(b.name, 'open', null),
        )
        return
      }
      const ticket: Admitted = decision
      const scheduler = b.scheduler
      const started = scheduler.now()
      let settled = false
      let answered = false
      let timer: Subscription | undefined
      const settle = (outcome: 'success' | 'failure' | 'cancel'): void => {
        if (settled) return
        settled = true
        timer?.unsubscribe()
        if (outcome === 'cancel') b.cancelled(ticket)
        else {
          const latencyMs = scheduler.now() - started
          if (outcome === 'success') b.succeeded(ticket, latencyMs)
          else b.failed(ticket, latencyMs)
        }
      }
      let inner: Subscription | undefined
      if (timeoutMs !== undefined) {
        timer = scheduler.schedule(() => {
          if (settled) return
          settle('failure')
          inner?.unsubscribe()
          subscriber.error(new CallTimeoutError(b.name, timeoutMs))
        }, timeoutMs)
      }
      inner = source.subscribe({
        next: (value) => {
          answered = true
          if (successOnValue) settle('success')
          subscriber.next(value)
        },
        error: (error: unknown) => {
          settle(isFailure(error) ? 'failure' : 'cancel')
          subscriber.error(error)
        },
        complete: () => {
          settle('success')
          subscriber.complete()
        },
      })
      return () => {
        inner?.unsubscribe()
        if (!settled) settle(answered ? 'success' : cancelCounts ? 'failure' : 'cancel')
        timer?.unsubscribe()
      }
    })
}

/** The part of a {@link Breaker} the operator uses (any state type). */
export interface BreakerLike {
  readonly name: string
  readonly scheduler: Breaker['scheduler']
  request: Breaker['request']
  succeeded: Breaker['succeeded']
  failed: Breaker['failed']
  cancelled: Breaker['cancelled']
}
