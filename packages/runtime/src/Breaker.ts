import {
  type BreakerEvent,
  type CallFailed,
  type CallSucceeded,
  type Decision,
  type InPlaceStep,
  inPlaceStep,
  type Rejected,
  restore,
  type Snapshot,
  type Strategy,
  swapStrategy,
  type Ticket,
} from '@datapunk/breaker'
import { Admission } from './Admission.js'
import type { CallSink } from './AdmittedCall.js'
import { BreakerEvents } from './BreakerEvents.js'
import type { BreakerOptions } from './BreakerOptions.js'
import { type Clock, monotonicClock } from './Clock.js'
import { checkClock, checkOptions, checkStrategy, kindOf } from './checkInput.js'
import { type ExecuteOptions, execute, executePlain } from './execute.js'
import {
  ADOPTING,
  asFailure,
  brokenDecision,
  brokenSnapshot,
  DESCRIBING,
  type Doing,
  fallbackState,
  partFailedMessage,
} from './partFailure.js'
import { runningCallsFor } from './RunningCalls.js'
import { BROKEN, Setup } from './Setup.js'
import { announceChange, type Watch } from './Watch.js'

const REQUESTED: BreakerEvent = { _tag: 'CallRequested' }

const TICKED: BreakerEvent = { _tag: 'Ticked' }

const REJECTED_OPEN: Rejected = { _tag: 'Rejected', reason: 'open', retryAfterMs: null }

/** The setup `createBreaker` is given, checked: a strategy, a string name and a clock, or a `TypeError` naming what is wrong. */
const checkedSetup = (strategy: Strategy<unknown>, options: BreakerOptions<unknown>): Setup => {
  checkOptions('createBreaker', options)
  const checked = checkStrategy('createBreaker', strategy)
  const name = options.name ?? checked.name
  if (typeof name !== 'string') throw new TypeError(`createBreaker: name must be a string, got ${kindOf(name)}`)
  return new Setup(name, checkClock('createBreaker', options.clock ?? monotonicClock), checked)
}

/**
 * The state of a breaker nobody has used yet: its strategy's first state is made on first use, at
 * that time (a keyed group holds many breakers that are never called; they hold no state).
 */
const PRISTINE: unique symbol = Symbol('pristine')

/**
 * One breaker: a strategy's state shared by every call that goes through it, on an injected
 * clock. Create it with {@link createBreaker}. A breaker can swap to any strategy (whatever
 * its state type), so it holds the state as `unknown`: read it through `strategy.inspect`, or
 * persist it with `strategy.codec.encode(breaker.state)`.
 *
 * Events are delivered in causal order: if a subscriber reacts to an event by dispatching to the
 * breaker, the events of that dispatch are delivered after every subscriber has seen the first
 * one, so the last value of `state$` and of `transitions$` is always the breaker's latest state.
 */
export class Breaker extends BreakerEvents implements CallSink {
  /**
   * Its name, its clock, the strategy in use and, after a swap, where it falls back to if a part
   * of it throws (the one before; `BROKEN`: none, so every event is answered by `brokenDecision`
   * until a swap). Shared by the breakers of a keyed group until one swaps.
   */
  private setup: Setup
  /** The strategy's state, or `PRISTINE` until the breaker is first used. */
  private current: unknown
  /**
   * The strategy's in-place step (see `InPlaceStep` in the core) while `current` is this breaker's
   * alone: its strategy made it and nobody was shown it. Reading `state`, or a state given from
   * outside, clears it until the next `step` makes a new state.
   */
  private twin: InPlaceStep<unknown> | undefined = undefined
  private callCount = 0

  /** Watches calls for `overdueAfterMs` (`undefined`: none), keeping the calls watched across a swap. */
  private watchRunning(overdueAfterMs: number | undefined): void {
    const before = this.running
    const after = runningCallsFor(overdueAfterMs, before, this)
    if (after !== before) this.extras().running = after
  }

