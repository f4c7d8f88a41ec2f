/**
 * Hand-written mutable twins of the library strategies: what one would write without purity.
 * Same input and output as `strategy.step` (events in, decisions out, a ticket per call with its
 * generation and id, outcomes checked against the ids issued and the calls in flight, shared
 * decision objects where the value repeats), same semantics on the benchmark workloads
 * (thresholds, windows, admission credit), but the state lives in mutable fields and typed
 * arrays updated in place. They are the yardstick of `pnpm bench:core`: what does purity cost?
 */
import type { BreakerEvent, Decision } from '@datapunk/breaker'

/** The interface both sides of the benchmark present: one step, state kept inside. */
export interface Stepper {
  step(event: BreakerEvent, now: number): Decision
}

const RECORDED: Decision = { _tag: 'Recorded' }
const STALE: Decision = { _tag: 'Ignored', reason: 'stale' }
const UNKNOWN: Decision = { _tag: 'Ignored', reason: 'unknown-ticket' }
const FULL: Decision = { _tag: 'Rejected', reason: 'half-open-full', retryAfterMs: null }

const CLOSED = 0
const OPEN = 1
const HALF_OPEN = 2

/** Shared plumbing: phase, generation, cached admissions, open-state rejections. */
abstract class MutableBreaker implements Stepper {
  protected phase = CLOSED
  protected generation = 0
  protected openUntil = 0
  private issued = 0
  private inFlight = 0

  constructor(protected readonly openMs: number) {}

  protected admitted(probe: boolean): Decision {
    this.inFlight++
    return { _tag: 'Admitted', generation: this.generation, id: this.issued++, probe }
  }

  private newGeneration(): void {
    this.generation++
    this.issued = 0
    this.inFlight = 0
  }

  protected trip(now: number): void {
    this.phase = OPEN
    this.newGeneration()
    this.openUntil = now + this.openMs
  }

  step(event: BreakerEvent, now: number): Decision {
    switch (event._tag) {
      case 'CallRequested':
        if (this.phase === CLOSED) return this.admitted(false)
        if (this.phase === OPEN) {
          if (now < this.openUntil) return { _tag: 'Rejected', reason: 'open', retryAfterMs: this.openUntil - now }
          this.phase = HALF_OPEN
          this.newGeneration()
          this.halfOpened(now)
        }
        return this.probe(now)
      case 'CallSucceeded':
      case 'CallFailed':
        if (event.ticket.generation !== this.generation) return STALE
        if (event.ticket.id >= this.issued || this.inFlight === 0) return UNKNOWN
        this.inFlight--
        if (this.phase === CLOSED) this.record(event._tag === 'CallFailed', event.latencyMs, now)
        else this.probeSettled(event._tag === 'CallFailed', now)
        return RECORDED
      default:
        return RECORDED
    }
  }

  protected abstract record(failed: boolean, latencyMs: number, now: number): void
  protected halfOpened(_now: number): void {}
  protected probe(_now: number): Decision {
    return FULL
  }
  protected probeSettled(_failed: boolean, _now: number): void {}
}

/** Consecutive failures with classic half-open (1 probe). */
export class MutableConsecutive extends MutableBreaker {
  private consecutive = 0
  private probeInFlight = false
  constructor(
    private readonly threshold: number,
    openMs: number,
  ) {
    super(openMs)
  }
  protected record(failed: boolean, _latencyMs: number, now: number): void {
    if (!failed) this.consecutive = 0
    else if (++this.consecutive >= this.threshold) this.trip(now)
  }
  protected override halfOpened(): void {
    this.probeInFlight = false
  }
  protected override probe(): Decision {
    if (this.probeInFlight) return FULL
    this.probeInFlight = true
    return this.admitted(true)
  }
}

