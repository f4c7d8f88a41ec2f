import type { Admitted, BreakerEvent, Decision } from '@datapunk/breaker'
import { Outcomes } from './Outcomes.js'

/**
 * The calls a simulated breaker has in flight, and what it hears of them, in time order: each
 * call's outcome when it ends, and, for a strategy with `overdueAfterMs`, each call still running
 * that long as `CallOverdue` at that moment (as the runtime's breaker reports it: its one timer
 * fires when the oldest call it watches is due), its outcome then carrying `overdueMs`. Calls of a
 * generation the breaker left are no longer watched, as in the runtime.
 */
export class InFlight {
  private readonly pending = new Outcomes()
  /** Calls that will still be running at `overdueAfterMs`, in admission order: when, and which. */
  private lateAt: number[] = []
  private lateTickets: Admitted[] = []
  private lateHead = 0
  /** Calls reported overdue and not yet ended, with how long they had run. */
  private readonly reported = new Map<Admitted, number>()
  /** The generation of the calls watched. */
  private generation = -1

  constructor(
    /** Tells the strategy (absent: the oracle, told nothing). */
    private readonly apply: ((event: BreakerEvent, t: number) => Decision) | undefined,
    private readonly overdueAfterMs: number | undefined,
  ) {}

  /** A call admitted at `t` that ends at `t + latencyMs`, failed or not. */
  admitted(t: number, ticket: Admitted, failed: boolean, latencyMs: number): void {
    this.pending.push(t + latencyMs, ticket, failed, latencyMs)
    const after = this.overdueAfterMs
    if (after === undefined || ticket.probe) return
    // A call of a new generation: the calls of the old one are stale (the runtime forgets them too).
    if (ticket.generation !== this.generation) this.forget(ticket.generation)
    if (latencyMs > after) {
      this.lateAt.push(t + after)
      this.lateTickets.push(ticket)
    }
  }

  private forget(generation: number): void {
    this.lateAt = []
    this.lateTickets = []
    this.lateHead = 0
    this.reported.clear()
    this.generation = generation
  }

  /** Tells the strategy everything due by `t`: outcomes and overdue reports, earliest first (a report first on a tie). */
  settleDue(t: number): void {
    const pending = this.pending
    for (;;) {
      const late = this.lateHead < this.lateAt.length
      const done = pending.size > 0
      const lateAt = late ? (this.lateAt[this.lateHead] ?? 0) : Number.POSITIVE_INFINITY
      if (late && lateAt <= t && (!done || lateAt <= pending.peekAt())) this.reportNext(lateAt)
      else if (done && pending.peekAt() <= t) this.settleNext()
      else return
    }
  }

  private settleNext(): void {
    const pending = this.pending
    const slot = pending.pop()
    const ticket = pending.takeTicket(slot)
    const latencyMs = pending.latencyOf(slot)
    const apply = this.apply
    if (apply === undefined) return
    const overdueMs = this.reported.size === 0 ? undefined : this.reported.get(ticket)
    const _tag = pending.failedOf(slot) ? 'CallFailed' : 'CallSucceeded'
    if (overdueMs === undefined) apply({ _tag, ticket, latencyMs }, pending.atOf(slot))
    else {
      this.reported.delete(ticket)
      apply({ _tag, ticket, latencyMs, overdueMs }, pending.atOf(slot))
    }
  }

  private reportNext(at: number): void {
    const ticket = this.lateTickets[this.lateHead] as Admitted
    this.lateHead++
    if (this.lateHead === this.lateAt.length) {
      this.lateAt = []
      this.lateTickets = []
      this.lateHead = 0
    }
    const elapsedMs = this.overdueAfterMs ?? 0
    const decision = this.apply?.({ _tag: 'CallOverdue', ticket, elapsedMs }, at)
    if (decision === undefined) return
    // The breaker changed phase since: every call watched is of that older generation.
    if (decision._tag === 'Ignored' && decision.reason === 'stale') this.forget(-1)
    else this.reported.set(ticket, elapsedMs)
  }
}