  /** Its name in logs, errors and metrics: `options.name`, or the strategy's. */
  get name(): string {
    return this.setup.name
  }

  /** The clock it reads time from (latencies, open durations, timeouts). */
  get clock(): Clock {
    return this.setup.clock
  }

  private get strategyNow(): Strategy<unknown> {
    return this.setup.strategy
  }

  private get broken(): boolean {
    return this.setup.fallback === BROKEN
  }

  /** Marks the state as this breaker's alone (its strategy just made it) or not (shown, or given). */
  private own(owned: boolean): void {
    this.twin = owned && !this.broken ? inPlaceStep(this.strategyNow) : undefined
  }

  /** Prefer {@link createBreaker}. */
  constructor(strategy: Strategy<unknown>, options: BreakerOptions<unknown> = {}) {
    super()
    // A keyed group hands its breakers the setup they share as their options (it has the name and
    // clock options have, and stands for `strategy`).
    this.setup = options instanceof Setup ? options : checkedSetup(strategy, options)
    if (options.initialState === undefined) this.current = PRISTINE
    else {
      const restored = restore(strategy, options.initialState)
      if (restored._tag === 'Left') throw restored.left
      this.current = restored.right
      this.watchRunning(strategy.overdueAfterMs)
    }
  }

  /** The strategy in use. */
  get strategy(): Strategy<unknown> {
    return this.strategyNow
  }

  /** The raw state of the strategy in use (plain data; `strategy.codec.encode` it to persist). */
  get state(): unknown {
    const state = this.read(
      (now) => this.settled(now),
      () => (this.current === PRISTINE ? undefined : this.current),
    )
    // Shown: from now on it is the reader's too, and is never written in place again.
    this.own(false)
    return state
  }

  /**
   * True until the breaker is first used (a call, an event, a snapshot, a read of `state`): it
   * holds no state yet, and will start from its strategy's `initial` at that time. Adapters that
   * visit every breaker of a group (fleet mode) skip these, so idle keys stay light.
   */
  get pristine(): boolean {
    return this.current === PRISTINE
  }

  /** The state, made from the strategy's `initial(now)` on first use. */
  private settled(now: number): unknown {
    if (this.current === PRISTINE) {
      const strategy = this.strategyNow
      this.current = strategy.initial(now)
      this.own(true)
      const w = this.watched
      if (w !== undefined) w.revision++
      // Its calls are watched from its first use (an idle breaker keeps no watch).
      this.watchRunning(strategy.overdueAfterMs)
    }
    return this.current
  }

  /** The number of the call the last `request` asked about (calls are numbered from 1). */
  get lastCall(): number {
    return this.callCount
  }

  /**
   * While anything watches the breaker (a subscriber, a counter such as a metrics adapter's, a
   * waiter): a count that moves with every event it steps, every swap, its first state and every
   * part that failed, so that a reader who kept what `snapshot()` gave at one revision may keep
   * using it while the revision is the same (a snapshot is a function of the state and the
   * strategy). `undefined` while nothing watches it (an idle key of a group keeps no count).
   *
   * @example
   * import { circuit } from '@datapunk/breaker'
   * import { createBreaker } from '@datapunk/breaker-runtime'
   * const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 3 } }))
   * breaker.revision // undefined: nothing watches it
   * breaker.countCalls({ settled: () => {}, rejected: () => {} })
   * const before = breaker.revision
   * await breaker.execute(async () => 'ok')
   * breaker.revision !== before // true
   */
  get revision(): number | undefined {
    return this.watched?.revision
  }

  /** The current snapshot, live counts included. */
  snapshot(): Snapshot {
    const snapshot = this.read((now) => this.strategyNow.inspect(this.settled(now)), brokenSnapshot)
    if (this.watched !== undefined) this.watched.lastSnapshot = snapshot
    return snapshot
  }