/** Failure rate (or slow-call rate) over the last `size` calls, exact, in a ring of bytes. */
export class MutableCountWindowRate extends MutableBreaker {
  private readonly ring: Uint8Array
  private next = 0
  private calls = 0
  private failures = 0
  private slow = 0
  constructor(
    private readonly size: number,
    private readonly threshold: number,
    private readonly minimumCalls: number,
    private readonly slowCallMs: number,
    private readonly watchSlow: boolean,
    openMs: number,
  ) {
    super(openMs)
    this.ring = new Uint8Array(size)
  }
  protected record(failed: boolean, latencyMs: number, now: number): void {
    const code = (failed ? 1 : 0) | (latencyMs >= this.slowCallMs ? 2 : 0)
    if (this.calls === this.size) {
      const old = this.ring[this.next] ?? 0
      this.failures -= old & 1
      this.slow -= old >> 1
    } else this.calls++
    this.ring[this.next] = code
    this.failures += code & 1
    this.slow += code >> 1
    this.next = this.next + 1 === this.size ? 0 : this.next + 1
    const bad = this.watchSlow ? this.slow : this.failures
    if (this.calls >= this.minimumCalls && bad / this.calls >= this.threshold) this.trip(now)
  }
}

/** Failure rate (or absolute failure count) over the last `durationMs`, in buckets rotated lazily. */
export class MutableTimeWindow extends MutableBreaker {
  private readonly callsIn: Float64Array
  private readonly failuresIn: Float64Array
  private epoch = 0
  private calls = 0
  private failures = 0
  private readonly bucketMs: number
  constructor(
    durationMs: number,
    private readonly buckets: number,
    private readonly tripped: (calls: number, failures: number) => boolean,
    openMs: number,
  ) {
    super(openMs)
    this.callsIn = new Float64Array(buckets)
    this.failuresIn = new Float64Array(buckets)
    this.bucketMs = durationMs / buckets
  }
  protected record(failed: boolean, _latencyMs: number, now: number): void {
    const epoch = Math.floor(now / this.bucketMs)
    if (epoch > this.epoch) {
      const last = Math.min(epoch, this.epoch + this.buckets)
      for (let e = this.epoch + 1; e <= last; e++) {
        const at = e % this.buckets
        this.calls -= this.callsIn[at] ?? 0
        this.failures -= this.failuresIn[at] ?? 0
        this.callsIn[at] = 0
        this.failuresIn[at] = 0
      }
      this.epoch = epoch
    }
    const at = this.epoch % this.buckets
    this.callsIn[at] = (this.callsIn[at] ?? 0) + 1
    this.calls++
    if (failed) {
      this.failuresIn[at] = (this.failuresIn[at] ?? 0) + 1
      this.failures++
    }
    if (this.tripped(this.calls, this.failures)) this.trip(now)
  }
}

/** Gradual recovery's admission credit, holding one long stage at a fixed rate. */
export class MutableGradualStage extends MutableBreaker {
  private credit = 0
  private probesInFlight = 0
  private requests = 0
  private stageRequests = 0
  private stageAdmitted = 0
  private stageCalls = 0
  private stageFailures = 0
  private startedAt = 0
  constructor(
    private readonly ratePpm: number,
    private readonly stageLength: number,
    private readonly failureRateThreshold: number,
  ) {
    super(0)
  }
  /** Puts the twin in the state the benchmark starts the pure strategy in: half-open, generation 2. */
  startHalfOpen(now: number): this {
    this.phase = HALF_OPEN
    this.generation = 2
    this.halfOpened(now)
    return this
  }
  protected record(): void {}
  protected override halfOpened(now: number): void {
    this.credit = 1_000_000 - this.ratePpm
    this.startedAt = now
  }
  protected override probe(now: number): Decision {
    this.requests++
    this.stageRequests++
    this.credit += this.ratePpm
    if (this.credit < 1_000_000) {
      const interval = now > this.startedAt && this.requests > 1 ? (now - this.startedAt) / (this.requests - 1) : null
      const until = Math.ceil((1_000_000 - this.credit) / this.ratePpm)
      return { _tag: 'Rejected', reason: 'throttled', retryAfterMs: interval === null ? null : Math.ceil(until * interval) }
    }
    this.credit -= 1_000_000
    this.probesInFlight++
    this.stageAdmitted++
    return this.admitted(true)
  }
  protected override probeSettled(failed: boolean, now: number): void {
    if (this.probesInFlight === 0) return
    this.probesInFlight--
    this.stageCalls++
    if (failed) this.stageFailures++
    // Judge the stage as the pure strategy does (the benchmark's stage never ends).
    if (this.stageFailures / this.stageLength >= this.failureRateThreshold) this.trip(now)
    else if (this.stageCalls >= this.stageLength && this.stageAdmitted <= this.stageRequests) {
      this.stageCalls = this.stageFailures = this.stageAdmitted = this.stageRequests = 0
    }
  }
}

