import type { Admitted } from '@datapunk/breaker'
import { type MonoTypeOperatorFunction, Observable, type Observer, type Subscriber, type Subscription, type Unsubscribable } from 'rxjs'
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
      const scheduler = b.scheduler
      const started = scheduler.now()
      const decision = b.request(started)
      if (decision._tag !== 'Admitted') {
        subscriber.error(
          decision._tag === 'Rejected'
            ? BrokenCircuitError.of(b.name, decision.reason, decision.retryAfterMs)
            : BrokenCircuitError.of(b.name, 'open', null),
        )
        return
      }
      const call = new Call<T>(b, decision, b.lastCall, started, subscriber, successOnValue, isFailure, cancelCounts)
      if (timeoutMs !== undefined) call.timer = scheduler.schedule(() => call.timedOut(timeoutMs), timeoutMs)
      call.inner = source.subscribe(call)
      return call
    })
}

/**
 * One admitted call: the observer of the source and the teardown of the subscription in one
 * object (one allocation per call instead of a closure per callback).
 */
class Call<T> implements Observer<T>, Unsubscribable {
  private settled = false
  private answered = false
  inner: Subscription | undefined
  timer: Subscription | undefined

  constructor(
    private readonly breaker: BreakerLike,
    private readonly ticket: Admitted,
    private readonly call: number,
    private readonly started: number,
    private readonly downstream: Subscriber<T>,
    private readonly successOnValue: boolean,
    private readonly isFailure: (error: unknown) => boolean,
    private readonly cancelCounts: boolean,
  ) {}

  next(value: T): void {
    this.answered = true
    if (this.successOnValue) this.settle(SUCCESS)
    this.downstream.next(value)
  }

  error(error: unknown): void {
    this.settle(this.isFailure(error) ? FAILURE : CANCEL)
    this.downstream.error(error)
  }

  complete(): void {
    this.settle(SUCCESS)
    this.downstream.complete()
  }

  /** Teardown: the downstream unsubscribed, or the call ended. */
  unsubscribe(): void {
    this.inner?.unsubscribe()
    if (!this.settled) this.settle(this.answered ? SUCCESS : this.cancelCounts ? FAILURE : CANCEL)
    this.timer?.unsubscribe()
  }

  timedOut(timeoutMs: number): void {
    if (this.settled) return
    this.settle(FAILURE)
    this.inner?.unsubscribe()
    this.downstream.error(new CallTimeoutError(this.breaker.name, timeoutMs))
  }

  private settle(outcome: number): void {
    if (this.settled) return
    this.settled = true
    this.timer?.unsubscribe()
    const b = this.breaker
    if (outcome === CANCEL) {
      b.cancelled(this.ticket, this.call)
      return
    }
    const now = b.scheduler.now()
    if (outcome === SUCCESS) b.succeeded(this.ticket, now - this.started, now, this.call)
    else b.failed(this.ticket, now - this.started, now, this.call)
  }
}

const SUCCESS = 0
const FAILURE = 1
const CANCEL = 2

/** The part of a {@link Breaker} the operator uses (any state type). */
export interface BreakerLike {
  readonly name: string
  readonly scheduler: Breaker['scheduler']
  readonly lastCall: number
  request: Breaker['request']
  succeeded: Breaker['succeeded']
  failed: Breaker['failed']
  cancelled: Breaker['cancelled']
}
