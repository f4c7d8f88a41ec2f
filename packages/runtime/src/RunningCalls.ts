/**
 * Calls still running, for a strategy that counts slow calls before they end (see
 * `Strategy.overdueAfterMs` and the `CallOverdue` event in the core): a hung upstream then trips
 * within the slow-call threshold, not the timeout. No timer per call: the calls admitted while
 * closed wait in a `Map` in admission order; the breaker's next request, outcome or tick reports
 * each one that has run `afterMs` or more, once; and one timer per breaker (armed while calls
 * run, at most once per `afterMs`, never keeping a process alive) does it when no event comes,
 * as when every caller waits on a hung call.
 */
import type { Admitted, BreakerEvent, Decision, Ticket } from '@datapunk/breaker'
import type { Clock, TimerHandle } from './Clock.js'

/** What reporting an overdue call needs of a breaker. */
export interface OverdueSink {
  readonly clock: Clock
  dispatchAt(event: BreakerEvent, now: number): Decision
}

/** The most calls watched at once: calls admitted beyond it count when they end, as without this watch. */
export const MAX_WATCHED_CALLS = 1_000_000

export class RunningCalls {
  /** Calls admitted while closed and not yet ended or reported, by ticket, with the time they started (oldest first). */
  private readonly started = new Map<Ticket, number>()
  /** Calls reported overdue and not yet ended, with how long they had run when reported. */
  private readonly reported = new Map<Ticket, number>()
  /** No watched call is overdue before this time (a lower bound: the oldest call's due time when last looked). */
  private dueAt = Number.POSITIVE_INFINITY
  /** The generation of the calls watched: a call of another one is stale, and so is every call watched. */
  private generation = -1
  /** The timer that reports when no event does (armed while calls are watched). */
  private timer: TimerHandle | undefined = undefined

  constructor(
    /** From how long a running call is overdue: the strategy's `overdueAfterMs`. */
    public afterMs: number,
    private readonly sink: OverdueSink,
  ) {}

  /** How many calls are watched (running, or reported and not yet ended). */
  get size(): number {
    return this.started.size + this.reported.size
  }

  /** A call admitted at `now` (probes are not watched: they have their own timeout). */
  admitted(ticket: Admitted, now: number): void {
    if (ticket.probe) return
    if (ticket.generation !== this.generation) this.forget(ticket.generation)
    if (this.started.size >= MAX_WATCHED_CALLS) return
    // The oldest call watched is due first.
    if (this.started.size === 0) this.dueAt = now + this.afterMs
    this.started.set(ticket, now)
    if (this.timer === undefined) this.arm(Math.max(1, this.afterMs))
  }

  /** The call `ticket` ended: how long it had run when reported overdue, or `undefined` if it never was. */
  ended(ticket: Ticket): number | undefined {
    if (this.started.delete(ticket) || this.reported.size === 0) return undefined
    const overdueMs = this.reported.get(ticket)
    if (overdueMs !== undefined) this.reported.delete(ticket)
    return overdueMs
  }

  /**
   * `event`, about to be dispatched at `now`: an outcome ends its call's watch (and carries
   * `overdueMs` if the call was reported), and every call due is reported first, whatever the event.
   */
  seen(event: BreakerEvent, now: number): BreakerEvent {
    let seen = event
    if (event._tag === 'CallSucceeded' || event._tag === 'CallFailed') {
      const overdueMs = this.ended(event.ticket)
      if (overdueMs !== undefined) seen = { ...event, overdueMs }
    } else if (event._tag === 'CallCancelled') this.ended(event.ticket)
    this.report(now)
    return seen
  }

  /**
   * Reports to the breaker, as `CallOverdue` at `now`, every watched call that has run `afterMs`
   * or more (oldest first). A report the breaker finds stale (it tripped, or changed phase, since
   * the call started) ends the watch of every call: they are all of that older generation.
   */
  report(now: number): void {
    if (!(now >= this.dueAt)) return
    for (const [ticket, started] of this.started) {
      const elapsedMs = now - started
      if (elapsedMs < this.afterMs) {
        this.dueAt = started + this.afterMs
        return
      }
      this.started.delete(ticket)
      this.reported.set(ticket, elapsedMs)
      const decision = this.sink.dispatchAt({ _tag: 'CallOverdue', ticket, elapsedMs }, now)
      if (decision._tag === 'Ignored' && decision.reason === 'stale') {
        this.forget(-1)
        return
      }
    }
    this.dueAt = Number.POSITIVE_INFINITY
  }

  /** A new threshold (a swap): every call watched is looked at again on the next report. */
  retarget(afterMs: number): void {
    this.afterMs = afterMs
    this.dueAt = Number.NEGATIVE_INFINITY
  }

  /** Stops watching: the timer cancelled, every call forgotten (a swap to a strategy without `overdueAfterMs`). */
  stop(): void {
    this.timer?.unsubscribe()
    this.timer = undefined
    this.forget(-1)
  }

  private arm(delayMs: number): void {
    const timer = this.sink.clock.schedule(() => {
      if (this.timer !== timer) return
      this.timer = undefined
      const now = this.sink.clock.now()
      this.report(now)
      if (this.started.size > 0) this.arm(Math.max(1, Math.min(this.dueAt - now, this.afterMs)))
    }, delayMs)
    timer.unref?.()
    this.timer = timer
  }

  /** Stops watching every call (a new generation began: the calls of the old one are stale). */
  private forget(generation: number): void {
    this.started.clear()
    this.reported.clear()
    this.generation = generation
    this.dueAt = Number.POSITIVE_INFINITY
  }
}

/**
 * The watch a breaker keeps for `overdueAfterMs` (its strategy's; `undefined` or not a time: none),
 * `current` kept across a swap (its calls' reports still belong to them).
 */
export const runningCallsFor = (
  overdueAfterMs: number | undefined,
  current: RunningCalls | undefined,
  sink: OverdueSink,
): RunningCalls | undefined => {
  if (overdueAfterMs === undefined || !(overdueAfterMs >= 0 && overdueAfterMs < Number.POSITIVE_INFINITY)) {
    current?.stop()
    return undefined
  }
  if (current === undefined) return new RunningCalls(overdueAfterMs, sink)
  if (current.afterMs !== overdueAfterMs) current.retarget(overdueAfterMs)
  return current
}
