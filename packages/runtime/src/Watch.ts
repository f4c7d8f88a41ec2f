/** What a breaker keeps for its watchers and waiters, and how it delivers their events in causal order. */
import type { Admitted, BreakerEvent, Decision, Rejected, Snapshot, Strategy } from '@datapunk/breaker'
import type { Clock, TimerHandle } from './Clock.js'
import { Channel, type EventStream, eventStream, mergeStreams, report, type Sink, type Unsubscribable } from './EventStream.js'
import type { CallEvent, CallOutcomeEvent, MetricEvent, TransitionEvent } from './MetricEvent.js'
import type { CallCounter, CallOutcomeLabel } from './metricModel.js'
import { brokenSnapshot } from './partFailure.js'

export const outcomeTag = { CallSucceeded: 'succeeded', CallFailed: 'failed', CallCancelled: 'cancelled' } as const

/** A caller waiting in half-open for the probes' verdict. */
export interface Waiter {
  readonly admit: (ticket: Admitted, call: number, now: number) => void
  readonly fail: (rejection: Rejected) => void
  timer: TimerHandle | undefined
}

/** What letting waiters in asks of a breaker. */
export interface Gate {
  readonly clock: { now(): number }
  readonly lastCall: number
  request(now: number): Decision
}

const REJECTED_OPEN: Rejected = { _tag: 'Rejected', reason: 'open', retryAfterMs: null }

/**
 * Lets waiters in, first come first: each asks `gate` once, in order, until one is refused (or,
 * the circuit open again, all fail). Linear in the waiters let in: a set iterates in insertion
 * order and deleting the one in hand is O(1) (100,000 waiters cost what 2,000 cost, per waiter).
 */
export const drainWaiters = (gate: Gate, waiters: Set<Waiter>): void => {
  for (const waiter of waiters) {
    const now = gate.clock.now()
    const decision = gate.request(now)
    if (decision._tag === 'Admitted') {
      waiters.delete(waiter)
      waiter.timer?.unsubscribe()
      waiter.admit(decision, gate.lastCall, now)
      continue
    }
    const rejection = decision._tag === 'Rejected' ? decision : REJECTED_OPEN
    if (rejection.reason === 'half-open-full' || rejection.reason === 'throttled') return
    // Open again (or forced open): the verdict is in, and it is no.
    for (const refused of waiters) {
      waiters.delete(refused)
      refused.timer?.unsubscribe()
      refused.fail(rejection)
    }
    return
  }
}

/**
 * Tells watchers what a state change from `before` to `after` means: `StateChanged` on a
 * transition, `RecoveryRateChanged` when a recovery's admit rate moved, the new snapshot on
 * `state$`. `swappedFrom`: the snapshot before a swap (`before` is then another strategy's state).
 */
export const announceChange = (
  w: Watch,
  name: string,
  strategy: Strategy<unknown>,
  before: unknown,
  after: unknown,
  now: number,
  swappedFrom: Snapshot | undefined,
): void => {
  if (!w.transitionEvents.observed && !w.snapshots.observed) {
    w.lastSnapshot = undefined
    return
  }
  // Cheap test first, where the strategy offers one: nothing a watcher sees changed (not across
  // a swap: `before` is then another strategy's state).
  if (
    swappedFrom === undefined &&
    w.lastSnapshot !== undefined &&
    strategy.transitioned !== undefined &&
    !strategy.transitioned(before, after)
  )
    return
  const previous = swappedFrom ?? w.lastSnapshot ?? strategy.inspect(before)
  const next = strategy.inspect(after)
  w.lastSnapshot = next
  const transition = previous.generation !== next.generation || previous.state !== next.state || previous.mode !== next.mode
  const rate = previous.admitRate !== next.admitRate && next.state === 'half-open'
  if (!transition && !rate) return
  if (w.transitionEvents.observed) {
    if (transition) {
      w.send(w.transitionEvents, {
        _tag: 'StateChanged',
        breaker: name,
        at: now,
        from: previous.state,
        to: next.state,
        mode: next.mode,
        reason: next.reason,
      })
    }
    if (rate)
      w.send(w.transitionEvents, { _tag: 'RecoveryRateChanged', breaker: name, at: now, from: previous.admitRate, to: next.admitRate })
  }
  if (w.snapshots.observed) w.send(w.snapshots, next)
}