/** The state of {@link pureTimeWindow}: plain data, a new object per step. */
interface PureWindowState {
  readonly open: boolean
  readonly generation: number
  readonly issued: number
  readonly inFlight: number
  readonly epoch: number
  readonly calls: number
  readonly failures: number
  readonly headCalls: number
  readonly headFailures: number
  /** `[calls, failures]` per bucket but the newest (whose counts are `head*`): copied only when a bucket rotates. */
  readonly ring: ReadonlyArray<number>
}

/**
 * {@link MutableTimeWindow} written as a pure reducer, as lean as one can be: `(state, event, now)
 * => [state, decision]`, a new state object per step, arrays copied only when a bucket rotates,
 * the same decisions (a ticket per call, outcomes checked against the ids issued). No generality
 * (no parts, no validation of the clock, no modes): what purity alone costs over the mutable twin.
 */
export const pureTimeWindow = (
  durationMs: number,
  buckets: number,
  tripped: (calls: number, failures: number) => boolean,
): {
  readonly initial: PureWindowState
  readonly step: (s: PureWindowState, event: BreakerEvent, now: number) => readonly [PureWindowState, Decision]
} => {
  const bucketMs = durationMs / buckets
  const initial: PureWindowState = {
    open: false,
    generation: 0,
    issued: 0,
    inFlight: 0,
    epoch: 0,
    calls: 0,
    failures: 0,
    headCalls: 0,
    headFailures: 0,
    ring: new Array<number>(buckets * 2).fill(0),
  }
  const state = (
    s: PureWindowState,
    issued: number,
    inFlight: number,
    epoch: number,
    calls: number,
    failures: number,
    headCalls: number,
    headFailures: number,
    ring: ReadonlyArray<number>,
    open = s.open,
  ): PureWindowState => ({
    open,
    generation: s.generation,
    issued,
    inFlight,
    epoch,
    calls,
    failures,
    headCalls,
    headFailures,
    ring,
  })
  const step = (s: PureWindowState, event: BreakerEvent, now: number): readonly [PureWindowState, Decision] => {
    switch (event._tag) {
      case 'CallRequested':
        if (s.open) return [s, { _tag: 'Rejected', reason: 'open', retryAfterMs: null }]
        return [
          state(s, s.issued + 1, s.inFlight + 1, s.epoch, s.calls, s.failures, s.headCalls, s.headFailures, s.ring),
          { _tag: 'Admitted', generation: s.generation, id: s.issued, probe: false },
        ]
      case 'CallSucceeded':
      case 'CallFailed': {
        if (event.ticket.generation !== s.generation) return [s, STALE]
        if (event.ticket.id >= s.issued || s.inFlight === 0) return [s, UNKNOWN]
        const f = event._tag === 'CallFailed' ? 1 : 0
        const epoch = Math.floor(now / bucketMs)
        let next: PureWindowState
        if (epoch > s.epoch) {
          const ring = s.ring.slice()
          ring[(s.epoch % buckets) * 2] = s.headCalls
          ring[(s.epoch % buckets) * 2 + 1] = s.headFailures
          let { calls, failures } = s
          for (let e = s.epoch + 1; e <= Math.min(epoch, s.epoch + buckets); e++) {
            const at = (e % buckets) * 2
            calls -= ring[at] ?? 0
            failures -= ring[at + 1] ?? 0
            ring[at] = 0
            ring[at + 1] = 0
          }
          next = state(s, s.issued, s.inFlight - 1, epoch, calls + 1, failures + f, 1, f, ring)
        } else {
          next = state(s, s.issued, s.inFlight - 1, s.epoch, s.calls + 1, s.failures + f, s.headCalls + 1, s.headFailures + f, s.ring)
        }
        return [tripped(next.calls, next.failures) ? { ...next, open: true } : next, RECORDED]
      }
      default:
        return [s, RECORDED]
    }
  }
  return { initial, step }
}