  /**
   * Reads through the strategy (its `initial`, its `inspect`): a part that throws is handled as on
   * an event (see `partFailed`), and the strategy gone back to is read instead; with none left,
   * `otherwise`.
   */
  private read<T>(read: (now: number) => T, otherwise: (now: number) => T): T {
    const now = this.clock.now()
    for (let attempt = 0; attempt < 2 && !this.broken; attempt++) {
      try {
        return read(now)
      } catch (error) {
        this.partFailed(error, TICKED, now, 0, false, DESCRIBING)
      }
    }
    return otherwise(now)
  }

  /** Steps the strategy with `event` at the clock's time; returns the decision. */
  dispatch(event: BreakerEvent): Decision {
    const now = this.clock.now()
    // Watched calls hear of it too: an outcome ends its call's watch, and any event reports the calls due.
    return this.dispatchAt(this.running === undefined ? event : this.running.seen(event, now), now)
  }

  /**
   * Steps the strategy with `event` at `now`, a time the caller just read from this breaker's
   * clock (the operator reads the clock once per call edge instead of twice).
   */
  dispatchAt(event: BreakerEvent, now: number, call = 0, timedOut = false): Decision {
    // The hot path, kept small: nobody hears of calls but counters, nobody waits, and the strategy
    // steps our own state in place (`undefined`: it has no in-place path for this step). A part
    // that throws never escapes (see `partFailed`).
    try {
      const twin = this.twin
      const w = this.watched
      if (w !== undefined) w.revision++
      if (twin !== undefined && (w === undefined || w.quiet)) {
        const decision = twin(this.current, event, now)
        if (decision !== undefined) {
          // Counters hear of outcomes here (an in-place request is always admitted: nothing to count).
          if (event !== REQUESTED && w !== undefined && w.counting) w.count(event, decision, timedOut)
          return decision
        }
      }
      return this.dispatchWatched(event, now, call, timedOut)
    } catch (error) {
      return this.partFailed(error, event, now, call, timedOut)
    }
  }

  /**
   * A part of the strategy threw on `event` (see partFailure.ts): reported as `ConfigRejected`
   * (once per broken strategy), then the strategy before the last swap takes over and `event`
   * runs again on it (the call in hand a failure); without one, requests are rejected.
   */
  private partFailed(error: unknown, event: BreakerEvent, now: number, call: number, timedOut: boolean, doing: Doing = event): Decision {
    const broken = this.strategyNow
    const before = this.setup.fallback
    const fallback = before === broken || before === BROKEN ? undefined : before
    this.setup = this.setup.with(broken, undefined)
    const w = this.watched
    if (w !== undefined) w.revision++
    if (w !== undefined && w.reportedBroken !== broken) {
      w.reportedBroken = broken
      this.configRejected(partFailedMessage(broken, fallback, error, doing))
    }
    if (fallback === undefined) {
      this.setup = this.setup.with(broken, BROKEN)
      this.own(false)
      return brokenDecision(event)
    }
    try {
      this.replace(fallback, this.current === PRISTINE ? fallback.initial(now) : fallbackState(broken, this.current, fallback, now))
    } catch {
      // The broken strategy could not even describe its last state to watchers: the swap is made
      // (strategy and state are set before watchers are told), only that announcement is lost.
    }
    this.setup = this.setup.with(this.strategyNow, undefined)
    return this.dispatchAt(asFailure(event), now, call, timedOut)
  }

  /**
   * `dispatchAt` past its one test: in place while watched (nothing a watcher sees changes, so only
   * the call event is left to send), else the whole way. Small, apart from `dispatchFully`.
   */
  private dispatchWatched(event: BreakerEvent, now: number, call: number, timedOut: boolean): Decision {
    if (this.broken) return brokenDecision(event)
    const w = this.watched
    const twin = this.twin
    // Quiet, the hot path has tried the twin already.
    if (twin !== undefined && w !== undefined && !w.quiet && (w.waiters === undefined || w.waiters.size === 0)) {
      const decision = twin(this.current, event, now)
      if (decision !== undefined) {
        if (w.hearsCalls) w.emitCall(this.name, event, decision, now, call, timedOut)
        if (w.queue.length > 0) w.flush()
        return decision
      }
    }
    return this.dispatchFully(event, now, call, timedOut)
  }

