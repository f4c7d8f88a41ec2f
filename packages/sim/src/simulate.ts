import type { Admitted, BreakerEvent, CircuitState, Strategy } from '@datapunk/breaker'
import { normal, seeded } from './Random.js'
import { arrivals, healthAt, latencyOf, type Scenario, strainAt } from './Scenario.js'

/** One time bucket of a run, for charts. */
export interface Bucket {
  readonly requests: number
  readonly admitted: number
  readonly failed: number
  /** The phase at the end of the bucket. */
  readonly phase: CircuitState
  /** Whether the upstream was collapsed or down at the end of the bucket. */
  readonly upstreamDown: boolean
}

/** What one strategy did to callers and to the upstream. */
export interface RunSummary {
  readonly strategy: string
  readonly requests: number
  readonly admitted: number
  readonly succeeded: number
  /** Share of all requests that got a successful response. */
  readonly successRate: number
  /** Calls sent into the upstream that failed. */
  readonly wasted: number
  /** Requests rejected while the upstream was healthy. */
  readonly needless: number
  /** From the incident to the first trip, or null if it never tripped. */
  readonly timeToDetectMs: number | null
  /**
   * From the upstream's recovery to the moment the strategy went back to admitting every request
   * for good (the request after its last rejection; the recovery itself if it rejected none
   * since), or null if it still rejects at the end (open, or a ramp below 100%).
   */
  readonly timeToFullMs: number | null
  readonly opens: number
  readonly closes: number
  /** Closes that were followed by another trip: open/close cycles. */
  readonly oscillations: number
  /** Times a fragile upstream collapsed again under the traffic let through. */
  readonly collapses: number
  /** The most requests per second the upstream got in any second after its recovery began. */
  readonly peakRecoveryRps: number
}

export interface Run {
  readonly summary: RunSummary
  readonly buckets: ReadonlyArray<Bucket>
  readonly bucketMs: number
}

/** Options of {@link simulate}. */
export interface SimulateOptions {
  readonly seed: number
  /** Width of a chart bucket. Default: the duration / 60. */
  readonly bucketMs?: number
}

interface Pending {
  readonly at: number
  readonly ticket: Admitted
  readonly failed: boolean
  readonly latencyMs: number
}

/** A binary min-heap of pending outcomes by time (ties in insertion order, for determinism). */
class Outcomes {
  private readonly items: Array<{ pending: Pending; order: number }> = []
  private order = 0
  get size(): number {
    return this.items.length
  }
  peekAt(): number {
    return this.items[0]?.pending.at ?? Number.POSITIVE_INFINITY
  }
  push(pending: Pending): void {
    const items = this.items
    items.push({ pending, order: this.order++ })
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.less(i, parent)) break
      this.swap(i, parent)
      i = parent
    }
  }
  pop(): Pending | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (top === undefined || last === undefined) return undefined
    if (items.length > 0) {
      items[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let smallest = i
        if (l < items.length && this.less(l, smallest)) smallest = l
        if (r < items.length && this.less(r, smallest)) smallest = r
        if (smallest === i) break
        this.swap(i, smallest)
        i = smallest
      }
    }
    return top.pending
  }
  private less(a: number, b: number): boolean {
    const x = this.items[a]
    const y = this.items[b]
    if (x === undefined || y === undefined) return false
    return x.pending.at < y.pending.at || (x.pending.at === y.pending.at && x.order < y.order)
  }
  private swap(a: number, b: number): void {
    const x = this.items[a]
    const y = this.items[b]
    if (x === undefined || y === undefined) return
    this.items[a] = y
    this.items[b] = x
  }
}

const REQUESTED: BreakerEvent = { _tag: 'CallRequested' }

/**
 * Runs each strategy through the same scenario and the same random draws (arrivals, failure
 * draws, latency draws are taken once from `seed`, so strategies differ only by what they do).
 * Deterministic: same scenario, strategies and seed, same result.
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { scenarios, simulate } from '@datapunk/breaker-sim'
 * const strategy = circuit({ name: 'classic', trip: { kind: 'consecutive-failures', threshold: 5 }, openFor: { kind: 'constant', ms: 5000 } })
 * const [run] = simulate(scenarios.outage, [strategy], { seed: 1 })
 * run?.summary.timeToDetectMs !== null // true
 */
