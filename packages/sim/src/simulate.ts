import type { Admitted, BreakerEvent, Decision, Strategy } from '@datapunk/breaker'
import { checkRun } from './checkArgs.js'
import { InFlight } from './InFlight.js'
import { normal, seeded } from './Random.js'
import type { Run } from './Run.js'
import { Driven, RunTally } from './RunTally.js'
import { arrivals, jitteredScenario, type Scenario } from './Scenario.js'
import { Upstream } from './Upstream.js'

export type { Bucket, Run, RunSummary } from './Run.js'

/** The name of the oracle's run (see {@link simulateWithOracle}). */
export const ORACLE = 'oracle'

/** Options of {@link simulate}. */
export interface SimulateOptions {
  /** The seed of every random draw: the same seed, the same run. */
  readonly seed: number
  /** Width of a chart bucket. Default: the duration / 60. */
  readonly bucketMs?: number
}

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
 * draws, latency draws are taken once from `seed`, so strategies differ only by what they do;
 * a scenario with `jitterMs` has its timeline shifted for the seed first, see `jitteredScenario`).
 * Deterministic: same scenario, strategies and seed, same result.
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { scenarios, simulate } from '@datapunk/breaker-sim'
 * const strategy = circuit({ name: 'classic', trip: { kind: 'consecutive-failures', threshold: 5 }, openFor: { kind: 'constant', ms: 5000 } })
 * const [run] = simulate(scenarios.outage, [strategy], { seed: 1 })
 * run?.summary.timeToDetectMs !== null // true
 */
export const simulate = (written: Scenario, strategies: ReadonlyArray<Strategy<unknown>>, options: SimulateOptions): ReadonlyArray<Run> => {
  checkRun('simulate', written, strategies, options)
  const scenario = jitteredScenario(written, options.seed)
  const draws = drawsOf(scenario, options.seed)
  const bucketMs = bucketMsOf(scenario, options)
  return strategies.map((strategy) => runOne(scenario, strategy, draws, bucketMs))
}

/**
 * The draws of each (scenario, seed) a thread has simulated through {@link simulateKept}, kept while
 * they fit in {@link KEPT_DRAW_BYTES}: the tuner runs every candidate on the same scenarios and
 * seeds, and taking the draws again was a quarter of its time. Once full it keeps what it has (a
 * cache cleared and refilled in the same order would never be read).
 */
const keptDraws = new Map<string, Draws>()
let keptDrawBytes = 0
const KEPT_DRAW_BYTES = 128 * 1024 * 1024

const drawsKept = (written: Scenario, scenario: Scenario, seed: number): Draws => {
  const key = `${seed}:${JSON.stringify(written)}`
  const kept = keptDraws.get(key)
  if (kept !== undefined) return kept
  const draws = drawsOf(scenario, seed)
  const bytes = 3 * 8 * draws.times.length
  if (keptDrawBytes + bytes <= KEPT_DRAW_BYTES) {
    keptDraws.set(key, draws)
    keptDrawBytes += bytes
  }
  return draws
}

/**
 * One strategy's run, as `simulate(written, [strategy], options)[0]` (or, given null, the oracle's,
 * as {@link simulateOracle}), the draws kept for the next run on the same scenario and seed (see
 * {@link keptDraws}; for the tuner, not exported by the package).
 */
export const simulateKept = (written: Scenario, strategy: Strategy<unknown> | null, options: SimulateOptions): Run => {
  const scenario = jitteredScenario(written, options.seed)
  return runOne(scenario, strategy, drawsKept(written, scenario, options.seed), bucketMsOf(scenario, options))
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
  written: Scenario,
  strategies: ReadonlyArray<Strategy<unknown>>,
  options: SimulateOptions,
): { readonly runs: ReadonlyArray<Run>; readonly oracle: Run } => {
  checkRun('simulateWithOracle', written, strategies, options)
  const scenario = jitteredScenario(written, options.seed)
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
export const simulateOracle = (written: Scenario, options: SimulateOptions): Run => {
  checkRun('simulateOracle', written, undefined, options)
  const scenario = jitteredScenario(written, options.seed)
  return runOne(scenario, null, drawsOf(scenario, options.seed), bucketMsOf(scenario, options))
}

/** Runs `strategy` (or, given null, the oracle) over the draws. */
const runOne = <S>(scenario: Scenario, strategy: Strategy<S> | null, draws: Draws, bucketMs: number): Run => {
  const { times, failureDraws, latencyDraws } = draws
  const upstream = new Upstream(scenario, strategy === null)
  const driven = strategy === null ? null : new Driven(strategy, scenario.incidentAtMs)
  const tally = new RunTally(scenario, Math.ceil(scenario.durationMs / bucketMs))
  const last = tally.bucketCount - 1
  const inFlight = new InFlight(driven === null ? undefined : (event, t) => driven.apply(event, t), strategy?.overdueAfterMs)
  for (let i = 0; i < times.length; i++) {
    const t = times[i] ?? 0
    inFlight.settleDue(t)
    const bucket = Math.min(last, Math.floor(t / bucketMs))
    tally.requested(bucket)
    upstream.advance(t)
    const fragileNow = upstream.fragileAt(t)
    const decision =
      driven === null ? (upstream.oracleAdmits(t, fragileNow) ? ORACLE_TICKET : ORACLE_REJECTION) : driven.apply(REQUESTED, t)
    const draw = failureDraws[i] ?? 1
    if (decision._tag === 'Admitted') {
      upstream.carry(t, fragileNow)
      const latencyMs = upstream.call(t, draw, latencyDraws[i] ?? 0)
      tally.served(t, bucket, upstream.failed, latencyMs)
      inFlight.admitted(t, decision, upstream.failed, latencyMs)
    } else tally.rejected(t, upstream.wouldServe(t, fragileNow, draw))
    tally.mark(bucket, driven === null ? (decision._tag === 'Admitted' ? 'closed' : 'open') : driven.phase, upstream.looksDown(t))
  }
  inFlight.settleDue(Number.POSITIVE_INFINITY)
  return tally.run(strategy === null ? ORACLE : strategy.name, driven as Driven<unknown> | null, upstream, bucketMs)
}

/** What the oracle answers for requests it turns away. */
const ORACLE_REJECTION: Decision = { _tag: 'Rejected', reason: 'open', retryAfterMs: null }