  /** `dispatchAt`, the whole way: `step`, watchers told, waiters let in, events delivered in order. */
  private dispatchFully(event: BreakerEvent, now: number, call: number, timedOut: boolean): Decision {
    const w = this.watched
    const before = this.current === PRISTINE ? this.settled(now) : this.current
    const strategy = this.strategyNow
    const result = strategy.step(before, event, now)
    const after = result[0]
    const decision = result[1]
    if (after !== before) {
      this.current = after
      // A new state, made by the strategy and shown to nobody: ours (a no-op while it already was).
      if (this.twin === undefined) this.own(true)
    }
    // Nobody ever watched or waited: nothing else to do.
    if (w === undefined) return decision
    if (after !== before) {
      if (w.waiters === undefined && !w.transitionEvents.observed && !w.snapshots.observed) w.lastSnapshot = undefined
      else this.changed(w, before, after, now)
    }
    if (w.hearsCalls) w.emitCall(this.name, event, decision, now, call, timedOut)
    if (w.queue.length > 0) w.flush()
    return decision
  }

  /**
   * Asks to make a call: an {@link Admission} to settle when the call ends, or the `Rejected`
   * decision (its `reason` and `retryAfterMs`). The way to protect a call without `execute` or
   * the operator: nothing else to read, nothing else to report.
   *
   * @example
   * import { circuit } from '@datapunk/breaker'
   * import { createBreaker } from '@datapunk/breaker-runtime'
   * const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }))
   * const first = breaker.admit()
   * if (first._tag === 'Admitted') first.settle('failure')
   * const second = breaker.admit()
   * second._tag === 'Rejected' && second.reason // 'open'
   */
  admit(): Admission | Rejected {
    const now = this.clock.now()
    const decision = this.request(now)
    if (decision._tag === 'Admitted') return new Admission(this, decision, this.callCount, now)
    return decision._tag === 'Rejected' ? decision : REJECTED_OPEN
  }

  /**
   * Asks to make a call, at the low level adapters use: `Admitted` (keep it: it is the ticket,
   * reported with `succeeded`, `failed` or `cancelled`, and `lastCall` numbers it) or `Rejected`.
   * Prefer {@link admit}.
   */
  request(now = this.clock.now()): Decision {
    if (this.running === undefined && this.current !== PRISTINE) return this.dispatchAt(REQUESTED, now, ++this.callCount)
    return this.requestWatched(now)
  }

  /** `request` with calls watched for being overdue, or a first request (which may start that watch). */
  private requestWatched(now: number): Decision {
    let running = this.running
    running?.report(now)
    const decision = this.dispatchAt(REQUESTED, now, ++this.callCount)
    // A first request made the strategy's first state, and the watch with it (see `settled`).
    running ??= this.running
    if (running !== undefined && decision._tag === 'Admitted') running.admitted(decision, now)
    return decision
  }

  /** Records that the call admitted with `ticket` succeeded after `latencyMs`. Report each ticket once. */
  succeeded(ticket: Ticket, latencyMs: number, now = this.clock.now(), call = 0): Decision {
    const event: CallSucceeded = { _tag: 'CallSucceeded', ticket, latencyMs: Math.max(0, latencyMs) }
    return this.dispatchAt(this.running === undefined ? event : this.running.seen(event, now), now, call)
  }

