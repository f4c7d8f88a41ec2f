import { type BreakerEvent, type Decision, type Snapshot, type Strategy, swapStrategy, type Ticket } from '@datapunk/breaker'
import { asyncScheduler, merge, Observable, type SchedulerLike, Subject } from 'rxjs'
import type { CallEvent, MetricEvent, TransitionEvent } from './MetricEvent.js'

/** Options of {@link createBreaker}. */
export interface BreakerOptions<S> {
  /** Name in errors, metrics and logs. Default: the strategy's name. */
  readonly name?: string
  /** The clock (`scheduler.now()`) and the timer of call timeouts. Default: `asyncScheduler`. */
  readonly scheduler?: SchedulerLike
  /** A state to start from, e.g. restored from a snapshot. Default: `strategy.initial(now)`. */
  readonly initialState?: S
}

const outcomeTag = { CallSucceeded: 'succeeded', CallFailed: 'failed', CallCancelled: 'cancelled' } as const

/**
 * One breaker: a strategy's state shared by every call that goes through it, with the scheduler
 * as its clock. Create it with {@link createBreaker}. A breaker can swap to any strategy (whatever
 * its state type), so it holds the state as `unknown`: read it through `strategy.inspect`, or
 * persist it with `strategy.codec.encode(breaker.state)`.
 */
export class Breaker {
  readonly name: string
  readonly scheduler: SchedulerLike
  private strategyNow: Strategy<unknown>
  private current: unknown
  private lastSnapshot: Snapshot | undefined
  private readonly callEvents = new Subject<CallEvent>()
  private readonly transitionEvents = new Subject<TransitionEvent>()
  private readonly snapshots = new Subject<Snapshot>()
  private callCount = 0

  /** Per-call metric events (admitted, rejected, succeeded, failed, cancelled, stale). Hot. */
  readonly calls$: Observable<CallEvent> = this.callEvents.asObservable()
  /** State changes, recovery-rate changes, config swaps and rejections. Hot. */
  readonly transitions$: Observable<TransitionEvent> = this.transitionEvents.asObservable()
  /** Every metric event: `calls$` and `transitions$` merged. Hot. */
  readonly metrics$: Observable<MetricEvent> = merge(this.calls$, this.transitions$)
  /**
   * The current snapshot at once, then a new one whenever the phase, mode, generation or admit
   * rate changes (not on every call: read `snapshot()` for live counts).
   */
  readonly state$: Observable<Snapshot> = new Observable<Snapshot>((subscriber) => {
    subscriber.next(this.snapshot())
    return this.snapshots.subscribe(subscriber)
  })

  constructor(strategy: Strategy<unknown>, options: BreakerOptions<unknown> = {}) {
    this.strategyNow = strategy
    this.name = options.name ?? strategy.name
    this.scheduler = options.scheduler ?? asyncScheduler
    this.current = options.initialState ?? strategy.initial(this.scheduler.now())
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
    if (after !== before) this.changed(before, after, now)
    if (this.callEvents.observed) this.emitCall(event, decision, now, call)
    return decision
  }

  /** Asks to make a call: `Admitted` (keep it: it is the ticket) or `Rejected`. */
  request(now = this.scheduler.now()): Decision {
    return this.dispatchAt(REQUESTED, now, ++this.callCount)
  }

  /** Records that the call admitted with `ticket` succeeded after `latencyMs`. */
  succeeded(ticket: Ticket, latencyMs: number, now = this.scheduler.now(), call = 0): Decision {
    return this.dispatchAt({ _tag: 'CallSucceeded', ticket, latencyMs: Math.max(0, latencyMs) }, now, call)
  }

  /** Records that the call admitted with `ticket` failed after `latencyMs`. */
  failed(ticket: Ticket, latencyMs: number, now = this.scheduler.now(), call = 0): Decision {
    return this.dispatchAt({ _tag: 'CallFailed', ticket, latencyMs: Math.max(0, latencyMs) }, now, call)
  }

  /** Records that the call admitted with `ticket` ends without an outcome that counts. */
  cancelled(ticket: Ticket, call = 0): Decision {
    return this.dispatchAt({ _tag: 'CallCancelled', ticket }, this.scheduler.now(), call)
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
      this.transitionEvents.next({ _tag: 'ConfigSwapped', breaker: this.name, at: now, strategy: next.name })
    this.changed(before, state, now)
  }

  /** Reports a config that could not be used (see `followConfig`). */
  configRejected(message: string): void {
    if (this.transitionEvents.observed) {
      this.transitionEvents.next({ _tag: 'ConfigRejected', breaker: this.name, at: this.scheduler.now(), message })
    }
  }

  private changed(before: unknown, after: unknown, now: number): void {
    if (!this.transitionEvents.observed && !this.snapshots.observed) {
      this.lastSnapshot = undefined
      return
    }
    // Cheap test first, where the strategy offers one: nothing a watcher sees changed.
    const strategy = this.strategyNow
    if (this.lastSnapshot !== undefined && strategy.transitioned !== undefined && !strategy.transitioned(before, after)) return
    const previous = this.lastSnapshot ?? this.strategyNow.inspect(before)
    const next = this.strategyNow.inspect(after)
    this.lastSnapshot = next
    const transition = previous.generation !== next.generation || previous.state !== next.state || previous.mode !== next.mode
    const rate = previous.admitRate !== next.admitRate && next.state === 'half-open'
    if (!transition && !rate) return
    if (this.transitionEvents.observed) {
      if (transition) {
        this.transitionEvents.next({
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
        this.transitionEvents.next({
          _tag: 'RecoveryRateChanged',
          breaker: this.name,
          at: now,
          from: previous.admitRate,
          to: next.admitRate,
        })
      }
    }
    if (this.snapshots.observed) this.snapshots.next(next)
  }

  private emitCall(event: BreakerEvent, decision: Decision, at: number, call: number): void {
    const breaker = this.name
    switch (event._tag) {
      case 'CallRequested':
        if (decision._tag === 'Admitted') this.callEvents.next({ _tag: 'CallAdmitted', breaker, at, call, probe: decision.probe })
        else if (decision._tag === 'Rejected') {
          this.callEvents.next({ _tag: 'CallRejected', breaker, at, call, reason: decision.reason, retryAfterMs: decision.retryAfterMs })
        }
        return
      case 'CallSucceeded':
      case 'CallFailed':
      case 'CallCancelled':
        if (decision._tag === 'Ignored') {
          const latencyMs = event._tag === 'CallCancelled' ? null : event.latencyMs
          this.callEvents.next({ _tag: 'CallStale', breaker, at, call, outcome: outcomeTag[event._tag], latencyMs })
        } else if (event._tag === 'CallCancelled') this.callEvents.next({ _tag: 'CallCancelled', breaker, at, call })
        else this.callEvents.next({ _tag: event._tag, breaker, at, call, latencyMs: event.latencyMs })
        return
      default:
        return
    }
  }
}

const REQUESTED: BreakerEvent = { _tag: 'CallRequested' }

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