/** Hands `value` to each subscriber (each is a safe sink: a throwing handler is reported, not thrown here). */
export const deliver = <T>(subscribers: ReadonlyArray<Sink<T>>, value: T): void => {
  for (let i = 0; i < subscribers.length; i++) subscribers[i]?.next(value)
}

/** The event streams of a {@link Breaker}, built together on first read. */
export interface Views {
  readonly calls$: EventStream<CallEvent>
  readonly outcomes$: EventStream<CallOutcomeEvent>
  readonly transitions$: EventStream<TransitionEvent>
  readonly metrics$: EventStream<MetricEvent>
  readonly state$: EventStream<Snapshot>
}

/**
 * Stands in for a breaker's channels until someone subscribes. Nobody ever subscribes to it, so
 * `observed` is false and nothing is ever sent to it (every send checks `observed` first).
 */
export const UNWATCHED = new Channel<unknown>()
export const unwatched = <T>(): Channel<T> => UNWATCHED as unknown as Channel<T>
export const NO_SUBSCRIBERS: ReadonlyArray<Sink<CallEvent>> = Object.freeze([])
const NO_COUNTERS: ReadonlyArray<CallCounter> = Object.freeze([])

/**
 * What a breaker keeps for its watchers and waiters, created the first time anyone subscribes or
 * waits: an idle breaker (most of a keyed group) is its strategy, its state and a few fields.
 */
export class Watch {
  lastSnapshot: Snapshot | undefined = undefined
  /** Moves with every event the breaker steps, every swap, first state and part failure (see `Breaker.revision`). */
  revision = 0
  /** Subscribers of `calls$`: a plain list, read on every call. */
  callSubscribers: ReadonlyArray<Sink<CallEvent>> = NO_SUBSCRIBERS
  /** Subscribers of `outcomes$`: the same, spared the admissions. */
  outcomeSubscribers: ReadonlyArray<Sink<CallEvent>> = NO_SUBSCRIBERS
  /** Counters (see `Breaker.countCalls`): told of each call's end with plain values. */
  counters: ReadonlyArray<CallCounter> = NO_COUNTERS
  /** Whether anyone hears of calls (`calls$`, `outcomes$` or a counter): the one test a watched call makes. */
  hearsCalls = false
  /** Whether there are counters. */
  counting = false
  /**
   * Whether the breaker's fast path (an in-place step) may run: nobody subscribes to call events
   * and nobody waits. Counters are told on the fast path too; state changes never happen there.
   */
  quiet = true
  /** The last strategy reported broken to `transitions$` (one `ConfigRejected` each). */
  reportedBroken: Strategy<unknown> | undefined = undefined
  /** `UNWATCHED` until someone subscribes to `transitions$` (or `metrics$`). */
  transitionEvents: Channel<TransitionEvent> = unwatched()
  /** `UNWATCHED` until someone subscribes to `state$`. */
  snapshots: Channel<Snapshot> = unwatched()
  /** Emissions waiting for the one in progress to reach every subscriber (channel, value pairs). */
  readonly queue: unknown[] = []
  emitting = false
  /** Callers waiting in half-open, in arrival order (a set: leaving and letting in are O(1) each). */
  waiters: Set<Waiter> | undefined = undefined
  drainScheduled = false
  views: Views | undefined = undefined

  /**
   * Queues a caller for the probes' verdict (see `Breaker.wait`): it fails with `half-open-full`
   * after `maxWaitMs` on `clock` unless let in or gone first.
   */
  wait(clock: Clock, maxWaitMs: number, admit: Waiter['admit'], fail: Waiter['fail']): Unsubscribable {
    const waiter: Waiter = { admit, fail, timer: undefined }
    this.waiters ??= new Set()
    this.waiters.add(waiter)
    if (this.waiters.size === 1) this.heard()
    waiter.timer = clock.schedule(() => {
      if (this.leave(waiter)) fail({ _tag: 'Rejected', reason: 'half-open-full', retryAfterMs: null })
    }, maxWaitMs)
    return { unsubscribe: () => void this.leave(waiter) }
  }

