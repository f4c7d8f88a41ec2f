import type { Admitted, BreakerEvent, CircuitState, Decision, Strategy } from '@datapunk/breaker'
import { InFlight } from './InFlight.js'
import { normal, seeded } from './Random.js'
import { arrivals, type HealthSegment, type Scenario, shedAt, strainAt } from './Scenario.js'

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
  /**
   * Rejected requests that would have succeeded: each rejected request's own outcome draw (the
   * one it would have used if admitted, the same for every strategy) against the upstream's true
   * state and load at that moment, at any error level. A rejection during a partial failure that
   * would have been served is needless too.
   */
  readonly needless: number
  /** Caller time spent waiting on calls that failed (their latencies, timeouts included), in seconds. */
  readonly callerSecondsLost: number
  /** From the incident to the first trip, or null if it never tripped. */
  readonly timeToDetectMs: number | null
  /** From the incident to the first request rejected after it (a trip, or a throttle), or null if none was. */
  readonly timeToShedMs: number | null
  /**
   * How long before the upstream's true failure rate first reached 50% the strategy first shed
   * load, i.e. rejected a request after the incident began (negative: after it); null if the
   * failure rate never reached 50% or the strategy never rejected anything after the incident.
   */
  readonly leadTimeMs: number | null
  /** Trips (opens) per simulated 24 hours: false trips, on a scenario that never justifies one. */
  readonly tripsPerDay: number
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

/** One policy's run: its summary and its chart buckets. */
export interface Run {
  readonly summary: RunSummary
  readonly buckets: ReadonlyArray<Bucket>
  readonly bucketMs: number
}

/** The name of the oracle's run (see {@link simulateWithOracle}). */
export const ORACLE = 'oracle'

/** Options of {@link simulate}. */
export interface SimulateOptions {
  readonly seed: number
  /** Width of a chart bucket. Default: the duration / 60. */
  readonly bucketMs?: number
}

const HEALTHY: HealthSegment = { atMs: 0, failureRate: 0.002, latencyMs: { median: 40, p99: 150 } }

const REQUESTED: BreakerEvent = { _tag: 'CallRequested' }

/** The ticket the oracle's calls carry (it keeps no state: nothing reads it). */
const ORACLE_TICKET: Admitted = { _tag: 'Admitted', generation: 0, id: 0, probe: false }

/** A chart bucket's width: as given, or the duration / 60. */
const bucketMsOf = (scenario: Scenario, options: SimulateOptions): number =>
  options.bucketMs ?? Math.max(1, Math.round(scenario.durationMs / 60))

/** The draws a run takes from its seed: arrivals, and per request an outcome draw and a latency draw. */
interface Draws {
  readonly times: Float64Array
  readonly failureDraws: Float64Array
  readonly latencyDraws: Float64Array
}

const drawsOf = (scenario: Scenario, seed: number): Draws => {
  const random = seeded(seed)
  const times = arrivals(scenario.load, scenario.durationMs, random)
  const failureDraws = new Float64Array(times.length)
  const latencyDraws = new Float64Array(times.length)
  for (let i = 0; i < times.length; i++) {
    failureDraws[i] = random()
    latencyDraws[i] = normal(random)
  }
  return { times, failureDraws, latencyDraws }
}

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
  const draws = drawsOf(scenario, options.seed)
  const bucketMs = bucketMsOf(scenario, options)
  return strategies.map((strategy) => runOne(scenario, strategy, draws, bucketMs))
}

/**
 * {@link simulate}, plus the run of the oracle on the same draws: a reference policy that knows
 * the upstream's truth. For each request it knows whether the upstream is down (collapsed), its
 * failure probability, its capacity and the load over the last second, but not the request's
 * outcome draw; it admits the request if and only if the upstream is not down, its failure
 * probability is below 1, and admitting keeps the last second's load within every capacity the
 * upstream has (a fragile upstream's collapse capacity while it has not settled, a segment's
 * `capacityRps`). So it never collapses an upstream, never overloads one, never sends a call
 * into a certain failure, and serves every call that has any chance: its successes are the most
 * goodput a breaker can get on these draws (on load-free cells every call a strategy serves, the
 * oracle serves too). A strategy's share of the oracle is its successes over the oracle's.
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { scenarios, simulateWithOracle } from '@datapunk/breaker-sim'
 * const strategy = circuit({ name: 'classic', trip: { kind: 'consecutive-failures', threshold: 5 } })
 * const { runs, oracle } = simulateWithOracle(scenarios.outage, [strategy], { seed: 1 })
 * oracle.summary.wasted < runs[0].summary.wasted // true: it never calls a dead upstream
 */
