import {
  type Admitted,
  type BreakerEvent,
  type Decision,
  type Rejected,
  restore,
  type Snapshot,
  type Strategy,
  swapStrategy,
  type Ticket,
} from '@datapunk/breaker'
import { merge, Observable, type SchedulerLike, Subject, type Subscriber, type Subscription, type Unsubscribable } from 'rxjs'
import type { CallSink } from './AdmittedCall.js'
import { type ExecuteOptions, execute } from './execute.js'
import type { CallEvent, MetricEvent, TransitionEvent } from './MetricEvent.js'
import { monotonicScheduler } from './monotonicScheduler.js'

/** Options of {@link createBreaker}. */
export interface BreakerOptions<S> {
  /** Name in errors, metrics and logs. Default: the strategy's name. */
  readonly name?: string
  /**
   * The clock (`scheduler.now()`) and the timer of call timeouts. Default: `monotonicScheduler`
   * (asyncScheduler's timers on a clock that never jumps); a `TestScheduler` for marble tests.
   */
  readonly scheduler?: SchedulerLike
  /**
   * A state to start from, e.g. a snapshot read back from storage (as `strategy.codec.encode`
   * wrote it). Decoded with the strategy's codec: a state that does not decode throws the core's
   * `SnapshotError` naming each problem. Default: `strategy.initial(now)`.
   */
  readonly initialState?: S | unknown
}

const outcomeTag = { CallSucceeded: 'succeeded', CallFailed: 'failed', CallCancelled: 'cancelled' } as const

/** A caller waiting in half-open for the probes' verdict. */
interface Waiter {
  readonly admit: (ticket: Admitted, call: number, now: number) => void
  readonly fail: (rejection: Rejected) => void
  timer: Subscription | undefined
}

const REQUESTED: BreakerEvent = { _tag: 'CallRequested' }

/** Hands `value` to each subscriber (each is a safe subscriber: a throwing handler is reported by RxJS, not thrown here). */
const deliver = <T>(subscribers: ReadonlyArray<Subscriber<T>>, value: T): void => {
  for (let i = 0; i < subscribers.length; i++) subscribers[i]?.next(value)
}
const REJECTED_OPEN: Rejected = { _tag: 'Rejected', reason: 'open', retryAfterMs: null }

/** The observables of a {@link Breaker}, built together on first read. */
interface Views {
  readonly calls$: Observable<CallEvent>
  readonly transitions$: Observable<TransitionEvent>
  readonly metrics$: Observable<MetricEvent>
  readonly state$: Observable<Snapshot>
}

/**
 * Stands in for a breaker's subjects until someone subscribes. Nobody ever subscribes to it, so
 * `observed` is false and nothing is ever sent to it (every send checks `observed` first).
 */
const UNWATCHED = new Subject<unknown>()
const unwatched = <T>(): Subject<T> => UNWATCHED as unknown as Subject<T>

/**
 * One breaker: a strategy's state shared by every call that goes through it, with the scheduler
 * as its clock. Create it with {@link createBreaker}. A breaker can swap to any strategy (whatever
 * its state type), so it holds the state as `unknown`: read it through `strategy.inspect`, or
 * persist it with `strategy.codec.encode(breaker.state)`.
 *
 * Events are delivered in causal order: if a subscriber reacts to an event by dispatching to the
 * breaker, the events of that dispatch are delivered after every subscriber has seen the first
 * one, so the last value of `state$` and of `transitions$` is always the breaker's latest state.
 */