  private leave(waiter: Waiter): boolean {
    if (this.waiters?.delete(waiter) !== true) return false
    if (this.waiters.size === 0) this.heard()
    waiter.timer?.unsubscribe()
    return true
  }

  /** Lets waiters ask `gate` again, on `clock`, outside the dispatch that changed the state (no re-entrant calls). */
  drainSoon(clock: Clock, gate: Gate): void {
    if (this.drainScheduled || this.waiters === undefined || this.waiters.size === 0) return
    this.drainScheduled = true
    clock.schedule(() => {
      this.drainScheduled = false
      if (this.waiters === undefined) return
      drainWaiters(gate, this.waiters)
      if (this.waiters.size === 0) this.heard()
    })
  }

  /**
   * Queues `ConfigSwapped` (from `previous` to `next`), and returns the snapshot before the swap for
   * `announceChange`: the old state is the old strategy's, and only it can read it (if it cannot,
   * the last snapshot stands for it); `undefined` if nobody watches states.
   */
  announceSwap(name: string, previous: Strategy<unknown>, before: unknown, next: Strategy<unknown>, now: number): Snapshot | undefined {
    if (this.transitionEvents.observed)
      this.send(this.transitionEvents, { _tag: 'ConfigSwapped', breaker: name, at: now, strategy: next.name })
    if (!this.transitionEvents.observed && !this.snapshots.observed) return undefined
    try {
      return previous.inspect(before)
    } catch {
      return this.lastSnapshot ?? brokenSnapshot(now)
    }
  }

  /** Sends a `ConfigRejected` or `ClassifierFailed` to `transitions$`, if anyone listens. */
  report(tag: 'ConfigRejected' | 'ClassifierFailed', breaker: string, at: number, message: string): void {
    if (!this.transitionEvents.observed) return
    this.send(this.transitionEvents, { _tag: tag, breaker, at, message })
    this.flush()
  }

