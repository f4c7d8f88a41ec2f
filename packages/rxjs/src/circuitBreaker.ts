import type { Admitted, Decision, Rejected } from '@datapunk/breaker'
import { BrokenCircuitError, type CallOptions, CallTimeoutError, type Classifier, type TimerHandle } from '@datapunk/breaker-runtime'
import {
  CANCEL,
  type CallGate,
  type CallSink,
  callOptions,
  checkOptions,
  classifyError,
  classifyResult,
  FAILURE,
  type Judged,
  type Settleable,
  SUCCESS,
  settle,
} from '@datapunk/breaker-runtime/internal'
import { type MonoTypeOperatorFunction, Observable, Subscriber } from 'rxjs'

/**
 * Options of {@link circuitBreaker}: {@link CallOptions} (`isFailure`, `classifyError`,
 * `classifyResult`, `timeoutMs`, `waitInHalfOpen`) and these.
 */
export interface CircuitBreakerConfig<T = unknown> extends CallOptions<T> {
  /**
   * When an admitted call counts as a success: on `'complete'`, or on the `'first-value'` (for
   * sources that never complete, like a stream of server events). Default `'complete'`.
   */
  readonly successOn?: 'complete' | 'first-value'
  /**
   * What an unsubscribe before the call settled and before any value means: `'cancel'` (counts
   * nowhere, gives back a probe permit) or `'failure'`. Default `'cancel'`. An unsubscribe after a
   * value (`take(1)`, `firstValueFrom`) counts as a success: the upstream answered.
   */
  readonly onUnsubscribe?: 'cancel' | 'failure'
}

/**
 * Protects the source with a breaker: every subscription asks for admission first.
 *
 * - Rejected: the subscriber gets a {@link BrokenCircuitError} at once (reason, `retryAfterMs`)
 *   and the source is never subscribed (or, with `waitInHalfOpen`, waits for the probes' verdict).
 * - Admitted: the source is subscribed; its outcome is recorded with its latency and its ticket,
 *   exactly once, so an outcome arriving after the breaker changed state is stale, not counted.
 *   RxJS semantics are unchanged: an unsubscribe reaches the source even while it emits
 *   synchronously (`firstValueFrom` of an endless synchronous source returns).
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { createBreaker } from '@datapunk/breaker-runtime'
 * import { circuitBreaker } from '@datapunk/breaker-rxjs'
 * import { throwError } from 'rxjs'
 * const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }))
 * throwError(() => new Error('boom')).pipe(circuitBreaker(breaker)).subscribe({ error: () => {} })
 * breaker.snapshot().state // 'open'
 */
export const circuitBreaker = <T>(breaker: BreakerLike, config?: CircuitBreakerConfig<T>): MonoTypeOperatorFunction<T> => {
  // The common case, no options: nothing to check and nothing to build (operators are often built per call).
  checkOptions('circuitBreaker', config)
  const settings = config === undefined || isPlain(config) ? PLAIN : settingsOf(config)
  const wait = settings.wait
  return (source) =>
    new Observable<T>((subscriber) => {
      const started = breaker.clock.now()
      const decision = breaker.request(started)
      if (decision._tag === 'Admitted') {
        startCall(breaker, settings, source, subscriber, decision, breaker.lastCall, started)
        return
      }
      const rejection = rejectionOf(decision)
      if (wait !== undefined && breaker.canWait(rejection, wait.maxWaiting)) {
        const waiting = breaker.wait(
          wait.maxWaitMs,
          (ticket, call, now) => startCall(breaker, settings, source, subscriber, ticket, call, now),
          (last) => subscriber.error(BrokenCircuitError.of(breaker.name, last.reason, last.retryAfterMs)),
        )
        subscriber.add(waiting)
        return
      }
      subscriber.error(BrokenCircuitError.of(breaker.name, rejection.reason, rejection.retryAfterMs))
    })
}

/** How one operator's calls count and end (made once per `circuitBreaker(...)`, not per call; one for every operator given no options). */
interface Settings {
  readonly errors: Classifier<unknown> | undefined
  readonly results: Classifier<unknown> | undefined
  readonly timeoutMs: number | undefined
  readonly wait: { readonly maxWaiting: number; readonly maxWaitMs: number } | undefined
  readonly successOnValue: boolean
  readonly cancelCounts: boolean
}

/** Whether `config` asks for nothing but the defaults (every option left out). */
const isPlain = (config: CircuitBreakerConfig<never>): boolean =>
  config.isFailure === undefined &&
  config.classifyError === undefined &&
  config.classifyResult === undefined &&
  config.timeoutMs === undefined &&
  config.waitInHalfOpen === undefined &&
  config.successOn === undefined &&
  config.onUnsubscribe === undefined