export class Breaker implements CallSink {
  readonly name: string
  readonly scheduler: SchedulerLike
  private strategyNow: Strategy<unknown>
  private current: unknown
  private lastSnapshot: Snapshot | undefined
  /** Subscribers of `calls$`: a plain list, not a Subject (a Subject's `next` costs a closure per event, per call). */
  private callSubscribers: ReadonlyArray<Subscriber<CallEvent>> = []
  /** `UNWATCHED` until someone subscribes to `transitions$` (or `metrics$`): an idle breaker keeps no subject. */
  private transitionEvents: Subject<TransitionEvent> = unwatched()
  /** `UNWATCHED` until someone subscribes to `state$`. */
  private snapshots: Subject<Snapshot> = unwatched()
  private callCount = 0
  /** Whether the failure being dispatched is a timeout (for its call event). */
  private timedOut = false
  /** Emissions waiting for the one in progress to reach every subscriber (subject, value pairs). */
  private readonly queue: unknown[] = []
  private emitting = false
  private waiters: Waiter[] | undefined
  private drainScheduled = false
  /** The observables below, built on first read (a keyed group holds many idle breakers). */
  private views: Views | undefined

  /** Per-call metric events (admitted, rejected, succeeded, failed, cancelled, stale). Hot. */
  get calls$(): Observable<CallEvent> {
    return this.view().calls$
  }
  /** State changes, recovery-rate changes, config swaps, rejected configs, classifiers that threw. Hot. */
  get transitions$(): Observable<TransitionEvent> {
    return this.view().transitions$
  }
  /** Every metric event: `calls$` and `transitions$` merged. Hot. */
  get metrics$(): Observable<MetricEvent> {
    return this.view().metrics$
  }
  /**
   * The current snapshot at once, then a new one whenever the phase, mode, generation or admit
   * rate changes (not on every call: read `snapshot()` for live counts).
   */
  get state$(): Observable<Snapshot> {
    return this.view().state$
  }

  private view(): Views {
    if (this.views !== undefined) return this.views
    const calls$ = new Observable<CallEvent>((subscriber) => {
      // Copy on write: a delivery in progress keeps iterating the list it started with.
      this.callSubscribers = [...this.callSubscribers, subscriber]
      return () => {
        this.callSubscribers = this.callSubscribers.filter((s) => s !== subscriber)
      }
    })
    const transitions$ = new Observable<TransitionEvent>((subscriber) => {
      if (this.transitionEvents === UNWATCHED) this.transitionEvents = new Subject<TransitionEvent>()
      return this.transitionEvents.subscribe(subscriber)
    })
    const state$ = new Observable<Snapshot>((subscriber) => {
      subscriber.next(this.snapshot())
      if (this.snapshots === UNWATCHED) this.snapshots = new Subject<Snapshot>()
      return this.snapshots.subscribe(subscriber)
    })
    this.views = { calls$, transitions$, metrics$: merge(calls$, transitions$), state$ }
    return this.views
  }

  constructor(strategy: Strategy<unknown>, options: BreakerOptions<unknown> = {}) {
    this.strategyNow = strategy
    this.name = options.name ?? strategy.name
    this.scheduler = options.scheduler ?? monotonicScheduler
    if (options.initialState === undefined) this.current = strategy.initial(this.scheduler.now())
    else {
      const restored = restore(strategy, options.initialState)
      if (restored._tag === 'Left') throw restored.left
      this.current = restored.right
    }
  }

  /** The strategy in use. */
  get strategy(): Strategy<unknown> {
    return this.strategyNow
  }

  /** The raw state of the strategy in use (plain data; `strategy.codec.encode` it to persist). */
  get state(): unknown {
    return this.current
  }

  /** The number of the call the last `request` asked about (calls are numbered from 1). */
  get lastCall(): number {
    return this.callCount
  }

  /** Callers waiting in half-open (see the `waitInHalfOpen` option). */
  get waiting(): number {
    return this.waiters?.length ?? 0
  }

  /** The current snapshot, live counts included. */
  snapshot(): Snapshot {
    const snapshot = this.strategyNow.inspect(this.current)
    this.lastSnapshot = snapshot
    return snapshot
  }

  /** Steps the strategy with `event` at the scheduler's time; returns the decision. */
  dispatch(event: BreakerEvent): Decision {
    return this.dispatchAt(event, this.scheduler.now())
  }