export const simulateWithOracle = (
  scenario: Scenario,
  strategies: ReadonlyArray<Strategy<unknown>>,
  options: SimulateOptions,
): { readonly runs: ReadonlyArray<Run>; readonly oracle: Run } => {
  const draws = drawsOf(scenario, options.seed)
  const bucketMs = bucketMsOf(scenario, options)
  return {
    runs: strategies.map((strategy) => runOne(scenario, strategy, draws, bucketMs)),
    oracle: runOne(scenario, null, draws, bucketMs),
  }
}

/**
 * The oracle's run alone (see {@link simulateWithOracle}): the same as its `oracle`, for the same scenario and seed.
 *
 * @example
 * import { scenarios, simulateOracle } from '@datapunk/breaker-sim'
 * const run = simulateOracle(scenarios['fragile-recovery'], { seed: 1 })
 * run.summary.collapses // 0
 */
export const simulateOracle = (scenario: Scenario, options: SimulateOptions): Run =>
  runOne(scenario, null, drawsOf(scenario, options.seed), bucketMsOf(scenario, options))

/** Runs `strategy` (or, given null, the oracle) over the draws. */
const runOne = <S>(scenario: Scenario, strategy: Strategy<S> | null, draws: Draws, bucketMs: number): Run => {
  const { times, failureDraws, latencyDraws } = draws
  const oracle = strategy === null
  let state: S | undefined = strategy?.initial(0)
  // The phase, read through the public interface: `inspect` only when the strategy says something a watcher sees changed.
  let phase: CircuitState = strategy === null ? 'closed' : strategy.inspect(state as S).state
  const segments = scenario.health
  const sigmas = segments.map((segment) => Math.log(segment.latencyMs.p99 / segment.latencyMs.median) / 2.326)
  let segmentIndex = 0
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
  let callerMsLost = 0
  let opens = 0
  let closes = 0
  let firstTripAt: number | null = null
  // The first request admitted after the last rejection: where full traffic resumed.
  let lastRejectAt: number | null = null
  let firstShedAt: number | null = null
  let fullFrom: number | null = null

  // The upstream's load: admitted calls per 100 ms over the last second, kept where anything
  // depends on it (a fragile upstream, a segment with a capacity, the oracle's admission).
  const fragility = scenario.fragility
  const tracksLoad = fragility !== undefined || oracle || segments.some((segment) => segment.capacityRps !== undefined)
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

  const apply = (event: BreakerEvent, t: number): Decision => {
    if (strategy === null) return ORACLE_TICKET
    const before = phase
    const current = state as S
    const [next, decision] = strategy.step(current, event, t)
    if (next !== current && (strategy.transitioned === undefined || strategy.transitioned(current, next)))
      phase = strategy.inspect(next).state
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

  const inFlight = new InFlight(oracle ? undefined : apply, strategy?.overdueAfterMs)

  for (let i = 0; i < times.length; i++) {
    const t = times[i] ?? 0
    inFlight.settleDue(t)
    const bucket = Math.min(bucketCount - 1, Math.floor(t / bucketMs))
    requests[bucket] = (requests[bucket] ?? 0) + 1
    // Arrivals come in time order: the segment in force only moves forward.
    while (segmentIndex + 1 < segments.length && (segments[segmentIndex + 1]?.atMs ?? Number.POSITIVE_INFINITY) <= t) segmentIndex++
    const segment = segments[segmentIndex] ?? HEALTHY
    const sigma = sigmas[segmentIndex] ?? 0
    if (tracksLoad) {
      // Slide the one-second load window to t.
      const slot = Math.floor(t / 100)
      if (slot !== loadSlot) {
        for (let s = Math.max(loadSlot + 1, slot - 9); s <= slot; s++) {
          loadInSecond -= loadRing[s % 10] ?? 0
          loadRing[s % 10] = 0
        }
        loadSlot = slot
      }
    }
    const fragileNow = fragility !== undefined && !settled && t >= fragility.fromMs
    const decision = oracle
      ? oracleAdmits(upstreamDown(t), segment, fragileNow ? fragility.capacityRps : undefined, loadInSecond)
        ? ORACLE_TICKET
        : ORACLE_REJECTION
      : apply(REQUESTED, t)
    const draw = failureDraws[i] ?? 1
    if (decision._tag === 'Admitted') {
      admitted++
      admittedIn[bucket] = (admittedIn[bucket] ?? 0) + 1
      if (tracksLoad) {
        loadRing[loadSlot % 10] = (loadRing[loadSlot % 10] ?? 0) + 1
        loadInSecond++
      }
      if (fragileNow && !upstreamDown(t)) {
        if (loadInSecond > fragility.capacityRps) {
          collapses++
          collapsedUntil = t + fragility.collapseMs
          settleStart = collapsedUntil
        } else if (t - settleStart >= fragility.settleMs) settled = true
      }
      if (t >= scenario.recoveredAtMs) {
        const second = Math.floor(t / 1000)
        recoveryLoad.set(second, (recoveryLoad.get(second) ?? 0) + 1)
      }
      if (lastRejectAt !== null && fullFrom === null) fullFrom = t
      const down = upstreamDown(t)
      // A strained fragile upstream, or one over its capacity, fails on the draw's other end as well as the segment's.
      const overload = down
        ? 0
        : strainOrShed(fragility !== undefined && !settled && t >= fragility.fromMs, scenario, segment, loadInSecond)
      const failedBySegment = draw < segment.failureRate
      const failed = down || failedBySegment || (overload > 0 && 1 - draw < overload)
      // Log-normal with the segment's median and p99 (as `latencyOf`, its sigma computed once per
      // segment); a collapsed upstream answers at once, a hung one at its failure latency.
      const latencyMs = down
        ? 5
        : failedBySegment && segment.failureLatencyMs !== undefined
          ? segment.failureLatencyMs
          : segment.latencyMs.median * Math.exp(sigma * (latencyDraws[i] ?? 0))
      if (failed) {
        wasted++
        callerMsLost += latencyMs
        failedIn[bucket] = (failedIn[bucket] ?? 0) + 1
      } else succeeded++
      inFlight.admitted(t, decision, failed, latencyMs)
    } else {
      lastRejectAt = t
      fullFrom = null
      if (firstShedAt === null && t >= scenario.incidentAtMs) firstShedAt = t
      // The counterfactual: had it been admitted now (one more call of load), would it have succeeded?
      const down = upstreamDown(t)
      const overload = down ? 0 : strainOrShed(fragileNow, scenario, segment, loadInSecond + 1)
      if (
        !down &&
        !(fragileNow && loadInSecond + 1 > (fragility?.capacityRps ?? 0)) &&
        draw >= segment.failureRate &&
        !(overload > 0 && 1 - draw < overload)
      )
        needless++
    }
    phaseAt[bucket] = oracle ? (decision._tag === 'Admitted' ? 'closed' : 'open') : phase
    downAt[bucket] = upstreamDown(t) || segment.failureRate >= 0.5
  }
  inFlight.settleDue(Number.POSITIVE_INFINITY)
  for (const count of recoveryLoad.values()) peakRecoveryRps = Math.max(peakRecoveryRps, count)

  const closedAtEnd = phase === 'closed'
  // When the upstream's true failure rate first reached 50% (after the incident began).
  const halfFailing = segments.find((segment) => segment.failureRate >= 0.5 && segment.atMs >= scenario.incidentAtMs)
  const fullAtEnd = closedAtEnd || strategy === null || strategy.inspect(state as S).admitRate >= 1
  // Back to full: from the first admission after the last rejection (or the recovery itself when
  // nothing was rejected after it) for a strategy that admits everything at the end.
  const fullAt = lastRejectAt === null || lastRejectAt < scenario.recoveredAtMs ? scenario.recoveredAtMs : (fullFrom ?? lastRejectAt)
  const summary: RunSummary = {
    strategy: strategy === null ? ORACLE : strategy.name,
    requests: times.length,
    admitted,
    succeeded,
    successRate: times.length === 0 ? 1 : succeeded / times.length,
    wasted,
    needless,
    callerSecondsLost: callerMsLost / 1000,
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

/** What the oracle answers for requests it turns away. */
const ORACLE_REJECTION: Decision = { _tag: 'Rejected', reason: 'open', retryAfterMs: null }

/**
 * The oracle's rule: admit while the upstream is up, could serve the call, and stays within its
 * capacities once this call counts (`load` is the last second's calls before it).
 */
const oracleAdmits = (down: boolean, segment: HealthSegment, fragileCapacity: number | undefined, load: number): boolean =>
  !down &&
  segment.failureRate < 1 &&
  (fragileCapacity === undefined || load + 1 <= fragileCapacity) &&
  (segment.capacityRps === undefined || load + 1 <= segment.capacityRps)

/** The extra failure probability from load at `load` calls over the last second: a fragile upstream's strain, a segment's shedding. */
const strainOrShed = (fragileNow: boolean, scenario: Scenario, segment: HealthSegment, load: number): number => {
  const strain = fragileNow && scenario.fragility !== undefined ? strainAt(scenario.fragility, load) : 0
  const shed = shedAt(segment.capacityRps, load)
  return Math.max(strain, shed)
}