/** The settings of `config`, checked (a bad value is a `RangeError` or `TypeError` naming it). */
const settingsOf = (config: CircuitBreakerConfig<never>): Settings => {
  const { errors, results, timeoutMs, wait } = callOptions(config, 'circuitBreaker')
  const { successOn, onUnsubscribe } = config
  if (successOn !== undefined && successOn !== 'complete' && successOn !== 'first-value')
    throw new TypeError(`circuitBreaker: successOn must be 'complete' or 'first-value', got ${describe(successOn)}`)
  if (onUnsubscribe !== undefined && onUnsubscribe !== 'cancel' && onUnsubscribe !== 'failure')
    throw new TypeError(`circuitBreaker: onUnsubscribe must be 'cancel' or 'failure', got ${describe(onUnsubscribe)}`)
  return { errors, results, timeoutMs, wait, successOnValue: successOn === 'first-value', cancelCounts: onUnsubscribe === 'failure' }
}

const describe = (value: unknown): string => (typeof value === 'string' ? `'${value}'` : value === null ? 'null' : typeof value)

/** The settings of every operator given no options. */
const PLAIN: Settings = settingsOf({})

/** Subscribes the source for the admitted call `ticket`. */
const startCall = <T>(
  breaker: BreakerLike,
  settings: Settings,
  source: Observable<T>,
  subscriber: Subscriber<T>,
  ticket: Admitted,
  call: number,
  at: number,
): void => {
  const c = new Call<T>(breaker, settings, ticket, call, at, subscriber)
  // Chained before the source runs: an unsubscribe during a synchronous emission reaches it.
  subscriber.add(c)
  const timeoutMs = settings.timeoutMs
  if (timeoutMs !== undefined) c.timer = breaker.clock.schedule(() => c.timedOut(timeoutMs), timeoutMs)
  // The call is the subscriber the source emits into (`subscribe` takes a Subscriber as it is):
  // one object per call, and unsubscribing it stops even a synchronous source mid-emission. RxJS 7
  // marks this constructor internal-to-be in v8 (where `operate` replaces it); it saves a relay
  // Observable and its SafeSubscriber per call.
  source.subscribe(c)
}

const REJECTED_OPEN: Rejected = { _tag: 'Rejected', reason: 'open', retryAfterMs: null }
const rejectionOf = (decision: Decision): Rejected => (decision._tag === 'Rejected' ? decision : REJECTED_OPEN)

/**
 * One admitted call: the subscriber of the source, forwarding to the downstream subscriber, and
 * the teardown the downstream holds, in one object. Settles exactly once.
 */
class Call<T> extends Subscriber<T> implements Settleable {
  settled = false
  /** How the first value counts (`classifyResult`), once there is one: the call's verdict. */
  private answer: Judged | undefined = undefined
  timer: TimerHandle | undefined = undefined
  constructor(
    readonly sink: CallSink,
    private readonly settings: Settings,
    readonly ticket: Admitted,
    readonly call: number,
    readonly started: number,
    private readonly downstream: Subscriber<T>,
  ) {
    // No destination: the call forwards to `downstream` itself, after counting.
    super()
  }

  protected override _next(value: T): void {
    if (this.answer === undefined) {
      this.answer = this.settled ? SUCCESS : classifyResult(this.sink, this.settings.results, value)
      if (this.settings.successOnValue) this.end(this.answer)
    }
    this.downstream.next(value)
  }

  protected override _error(error: unknown): void {
    try {
      if (!this.settled) this.end(classifyError(this.sink, this.settings.errors, error))
      this.downstream.error(error)
    } finally {
      this.unsubscribe()
    }
  }

  protected override _complete(): void {
    try {
      this.end(this.answer ?? SUCCESS)
      this.downstream.complete()
    } finally {
      this.unsubscribe()
    }
  }

  /** Teardown: the downstream unsubscribed, or the call ended. The source is stopped first. */
  override unsubscribe(): void {
    if (this.closed) return
    super.unsubscribe()
    if (!this.settled) this.end(this.answer ?? (this.settings.cancelCounts ? FAILURE : CANCEL))
  }

  timedOut(timeoutMs: number): void {
    if (this.settled) return
    this.end(FAILURE, true)
    super.unsubscribe()
    this.downstream.error(new CallTimeoutError(this.sink.name, timeoutMs))
  }

  private end(outcome: Judged, timedOut = false): void {
    if (settle(this, outcome, timedOut)) this.timer?.unsubscribe()
  }
}

/** The part of a `Breaker` the operator uses (the runtime's `CallGate`: what `execute` uses too). */
export type BreakerLike = CallGate