  /**
   * Steps the strategy with `event` at `now`, a time the caller just read from this breaker's
   * scheduler (the operator reads the clock once per call edge instead of twice).
   */
  dispatchAt(event: BreakerEvent, now: number, call = 0): Decision {
    const before = this.current
    const result = this.strategyNow.step(before, event, now)
    const after = result[0]
    const decision = result[1]
    this.current = after
    if (after !== before) {
      // Nobody watching and nobody waiting (the common case): nothing to compute.
      if (this.waiters === undefined && !this.transitionEvents.observed && !this.snapshots.observed) this.lastSnapshot = undefined
      else this.changed(before, after, now)
    }
    if (this.callSubscribers.length > 0) this.emitCall(event, decision, now, call)
    if (this.queue.length > 0) this.flush()
    return decision
  }

  /** Asks to make a call: `Admitted` (keep it: it is the ticket) or `Rejected`. */
  request(now = this.scheduler.now()): Decision {
    return this.dispatchAt(REQUESTED, now, ++this.callCount)
  }

  /** Records that the call admitted with `ticket` succeeded after `latencyMs`. Report each ticket once. */
  succeeded(ticket: Ticket, latencyMs: number, now = this.scheduler.now(), call = 0): Decision {
    return this.dispatchAt({ _tag: 'CallSucceeded', ticket, latencyMs: Math.max(0, latencyMs) }, now, call)
  }

  /** Records that the call admitted with `ticket` failed after `latencyMs` (`timedOut`: by its timeout). Report each ticket once. */
  failed(ticket: Ticket, latencyMs: number, now = this.scheduler.now(), call = 0, timedOut = false): Decision {
    this.timedOut = timedOut
    return this.dispatchAt({ _tag: 'CallFailed', ticket, latencyMs: Math.max(0, latencyMs) }, now, call)
  }

  /** Records that the call admitted with `ticket` ends without an outcome that counts. */
  cancelled(ticket: Ticket, call = 0): Decision {
    return this.dispatchAt({ _tag: 'CallCancelled', ticket }, this.scheduler.now(), call)
  }

  /**
   * Runs a promise-returning call under the breaker: `fn` is never invoked when the call is
   * rejected (the promise rejects with a `BrokenCircuitError`); the `AbortSignal` it gets aborts
   * on timeout or when `options.signal` aborts. Outcomes are recorded exactly as the
   * `circuitBreaker()` operator records them. See {@link ExecuteOptions}.
   *
   * @example
   * import { circuit } from '@datapunk/breaker'
   * import { createBreaker } from '@datapunk/breaker-rxjs'
   * const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }))
   * await breaker.execute(async () => 'ok') // 'ok'
   * await breaker.execute(async () => { throw new Error('down') }).catch((e: Error) => e.message) // 'down'
   * await breaker.execute(async () => 'never called').catch((e: Error) => e.name) // 'BrokenCircuitError'
   */
  execute<T>(fn: (signal: AbortSignal) => PromiseLike<T> | T, options?: ExecuteOptions): Promise<T> {
    return execute(this, fn, options)
  }

  /**
   * Moves the breaker to another strategy at run time: the new strategy adopts the current state
   * (see `swapStrategy` in the core: circuits keep their phase, `openUntil` and, where compatible,
   * their counts; a strategy without `adopt` starts afresh). Emits `ConfigSwapped`.
   */
  swap(next: Strategy<unknown>): void {
    this.replace(next, swapStrategy(this.strategyNow, this.current, next, this.scheduler.now()))
  }

  /** Replaces strategy and state outright (`state` must be a state of `next`). Emits `ConfigSwapped`. */
  replace(next: Strategy<unknown>, state: unknown): void {
    const before = this.current
    this.strategyNow = next
    this.current = state
    const now = this.scheduler.now()
    if (this.transitionEvents.observed)
      this.send(this.transitionEvents, { _tag: 'ConfigSwapped', breaker: this.name, at: now, strategy: next.name })
    this.lastSnapshot = undefined
    this.changed(before, state, now)
    this.flush()
  }