export const simulate = (
  scenario: Scenario,
  strategies: ReadonlyArray<Strategy<unknown>>,
  options: SimulateOptions,
): ReadonlyArray<Run> => {
  const random = seeded(options.seed)
  const times = arrivals(scenario.load, scenario.durationMs, random)
  const failureDraws = new Float64Array(times.length)
  const latencyDraws = new Float64Array(times.length)
  for (let i = 0; i < times.length; i++) {
    failureDraws[i] = random()
    latencyDraws[i] = normal(random)
  }
  const bucketMs = options.bucketMs ?? Math.max(1, Math.round(scenario.durationMs / 60))
  return strategies.map((strategy) => runOne(scenario, strategy, times, failureDraws, latencyDraws, bucketMs))
}

const runOne = <S>(
  scenario: Scenario,
  strategy: Strategy<S>,
  times: Float64Array,
  failureDraws: Float64Array,
  latencyDraws: Float64Array,
  bucketMs: number,
): Run => {
  let state: S = strategy.initial(0)
  // The phase, read through the public interface: `inspect` only when the strategy says something a watcher sees changed.
  let phase: CircuitState = strategy.inspect(state).state
  const pending = new Outcomes()
  const bucketCount = Math.ceil(scenario.durationMs / bucketMs)
  const requests = new Array<number>(bucketCount).fill(0)
  const admittedIn = new Array<number>(bucketCount).fill(0)
  const failedIn = new Array<number>(bucketCount).fill(0)
  const phaseAt = new Array<CircuitState>(bucketCount).fill('closed')
  const downAt = new Array<boolean>(bucketCount).fill(false)
  let admitted = 0
  let succeeded = 0
  let wasted = 0
  let needless = 0
  let opens = 0
  let closes = 0
  let firstTripAt: number | null = null
  // The first request admitted after the last rejection: where full traffic resumed.
  let lastRejectAt: number | null = null
  let fullFrom: number | null = null

  // The fragile upstream: admitted calls per 100 ms over the last second, and its collapse state.
  const fragility = scenario.fragility
  const loadRing = new Array<number>(10).fill(0)
  let loadSlot = -1
  let loadInSecond = 0
  let collapsedUntil = -1
  let settleStart = fragility?.fromMs ?? 0
  let settled = fragility === undefined
  let collapses = 0
  let peakRecoveryRps = 0
  const recoveryLoad = new Map<number, number>()

  const upstreamDown = (t: number): boolean => t < collapsedUntil

  const apply = (event: BreakerEvent, t: number) => {
    const before = phase
    const [next, decision] = strategy.step(state, event, t)
    if (next !== state && (strategy.transitioned === undefined || strategy.transitioned(state, next))) phase = strategy.inspect(next).state
    if (phase !== before) {
      if (phase === 'open') {
        opens++
        if (firstTripAt === null && t >= scenario.incidentAtMs) firstTripAt = t
      }
      if (phase === 'closed' && before !== 'closed') closes++
    }
    state = next
    return decision
  }

  const settleDue = (t: number) => {
    while (pending.size > 0 && pending.peekAt() <= t) {
      const outcome = pending.pop()
      if (outcome === undefined) break
      apply(
        outcome.failed
          ? { _tag: 'CallFailed', ticket: outcome.ticket, latencyMs: outcome.latencyMs }
          : { _tag: 'CallSucceeded', ticket: outcome.ticket, latencyMs: outcome.latencyMs },
        outcome.at,
      )
    }
  }

  for (let i = 0; i < times.length; i++) {
    const t = times[i] ?? 0
    settleDue(t)
    const bucket = Math.min(bucketCount - 1, Math.floor(t / bucketMs))
    requests[bucket] = (requests[bucket] ?? 0) + 1
    const segment = healthAt(scenario, t)
    const decision = apply(REQUESTED, t)
    if (decision._tag === 'Admitted') {
      admitted++
      admittedIn[bucket] = (admittedIn[bucket] ?? 0) + 1
      if (fragility !== undefined && t >= fragility.fromMs) {
        // Slide the one-second load window to t, then count this call.
        const slot = Math.floor(t / 100)
        if (slot !== loadSlot) {
          for (let s = Math.max(loadSlot + 1, slot - 9); s <= slot; s++) {
            loadInSecond -= loadRing[s % 10] ?? 0
            loadRing[s % 10] = 0
          }
          loadSlot = slot
        }
        loadRing[slot % 10] = (loadRing[slot % 10] ?? 0) + 1
        loadInSecond++
        if (!settled && !upstreamDown(t)) {
          if (loadInSecond > fragility.capacityRps) {
            collapses++
            collapsedUntil = t + fragility.collapseMs
            settleStart = collapsedUntil
          } else if (t - settleStart >= fragility.settleMs) settled = true
        }
      }
      if (t >= scenario.recoveredAtMs) {
        const second = Math.floor(t / 1000)
        recoveryLoad.set(second, (recoveryLoad.get(second) ?? 0) + 1)
      }
      if (lastRejectAt !== null && fullFrom === null) fullFrom = t
      const down = upstreamDown(t)
      // A strained fragile upstream fails on its own draw as well as the segment's.
      const strain = fragility !== undefined && !settled && !down && t >= fragility.fromMs ? strainAt(fragility, loadInSecond) : 0
      const draw = failureDraws[i] ?? 1
      const failed = down || draw < segment.failureRate || (strain > 0 && 1 - draw < strain)
      const latencyMs = down ? 5 : latencyOf(segment, latencyDraws[i] ?? 0)
      if (failed) {
        wasted++
        failedIn[bucket] = (failedIn[bucket] ?? 0) + 1
      } else succeeded++
      pending.push({ at: t + latencyMs, ticket: decision, failed, latencyMs })
    } else {
      lastRejectAt = t
      fullFrom = null
    }
    if (
      decision._tag !== 'Admitted' &&
      segment.failureRate < 0.05 &&
      !upstreamDown(t) &&
      (fragility === undefined || settled || t < fragility.fromMs)
    ) {
      needless++
    }
    phaseAt[bucket] = phase
    downAt[bucket] = upstreamDown(t) || segment.failureRate >= 0.5
  }
  settleDue(Number.POSITIVE_INFINITY)
  for (const count of recoveryLoad.values()) peakRecoveryRps = Math.max(peakRecoveryRps, count)

  const closedAtEnd = phase === 'closed'
  const fullAtEnd = closedAtEnd || strategy.inspect(state).admitRate >= 1
  // Back to full: from the first admission after the last rejection (or the recovery itself when
  // nothing was rejected after it) for a strategy that admits everything at the end.
  const fullAt = lastRejectAt === null || lastRejectAt < scenario.recoveredAtMs ? scenario.recoveredAtMs : (fullFrom ?? lastRejectAt)
  const summary: RunSummary = {
    strategy: strategy.name,
    requests: times.length,
    admitted,
    succeeded,
    successRate: times.length === 0 ? 1 : succeeded / times.length,
    wasted,
    needless,
    timeToDetectMs: firstTripAt === null ? null : firstTripAt - scenario.incidentAtMs,
    timeToFullMs:
      fullAtEnd && !(lastRejectAt !== null && lastRejectAt >= scenario.recoveredAtMs && fullFrom === null)
        ? fullAt - scenario.recoveredAtMs
        : null,
    opens,
    closes,
    oscillations: closedAtEnd ? Math.max(0, closes - 1) : closes,
    collapses,
    peakRecoveryRps,
  }
  const buckets: Bucket[] = requests.map((r, b) => ({
    requests: r,
    admitted: admittedIn[b] ?? 0,
    failed: failedIn[b] ?? 0,
    phase: phaseAt[b] ?? 'closed',
    upstreamDown: downAt[b] ?? false,
  }))
  return { summary, buckets, bucketMs }
}