  /**
   * Records that the call admitted with `ticket` failed after `latencyMs` (`timedOut`: by its
   * timeout; `retryAfterMs`: the upstream's retry hint, see `CallFailed`). Report each ticket once.
   */
  failed(ticket: Ticket, latencyMs: number, now = this.clock.now(), call = 0, timedOut = false, retryAfterMs?: number): Decision {
    const latency = Math.max(0, latencyMs)
    const event: CallFailed =
      retryAfterMs === undefined
        ? { _tag: 'CallFailed', ticket, latencyMs: latency }
        : { _tag: 'CallFailed', ticket, latencyMs: latency, retryAfterMs }
    return this.dispatchAt(this.running === undefined ? event : this.running.seen(event, now), now, call, timedOut)
  }

  /** Records that the call admitted with `ticket` ends without an outcome that counts. */
  cancelled(ticket: Ticket, call = 0): Decision {
    const now = this.clock.now()
    const event: BreakerEvent = { _tag: 'CallCancelled', ticket }
    return this.dispatchAt(this.running === undefined ? event : this.running.seen(event, now), now, call)
  }

  /**
   * Runs a promise-returning call under the breaker: `fn` is never invoked when the call is
   * rejected (the promise rejects with a `BrokenCircuitError`); the `AbortSignal` it gets aborts
   * on timeout or when `options.signal` aborts. Outcomes are recorded exactly as the
   * `circuitBreaker()` operator records them. See {@link ExecuteOptions}.
   *
   * @example
   * import { circuit } from '@datapunk/breaker'
   * import { createBreaker } from '@datapunk/breaker-runtime'
   * const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }))
   * await breaker.execute(async () => 'ok') // 'ok'
   * await breaker.execute(async () => { throw new Error('down') }).catch((e: Error) => e.message) // 'down'
   * await breaker.execute(async () => 'never called').catch((e: Error) => e.name) // 'BrokenCircuitError'
   */
  execute<T>(fn: (signal: AbortSignal) => PromiseLike<T> | T, options?: ExecuteOptions<T>): Promise<T> {
    return options === undefined ? executePlain(this, fn) : execute(this, fn, options)
  }

  /**
   * Moves the breaker to another strategy at run time: the new strategy adopts the current state
   * (see `swapStrategy` in the core: circuits keep their phase, `openUntil` and, where compatible,
   * their counts; a strategy without `adopt` starts afresh). Emits `ConfigSwapped`. If a part of
   * `next` throws while adopting, nothing changes and `ConfigRejected` says why; if one throws
   * later, on any event, the breaker reports `ConfigRejected` and goes back to the strategy it
   * swapped from (the call in hand counted as failed there).
   */
  swap(next: Strategy<unknown>): void {
    checkStrategy('swap', next)
    const now = this.clock.now()
    let state: unknown
    try {
      state = swapStrategy(this.strategyNow, this.settled(now), next, now)
    } catch (error) {
      // A part of `next` threw while adopting the state: `next` is rejected, nothing changes.
      this.configRejected(partFailedMessage(next, this.strategyNow, error, ADOPTING))
      return
    }
    this.replace(next, state)
  }

  /** Replaces strategy and state outright (`state` must be a state of `next`). Emits `ConfigSwapped`. */
  replace(next: Strategy<unknown>, state: unknown): void {
    checkStrategy('replace', next)
    const before = this.settled(this.clock.now())
    const previous = this.strategyNow
    this.setup = this.setup.with(next, previous)
    this.watchRunning(next.overdueAfterMs)
    this.current = state
    // Given from outside (or adopted from the old state): not ours to write in place.
    this.own(false)
    const now = this.clock.now()
    const w = this.watched
    if (w === undefined) return
    w.revision++
    const from = w.announceSwap(this.name, previous, before, next, now)
    try {
      this.changed(w, before, state, now, from)
    } catch (error) {
      // The new strategy cannot describe its state: a part that throws, rejected and gone back from.
      this.partFailed(error, TICKED, now, 0, false, DESCRIBING)
    }
    w.flush()
  }

  private changed(w: Watch, before: unknown, after: unknown, now: number, swappedFrom?: Snapshot): void {
    w.drainSoon(this.clock, this)
    announceChange(w, this.name, this.strategyNow, before, after, now, swappedFrom)
  }
}