/** The state of {@link pureGradualStage}: plain data, a new object per step. */
interface PureGradualState {
  readonly open: boolean
  readonly generation: number
  readonly issued: number
  readonly inFlight: number
  readonly credit: number
  readonly requests: number
  readonly startedAt: number
  readonly stageRequests: number
  readonly stageAdmitted: number
  readonly stageCalls: number
  readonly stageFailures: number
}

/**
 * {@link MutableGradualStage} (half-open, one gradual stage) written as a pure reducer, as lean as
 * one can be: a new state object per step, the same decisions (admission by credit, a
 * `throttled` rejection with its retry-after, a ticket per probe checked against the ids issued,
 * the stage judged as the twin judges it) until it trips; then it stays open (the twin, open for
 * 0 ms, starts a new recovery; the benchmark's stage never trips). No generality (no parts, no
 * baseline, no clock checks): what purity alone costs over the mutable twin, as
 * {@link pureTimeWindow} shows for the closed path.
 */
export const pureGradualStage = (
  ratePpm: number,
  stageLength: number,
  failureRateThreshold: number,
  now: number,
): {
  readonly initial: PureGradualState
  readonly step: (s: PureGradualState, event: BreakerEvent, now: number) => readonly [PureGradualState, Decision]
} => {
  const initial: PureGradualState = {
    open: false,
    generation: 2,
    issued: 0,
    inFlight: 0,
    credit: 1_000_000 - ratePpm,
    requests: 0,
    startedAt: now,
    stageRequests: 0,
    stageAdmitted: 0,
    stageCalls: 0,
    stageFailures: 0,
  }
  const state = (
    s: PureGradualState,
    issued: number,
    inFlight: number,
    credit: number,
    requests: number,
    stageRequests: number,
    stageAdmitted: number,
    stageCalls: number,
    stageFailures: number,
  ): PureGradualState => ({
    open: s.open,
    generation: s.generation,
    issued,
    inFlight,
    credit,
    requests,
    startedAt: s.startedAt,
    stageRequests,
    stageAdmitted,
    stageCalls,
    stageFailures,
  })
  const step = (s: PureGradualState, event: BreakerEvent, at: number): readonly [PureGradualState, Decision] => {
    switch (event._tag) {
      case 'CallRequested': {
        if (s.open) return [s, { _tag: 'Rejected', reason: 'open', retryAfterMs: null }]
        const requests = s.requests + 1
        const credit = s.credit + ratePpm
        if (credit < 1_000_000) {
          const interval = at > s.startedAt && requests > 1 ? (at - s.startedAt) / (requests - 1) : null
          const until = Math.ceil((1_000_000 - credit) / ratePpm)
          return [
            state(s, s.issued, s.inFlight, credit, requests, s.stageRequests + 1, s.stageAdmitted, s.stageCalls, s.stageFailures),
            { _tag: 'Rejected', reason: 'throttled', retryAfterMs: interval === null ? null : Math.ceil(until * interval) },
          ]
        }
        return [
          state(
            s,
            s.issued + 1,
            s.inFlight + 1,
            credit - 1_000_000,
            requests,
            s.stageRequests + 1,
            s.stageAdmitted + 1,
            s.stageCalls,
            s.stageFailures,
          ),
          { _tag: 'Admitted', generation: s.generation, id: s.issued, probe: true },
        ]
      }
      case 'CallSucceeded':
      case 'CallFailed': {
        if (event.ticket.generation !== s.generation) return [s, STALE]
        if (event.ticket.id >= s.issued || s.inFlight === 0) return [s, UNKNOWN]
        const stageCalls = s.stageCalls + 1
        const stageFailures = s.stageFailures + (event._tag === 'CallFailed' ? 1 : 0)
        if (stageFailures / stageLength >= failureRateThreshold) return [{ ...s, open: true, inFlight: 0 }, RECORDED]
        if (stageCalls >= stageLength && s.stageAdmitted <= s.stageRequests) {
          return [state(s, s.issued, s.inFlight - 1, s.credit, s.requests, 0, 0, 0, 0), RECORDED]
        }
        return [
          state(s, s.issued, s.inFlight - 1, s.credit, s.requests, s.stageRequests, s.stageAdmitted, stageCalls, stageFailures),
          RECORDED,
        ]
      }
      default:
        return [s, RECORDED]
    }
  }
  return { initial, step }
}