  /** Reports a config that could not be used (see `followConfig`). */
  configRejected(message: string): void {
    if (this.transitionEvents.observed) {
      this.send(this.transitionEvents, { _tag: 'ConfigRejected', breaker: this.name, at: this.scheduler.now(), message })
      this.flush()
    }
  }

  /** Reports a failure classifier (`isFailure`) that threw; the call it classified counted as a failure. */
  classifierFailed(error: unknown): void {
    if (this.transitionEvents.observed) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
      this.send(this.transitionEvents, { _tag: 'ClassifierFailed', breaker: this.name, at: this.scheduler.now(), message })
      this.flush()
    }
  }

  /**
   * Whether a caller rejected with `rejection` may wait (half-open and full, or throttled, and
   * fewer than `maxWaiting` already waiting).
   */
  canWait(rejection: Rejected, maxWaiting: number): boolean {
    return (rejection.reason === 'half-open-full' || rejection.reason === 'throttled') && this.waiting < maxWaiting
  }

  /**
   * Queues a caller for the probes' verdict: whenever the state changes the first waiter asks
   * again; it is admitted when the circuit closed or ramped far enough, fails when the circuit
   * opened again, and fails with the last rejection after `maxWaitMs`. Unsubscribe to leave the queue.
   */
  wait(maxWaitMs: number, admit: Waiter['admit'], fail: Waiter['fail']): Unsubscribable {
    const waiter: Waiter = { admit, fail, timer: undefined }
    this.waiters ??= []
    this.waiters.push(waiter)
    waiter.timer = this.scheduler.schedule(() => {
      if (this.leave(waiter)) fail({ _tag: 'Rejected', reason: 'half-open-full', retryAfterMs: null })
    }, maxWaitMs)
    return { unsubscribe: () => void this.leave(waiter) }
  }

  private leave(waiter: Waiter): boolean {
    const index = this.waiters?.indexOf(waiter) ?? -1
    if (index < 0) return false
    this.waiters?.splice(index, 1)
    waiter.timer?.unsubscribe()
    return true
  }

  /** Lets waiters ask again, outside the dispatch that changed the state (no re-entrant calls). */
  private drainSoon(): void {
    if (this.drainScheduled) return
    this.drainScheduled = true
    this.scheduler.schedule(() => {
      this.drainScheduled = false
      this.drain()
    })
  }

  private drain(): void {
    const waiters = this.waiters
    while (waiters !== undefined && waiters.length > 0) {
      const now = this.scheduler.now()
      const decision = this.request(now)
      if (decision._tag === 'Admitted') {
        const waiter = waiters.shift() as Waiter
        waiter.timer?.unsubscribe()
        waiter.admit(decision, this.callCount, now)
        continue
      }
      const rejection = decision._tag === 'Rejected' ? decision : REJECTED_OPEN
      if (rejection.reason === 'half-open-full' || rejection.reason === 'throttled') return
      // Open again (or forced open): the verdict is in, and it is no.
      for (const waiter of waiters.splice(0)) {
        waiter.timer?.unsubscribe()
        waiter.fail(rejection)
      }
    }
  }

  /**
   * Queues `value` for `subject`. Every emission goes through the queue and `flush`, so a
   * dispatch made by a subscriber (re-entrantly) is delivered after the dispatch in progress.
   */
  private send<T>(subject: Subject<T>, value: T): void {
    this.queue.push(subject, value)
  }

  /** Delivers a call event: at once if nothing is being delivered, else after what is queued. */
  private sendCall(value: CallEvent): void {
    if (this.emitting || this.queue.length > 0) {
      this.queue.push(this.callSubscribers, value)
      return
    }
    this.emitting = true
    try {
      deliver(this.callSubscribers, value)
    } finally {
      this.emitting = false
    }
    if (this.queue.length > 0) this.flush()
  }

  /** Delivers the queue in order; a flush already in progress delivers what is queued meanwhile. */
  private flush(): void {
    if (this.emitting) return
    this.emitting = true
    const queue = this.queue
    try {
      for (let i = 0; i < queue.length; i += 2) {
        const target = queue[i]
        if (Array.isArray(target)) deliver(target as ReadonlyArray<Subscriber<unknown>>, queue[i + 1])
        else (target as Subject<unknown>).next(queue[i + 1])
      }
    } finally {
      queue.length = 0
      this.emitting = false
    }
  }

  private changed(before: unknown, after: unknown, now: number): void {
    if (this.waiters !== undefined && this.waiters.length > 0) this.drainSoon()
    if (!this.transitionEvents.observed && !this.snapshots.observed) {
      this.lastSnapshot = undefined
      return
    }
    // Cheap test first, where the strategy offers one: nothing a watcher sees changed.
    const strategy = this.strategyNow
    if (this.lastSnapshot !== undefined && strategy.transitioned !== undefined && !strategy.transitioned(before, after)) return
    const previous = this.lastSnapshot ?? strategy.inspect(before)
    const next = strategy.inspect(after)
    this.lastSnapshot = next
    const transition = previous.generation !== next.generation || previous.state !== next.state || previous.mode !== next.mode
    const rate = previous.admitRate !== next.admitRate && next.state === 'half-open'
    if (!transition && !rate) return
    if (this.transitionEvents.observed) {
      if (transition) {
        this.send(this.transitionEvents, {
          _tag: 'StateChanged',
          breaker: this.name,
          at: now,
          from: previous.state,
          to: next.state,
          mode: next.mode,
          reason: next.reason,
        })
      }
      if (rate) {
        this.send(this.transitionEvents, {
          _tag: 'RecoveryRateChanged',
          breaker: this.name,
          at: now,
          from: previous.admitRate,
          to: next.admitRate,
        })
      }
    }
    if (this.snapshots.observed) this.send(this.snapshots, next)
  }

  private emitCall(event: BreakerEvent, decision: Decision, at: number, call: number): void {
    const breaker = this.name
    switch (event._tag) {
      case 'CallRequested':
        if (decision._tag === 'Admitted') this.sendCall({ _tag: 'CallAdmitted', breaker, at, call, probe: decision.probe })
        else if (decision._tag === 'Rejected') {
          this.sendCall({
            _tag: 'CallRejected',
            breaker,
            at,
            call,
            reason: decision.reason,
            retryAfterMs: decision.retryAfterMs,
          })
        }
        return
      case 'CallSucceeded':
      case 'CallFailed':
      case 'CallCancelled':
        if (decision._tag === 'Ignored') {
          const latencyMs = event._tag === 'CallCancelled' ? null : event.latencyMs
          this.sendCall({ _tag: 'CallStale', breaker, at, call, outcome: outcomeTag[event._tag], latencyMs })
        } else if (event._tag === 'CallCancelled') this.sendCall({ _tag: 'CallCancelled', breaker, at, call })
        else if (event._tag === 'CallSucceeded') this.sendCall({ _tag: 'CallSucceeded', breaker, at, call, latencyMs: event.latencyMs })
        else this.sendCall({ _tag: 'CallFailed', breaker, at, call, latencyMs: event.latencyMs, timedOut: this.timedOut })
        return
      default:
        return
    }
  }
}

/**
 * Creates a breaker: one state shared by every subscription that uses it, with
 * `scheduler.now()` as its clock (so `TestScheduler.run` drives it in virtual time).
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { createBreaker } from '@datapunk/breaker-rxjs'
 * import { VirtualTimeScheduler } from 'rxjs'
 * const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }), {
 *   name: 'payments',
 *   scheduler: new VirtualTimeScheduler(),
 * })
 * const ticket = breaker.request()
 * if (ticket._tag === 'Admitted') breaker.failed(ticket, 12)
 * breaker.snapshot().state // 'open'
 */
export const createBreaker = <S>(strategy: Strategy<S>, options: BreakerOptions<S> = {}): Breaker =>
  new Breaker(strategy as Strategy<unknown>, options as BreakerOptions<unknown>)
