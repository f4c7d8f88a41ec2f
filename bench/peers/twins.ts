/**
 * Hand-written breakers with the duties ours has on the closed path, and no generality: a clock
 * read when the call starts and when it ends (the latency), a ticket per call (its generation and
 * id), the calls in flight counted, an outcome checked against the generation and the calls in
 * flight, consecutive failures counted. One keeps its state in mutable fields; the other makes a
 * new state object per step, as a pure reducer must. Both return `fn()`'s promise through one
 * `then`, as `execute` does.
 *
 * They are the floors under `pnpm bench`'s closed-state targets: the bench's `mutable breaker`
 * has fewer duties (no clock read, no ticket, no latency), so the pair shows what those duties
 * cost, and what purity costs on top of them.
 */
import type { Clock } from '@datapunk/breaker-runtime'
import { Observable, type OperatorFunction, Subscriber } from 'rxjs'

interface Ticket {
  readonly generation: number
  readonly id: number
}

const LONG = 1e9

/** What both twins state: the rejection they fail with when open. */
const openError = (): Error => new Error('open')

/** The hand-written mutable breaker: consecutive failures, the least a breaker can do. */
export class MutableBreaker {
  private failures = 0
  private openUntil = 0
  constructor(private readonly threshold: number) {}
  async fire<T>(fn: () => Promise<T>): Promise<T> {
    if (this.openUntil > 0 && Date.now() < this.openUntil) throw new Error('open')
    try {
      const value = await fn()
      this.failures = 0
      return value
    } catch (error) {
      if (++this.failures >= this.threshold) this.openUntil = Date.now() + LONG
      throw error
    }
  }
}
/** The mutable twin: fields written in place. */
export class MutableDutiesBreaker {
  private failures = 0
  private openUntil = 0
  private generation = 0
  private issued = 0
  private inFlight = 0
  /** The time of the last step, and the last latency counted (what a breaker keeps for its checks and figures). */
  lastTime = 0
  lastLatencyMs = 0

  constructor(
    private readonly threshold: number,
    private readonly time: Clock,
  ) {}

  request(now: number): Ticket | undefined {
    if (this.openUntil > 0 && now < this.openUntil) return undefined
    this.inFlight++
    this.lastTime = now
    return { generation: this.generation, id: this.issued++ }
  }

  outcome(ticket: Ticket, failed: boolean, latencyMs: number, now: number): void {
    if (ticket.generation !== this.generation || this.inFlight === 0 || !(latencyMs >= 0)) return
    this.inFlight--
    this.lastTime = now
    this.lastLatencyMs = latencyMs
    if (!failed) this.failures = 0
    else if (++this.failures >= this.threshold) {
      this.openUntil = now + LONG
      this.generation++
    }
  }

  fire<T>(fn: () => PromiseLike<T>): Promise<T> {
    const started = this.time.now()
    const ticket = this.request(started)
    if (ticket === undefined) return Promise.reject(openError())
    return Promise.resolve(fn()).then(
      (value) => {
        const now = this.time.now()
        this.outcome(ticket, false, now - started, now)
        return value
      },
      (error: unknown) => {
        const now = this.time.now()
        this.outcome(ticket, true, now - started, now)
        throw error
      },
    )
  }
}

interface DutiesState {
  readonly failures: number
  readonly openUntil: number
  readonly generation: number
  readonly issued: number
  readonly inFlight: number
  readonly clock: number
}

const requested = (s: DutiesState, now: number): DutiesState => ({
  failures: s.failures,
  openUntil: s.openUntil,
  generation: s.generation,
  issued: s.issued + 1,
  inFlight: s.inFlight + 1,
  clock: now,
})

const settled = (s: DutiesState, ticket: Ticket, failed: boolean, latencyMs: number, threshold: number, now: number): DutiesState => {
  if (ticket.generation !== s.generation || s.inFlight === 0 || !(latencyMs >= 0)) return s
  const failures = failed ? s.failures + 1 : 0
  const trip = failures >= threshold
  return {
    failures,
    openUntil: trip ? now + LONG : s.openUntil,
    generation: trip ? s.generation + 1 : s.generation,
    issued: s.issued,
    inFlight: s.inFlight - 1,
    clock: now,
  }
}

/** The pure twin: a new state object per step (the handle keeps the latest). */
export class PureDutiesBreaker {
  private state: DutiesState = { failures: 0, openUntil: 0, generation: 0, issued: 0, inFlight: 0, clock: 0 }

  constructor(
    private readonly threshold: number,
    private readonly time: Clock,
  ) {}

  fire<T>(fn: () => PromiseLike<T>): Promise<T> {
    const started = this.time.now()
    const s = this.state
    if (s.openUntil > 0 && started < s.openUntil) return Promise.reject(openError())
    const ticket: Ticket = { generation: s.generation, id: s.issued }
    this.state = requested(s, started)
    return Promise.resolve(fn()).then(
      (value) => {
        const now = this.time.now()
        this.state = settled(this.state, ticket, false, now - started, this.threshold, now)
        return value
      },
      (error: unknown) => {
        const now = this.time.now()
        this.state = settled(this.state, ticket, true, now - started, this.threshold, now)
        throw error
      },
    )
  }
}

/** The subscriber of {@link dutiesOperator}: forwards, and settles the call on the first end. */
class Guarded<T> extends Subscriber<T> {
  constructor(
    private readonly downstream: Subscriber<T>,
    private readonly breaker: MutableDutiesBreaker,
    private readonly time: Clock,
    private readonly ticket: Ticket,
    private readonly started: number,
  ) {
    super()
    downstream.add(this)
  }
  protected override _next(value: T): void {
    this.downstream.next(value)
  }
  protected override _error(error: unknown): void {
    const now = this.time.now()
    this.breaker.outcome(this.ticket, true, now - this.started, now)
    this.downstream.error(error)
    this.unsubscribe()
  }
  protected override _complete(): void {
    const now = this.time.now()
    this.breaker.outcome(this.ticket, false, now - this.started, now)
    this.downstream.complete()
    this.unsubscribe()
  }
}

/**
 * An RxJS operator over the mutable twin: a request when subscribed (an error if open), the
 * outcome when the source completes or errors. The least a breaker operator with our duties costs
 * when its breaker is a mutable one.
 */
export const dutiesOperator =
  <T>(breaker: MutableDutiesBreaker, time: Clock): OperatorFunction<T, T> =>
  (source) =>
    new Observable<T>((subscriber) => {
      const started = time.now()
      const ticket = breaker.request(started)
      if (ticket === undefined) {
        subscriber.error(openError())
        return
      }
      source.subscribe(new Guarded(subscriber, breaker, time, ticket, started))
    })