  /**
   * Queues `value` for `channel`. Every emission goes through the queue and `flush`, so a
   * dispatch made by a subscriber (re-entrantly) is delivered after the dispatch in progress.
   */
  send<T>(channel: Channel<T>, value: T): void {
    this.queue.push(channel, value)
  }
  /**
   * Delivers a call event to `calls$` and, unless it is an admission, to `outcomes$`: at once if
   * nothing is being delivered, else after what is queued.
   */
  sendCall(value: CallEvent): void {
    const calls = this.callSubscribers
    const outcomes = value._tag === 'CallAdmitted' ? NO_SUBSCRIBERS : this.outcomeSubscribers
    if (this.emitting || this.queue.length > 0) {
      if (calls.length > 0) this.queue.push(calls, value)
      if (outcomes.length > 0) this.queue.push(outcomes, value)
      return
    }
    this.emitting = true
    try {
      deliver(calls, value)
      deliver(outcomes, value)
    } finally {
      this.emitting = false
    }
    if (this.queue.length > 0) this.flush()
  }
  /** Delivers the queue in order; a flush already in progress delivers what is queued meanwhile. */
  flush(): void {
    if (this.emitting) return
    this.emitting = true
    const queue = this.queue
    try {
      for (let i = 0; i < queue.length; i += 2) {
        const target = queue[i]
        if (Array.isArray(target)) deliver(target as ReadonlyArray<Sink<unknown>>, queue[i + 1])
        else (target as Channel<unknown>).next(queue[i + 1])
      }
    } finally {
      queue.length = 0
      this.emitting = false
    }
  }
  emitCall(breaker: string, event: BreakerEvent, decision: Decision, at: number, call: number, timedOut: boolean): void {
    if (this.counting) this.count(event, decision, timedOut)
    if (this.callSubscribers.length === 0 && this.outcomeSubscribers.length === 0) return
    switch (event._tag) {
      case 'CallRequested':
        // Built only for `calls$`: `outcomes$` is spared admissions.
        if (decision._tag === 'Admitted') {
          if (this.callSubscribers.length > 0) this.sendCall({ _tag: 'CallAdmitted', breaker, at, call, probe: decision.probe })
        } else if (decision._tag === 'Rejected') {
          this.sendCall({ _tag: 'CallRejected', breaker, at, call, reason: decision.reason, retryAfterMs: decision.retryAfterMs })
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
        else this.sendCall({ _tag: 'CallFailed', breaker, at, call, latencyMs: event.latencyMs, timedOut })
        return
      default:
        return
    }
  }

  /** Tells the counters what became of the call `event` is about (`decision`: the breaker's answer to it). */
  count(event: BreakerEvent, decision: Decision, timedOut: boolean): void {
    switch (event._tag) {
      case 'CallRequested':
        if (decision._tag === 'Rejected') this.countRejected(decision)
        return
      case 'CallSucceeded':
        this.countSettled(decision._tag === 'Ignored' ? 'ignored' : 'success', event.latencyMs)
        return
      case 'CallFailed':
        this.countSettled(decision._tag === 'Ignored' ? 'ignored' : timedOut ? 'timeout' : 'failure', event.latencyMs)
        return
      case 'CallCancelled':
        this.countSettled(decision._tag === 'Ignored' ? 'ignored' : 'cancelled', null)
        return
      default:
        return
    }
  }

  private countSettled(outcome: CallOutcomeLabel, latencyMs: number | null): void {
    const counters = this.counters
    for (let i = 0; i < counters.length; i++) {
      try {
        counters[i]?.settled(outcome, latencyMs)
      } catch (error) {
        report(error)
      }
    }
  }

  private countRejected(rejection: Rejected): void {
    const counters = this.counters
    for (let i = 0; i < counters.length; i++) {
      try {
        counters[i]?.rejected(rejection.reason)
      } catch (error) {
        report(error)
      }
    }
  }

  /** Adds a counter (see `Breaker.countCalls`); unsubscribe to remove it. */
  addCounter(counter: CallCounter): Unsubscribable {
    this.counters = [...this.counters, counter]
    this.heard()
    return {
      unsubscribe: () => {
        this.counters = this.counters.filter((c) => c !== counter)
        this.heard()
      },
    }
  }

  /** Works out who hears of calls, and whether the breaker's fast path may run. */
  private heard(): void {
    const subscribed = this.callSubscribers.length > 0 || this.outcomeSubscribers.length > 0
    this.counting = this.counters.length > 0
    this.hearsCalls = subscribed || this.counting
    this.quiet = !subscribed && (this.waiters === undefined || this.waiters.size === 0)
  }

  /** The event streams of the breaker this watch belongs to (`snapshot`: its snapshot now, for `state$`). */
  makeViews(snapshot: () => Snapshot): Views {
    const calls$ = eventStream<CallEvent>((sink) => {
      // Copy on write: a delivery in progress keeps iterating the list it started with.
      this.callSubscribers = [...this.callSubscribers, sink]
      this.heard()
      return () => {
        this.callSubscribers = this.callSubscribers.filter((s) => s !== sink)
        this.heard()
      }
    })
    const outcomes$ = eventStream<CallOutcomeEvent>((sink) => {
      const s = sink as Sink<CallEvent>
      this.outcomeSubscribers = [...this.outcomeSubscribers, s]
      this.heard()
      return () => {
        this.outcomeSubscribers = this.outcomeSubscribers.filter((other) => other !== s)
        this.heard()
      }
    })
    const transitions$ = eventStream<TransitionEvent>((sink) => {
      if (this.transitionEvents === UNWATCHED) this.transitionEvents = new Channel<TransitionEvent>()
      return this.transitionEvents.add(sink)
    })
    const state$ = eventStream<Snapshot>((sink) => {
      sink.next(snapshot())
      if (this.snapshots === UNWATCHED) this.snapshots = new Channel<Snapshot>()
      return this.snapshots.add(sink)
    })
    return { calls$, outcomes$, transitions$, metrics$: mergeStreams<MetricEvent>(calls$, transitions$), state$ }
  }
}
