import type { BreakerEvent, CircuitState, Decision, Strategy } from '@datapunk/breaker'
import type { Bucket, Run, RunSummary } from './Run.js'
import type { Scenario } from './Scenario.js'
import type { Upstream } from './Upstream.js'

/**
 * A strategy driven through a run: its state, and its phase read through the public interface
 * (`inspect` only when the strategy says something a watcher sees changed), with the trips and
 * closes that phase went through.
 */
export class Driven<S> {
  private state: S
  phase: CircuitState
  opens = 0
  closes = 0
  /** The first trip at or after the incident, or null. */
  firstTripAt: number | null = null

  constructor(
    readonly strategy: Strategy<S>,
    private readonly incidentAtMs: number,
  ) {
    this.state = strategy.initial(0)
    this.phase = strategy.inspect(this.state).state
  }

  /** Steps the strategy with `event` at `t`; returns its decision. */
  apply(event: BreakerEvent, t: number): Decision {
    const strategy = this.strategy
    const before = this.phase
    const current = this.state
    const [next, decision] = strategy.step(current, event, t)
    if (next !== current && (strategy.transitioned === undefined || strategy.transitioned(current, next)))
      this.phase = strategy.inspect(next).state
    if (this.phase !== before) {
      if (this.phase === 'open') {
        this.opens++
        if (this.firstTripAt === null && t >= this.incidentAtMs) this.firstTripAt = t
      }
      if (this.phase === 'closed' && before !== 'closed') this.closes++
    }
    this.state = next
    return decision
  }

  /** Whether it admits every request now (closed, or a ramp at 100%). */
  admitsAll(): boolean {
    return this.phase === 'closed' || this.strategy.inspect(this.state).admitRate >= 1
  }
}

/** What one run counts, request by request: the totals of its summary and its chart buckets. */
export class RunTally {
  private readonly requests: number[]
  private readonly admittedIn: number[]
  private readonly failedIn: number[]
  private readonly latencyIn: number[]
  private readonly phaseAt: CircuitState[]
  private readonly downAt: boolean[]
  private admitted = 0
  private succeeded = 0
  private wasted = 0
  private needless = 0
  private callerMsLost = 0
  private lastRejectAt: number | null = null
  private firstShedAt: number | null = null
  /** The first request admitted after the last rejection: where full traffic resumed. */
  private fullFrom: number | null = null
  /** Calls admitted per second from the upstream's recovery on. */
  private readonly recoveryLoad = new Map<number, number>()

  constructor(
    private readonly scenario: Scenario,
    readonly bucketCount: number,
  ) {
    this.requests = new Array<number>(bucketCount).fill(0)
    this.admittedIn = new Array<number>(bucketCount).fill(0)
    this.failedIn = new Array<number>(bucketCount).fill(0)
    this.latencyIn = new Array<number>(bucketCount).fill(0)
    this.phaseAt = new Array<CircuitState>(bucketCount).fill('closed')
    this.downAt = new Array<boolean>(bucketCount).fill(false)
  }

  requested(bucket: number): void {
    this.requests[bucket] = (this.requests[bucket] ?? 0) + 1
  }

  /** A request admitted at `t`, whose call failed or not after `latencyMs`. */
  served(t: number, bucket: number, failed: boolean, latencyMs: number): void {
    this.admitted++
    this.admittedIn[bucket] = (this.admittedIn[bucket] ?? 0) + 1
    this.latencyIn[bucket] = (this.latencyIn[bucket] ?? 0) + latencyMs
    if (t >= this.scenario.recoveredAtMs) {
      const second = Math.floor(t / 1000)
      this.recoveryLoad.set(second, (this.recoveryLoad.get(second) ?? 0) + 1)
    }
    if (this.lastRejectAt !== null && this.fullFrom === null) this.fullFrom = t
    if (failed) {
      this.wasted++
      this.callerMsLost += latencyMs
      this.failedIn[bucket] = (this.failedIn[bucket] ?? 0) + 1
    } else this.succeeded++
  }

  /** A request rejected at `t`; `needless` if it would have succeeded. */
  rejected(t: number, needless: boolean): void {
    this.lastRejectAt = t
    this.fullFrom = null
    if (this.firstShedAt === null && t >= this.scenario.incidentAtMs) this.firstShedAt = t
    if (needless) this.needless++
  }

  /** What a bucket's chart shows at its end: the phase, and whether the upstream was down. */
  mark(bucket: number, phase: CircuitState, down: boolean): void {
    this.phaseAt[bucket] = phase
    this.downAt[bucket] = down
  }

  /** The run, once every request is counted: `driven` is the strategy's (null: the oracle's run). */
  run(name: string, driven: Driven<unknown> | null, upstream: Upstream, bucketMs: number): Run {
    const scenario = this.scenario
    const total = this.requests.reduce((a, b) => a + b, 0)
    let peakRecoveryRps = 0
    for (const count of this.recoveryLoad.values()) peakRecoveryRps = Math.max(peakRecoveryRps, count)
    const opens = driven?.opens ?? 0
    const closes = driven?.closes ?? 0
    const closedAtEnd = driven === null || driven.phase === 'closed'
    // When the upstream's true failure rate first reached 50% (after the incident began).
    const halfFailing = scenario.health.find((segment) => segment.failureRate >= 0.5 && segment.atMs >= scenario.incidentAtMs)
    const fullAtEnd = driven === null || driven.admitsAll()
    const { lastRejectAt, fullFrom, firstShedAt } = this
    // Back to full: from the first admission after the last rejection (or the recovery itself when
    // nothing was rejected after it) for a strategy that admits everything at the end.
    const fullAt = lastRejectAt === null || lastRejectAt < scenario.recoveredAtMs ? scenario.recoveredAtMs : (fullFrom ?? lastRejectAt)
    const firstTripAt = driven?.firstTripAt ?? null
    const summary: RunSummary = {
      strategy: name,
      requests: total,
      admitted: this.admitted,
      succeeded: this.succeeded,
      successRate: total === 0 ? 1 : this.succeeded / total,
      wasted: this.wasted,
      needless: this.needless,
      callerSecondsLost: this.callerMsLost / 1000,
      timeToDetectMs: firstTripAt === null ? null : firstTripAt - scenario.incidentAtMs,
      timeToShedMs: firstShedAt === null ? null : firstShedAt - scenario.incidentAtMs,
      leadTimeMs: firstShedAt === null || halfFailing === undefined ? null : halfFailing.atMs - firstShedAt,
      tripsPerDay: (opens * 86_400_000) / scenario.durationMs,
      timeToFullMs:
        fullAtEnd && !(lastRejectAt !== null && lastRejectAt >= scenario.recoveredAtMs && fullFrom === null)
          ? fullAt - scenario.recoveredAtMs
          : null,
      opens,
      closes,
      oscillations: closedAtEnd ? Math.max(0, closes - 1) : closes,
      collapses: upstream.collapses,
      peakRecoveryRps,
    }
    const buckets: Bucket[] = this.requests.map((r, b) => {
      const admitted = this.admittedIn[b] ?? 0
      return {
        requests: r,
        admitted,
        failed: this.failedIn[b] ?? 0,
        phase: this.phaseAt[b] ?? 'closed',
        upstreamDown: this.downAt[b] ?? false,
        latencyMs: admitted === 0 ? null : (this.latencyIn[b] ?? 0) / admitted,
      }
    })
    return { summary, buckets, bucketMs }
  }
}
