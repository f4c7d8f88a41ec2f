import { type HealthSegment, type Scenario, shedAt, strainAt } from './Scenario.js'

const HEALTHY: HealthSegment = { atMs: 0, failureRate: 0.002, latencyMs: { median: 40, p99: 150 } }

/**
 * The simulated upstream during one run, moved forward request by request (arrivals come in time
 * order): the health segment in force, the calls it got over the last second (kept per 100 ms,
 * where anything depends on load: a fragile upstream, a segment with a capacity, the oracle), and
 * a fragile upstream's collapses. It knows the truth no breaker sees; a run asks it what each call
 * does and what a rejected one would have done.
 */
export class Upstream {
  private readonly segments: ReadonlyArray<HealthSegment>
  /** Each segment's log-normal sigma, from its median and p99 (computed once). */
  private readonly sigmas: ReadonlyArray<number>
  private readonly fragility: Scenario['fragility']
  private readonly tracksLoad: boolean
  private segmentIndex = 0
  /** The segment in force at the last `advance`. */
  segment: HealthSegment
  private sigma: number
  private readonly loadRing = new Array<number>(10).fill(0)
  private loadSlot = -1
  /** Calls admitted over the last second, up to the last `advance` and the calls carried since. */
  loadInSecond = 0
  private collapsedUntil = -1
  private settleStart: number
  private settled: boolean
  /** Times a fragile upstream collapsed under the traffic let through. */
  collapses = 0
  /** Whether the last call (see {@link call}) failed. */
  failed = false

  constructor(scenario: Scenario, oracle: boolean) {
    this.segments = scenario.health
    this.sigmas = this.segments.map((segment) => Math.log(segment.latencyMs.p99 / segment.latencyMs.median) / 2.326)
    this.fragility = scenario.fragility
    this.tracksLoad = this.fragility !== undefined || oracle || this.segments.some((segment) => segment.capacityRps !== undefined)
    this.segment = this.segments[0] ?? HEALTHY
    this.sigma = this.sigmas[0] ?? 0
    this.settleStart = this.fragility?.fromMs ?? 0
    this.settled = this.fragility === undefined
  }

  /** Moves to `t`: the segment in force (it only moves forward) and the one-second load window. */
  advance(t: number): void {
    const segments = this.segments
    while (this.segmentIndex + 1 < segments.length && (segments[this.segmentIndex + 1]?.atMs ?? Number.POSITIVE_INFINITY) <= t)
      this.segmentIndex++
    this.segment = segments[this.segmentIndex] ?? HEALTHY
    this.sigma = this.sigmas[this.segmentIndex] ?? 0
    if (!this.tracksLoad) return
    const slot = Math.floor(t / 100)
    if (slot !== this.loadSlot) {
      for (let s = Math.max(this.loadSlot + 1, slot - 9); s <= slot; s++) {
        this.loadInSecond -= this.loadRing[s % 10] ?? 0
        this.loadRing[s % 10] = 0
      }
      this.loadSlot = slot
    }
  }

  /** Whether it is collapsed (down) at `t`. */
  down(t: number): boolean {
    return t < this.collapsedUntil
  }

  /** Whether it is down at `t` or fails at least half of its calls (a chart's "upstream down"). */
  looksDown(t: number): boolean {
    return this.down(t) || this.segment.failureRate >= 0.5
  }

  /** Whether a fragile upstream is still fragile at `t` (recovering and not yet settled). */
  fragileAt(t: number): boolean {
    return this.fragility !== undefined && !this.settled && t >= this.fragility.fromMs
  }

  /**
   * The oracle's rule (see `simulateWithOracle`): admit while the upstream is up, could serve the
   * call, and stays within its capacities once this call counts.
   */
  oracleAdmits(t: number, fragileNow: boolean): boolean {
    const load = this.loadInSecond
    const segment = this.segment
    return (
      !this.down(t) &&
      segment.failureRate < 1 &&
      (!fragileNow || this.fragility === undefined || load + 1 <= this.fragility.capacityRps) &&
      (segment.capacityRps === undefined || load + 1 <= segment.capacityRps)
    )
  }

  /**
   * Takes the call admitted at `t` as load; a fragile upstream (`fragileNow`: fragile before this
   * call) collapses when the last second's calls pass its capacity, or settles after long enough
   * without collapsing.
   */
  carry(t: number, fragileNow: boolean): void {
    if (this.tracksLoad) {
      this.loadRing[this.loadSlot % 10] = (this.loadRing[this.loadSlot % 10] ?? 0) + 1
      this.loadInSecond++
    }
    const fragility = this.fragility
    if (fragility === undefined || !fragileNow || this.down(t)) return
    if (this.loadInSecond > fragility.capacityRps) {
      this.collapses++
      this.collapsedUntil = t + fragility.collapseMs
      this.settleStart = this.collapsedUntil
    } else if (t - this.settleStart >= fragility.settleMs) this.settled = true
  }

  /**
   * The call carried at `t`, with its outcome draw and latency draw: returns its latency and sets
   * {@link failed}. A strained fragile upstream, or one over its capacity, fails on the draw's other
   * end as well as the segment's; a collapsed upstream answers at once, a hung one at its failure
   * latency; otherwise log-normal with the segment's median and p99.
   */
  call(t: number, draw: number, latencyDraw: number): number {
    const segment = this.segment
    const down = this.down(t)
    const overload = down ? 0 : this.strainOrShed(this.fragileAt(t), this.loadInSecond)
    const failedBySegment = draw < segment.failureRate
    this.failed = down || failedBySegment || (overload > 0 && 1 - draw < overload)
    return down
      ? 5
      : failedBySegment && segment.failureLatencyMs !== undefined
        ? segment.failureLatencyMs
        : segment.latencyMs.median * Math.exp(this.sigma * latencyDraw)
  }

  /** The counterfactual for a request rejected at `t`: had it been admitted (one more call of load), would it have succeeded? */
  wouldServe(t: number, fragileNow: boolean, draw: number): boolean {
    if (this.down(t)) return false
    const load = this.loadInSecond + 1
    const overload = this.strainOrShed(fragileNow, load)
    return (
      !(fragileNow && load > (this.fragility?.capacityRps ?? 0)) &&
      draw >= this.segment.failureRate &&
      !(overload > 0 && 1 - draw < overload)
    )
  }

  /** The extra failure probability at `load` calls over the last second: a fragile upstream's strain, a segment's shedding. */
  private strainOrShed(fragileNow: boolean, load: number): number {
    const strain = fragileNow && this.fragility !== undefined ? strainAt(this.fragility, load) : 0
    const shed = shedAt(this.segment.capacityRps, load)
    return Math.max(strain, shed)
  }
}
