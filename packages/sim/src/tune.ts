/**
 * The tuner: searches a space of strategy configs (a base config and parameters to vary) for the
 * one with the lowest cost on a scenario (over seeds) or on a recorded trace. Deterministic:
 * candidates are numbered, evaluated independently, and merged by number, so the result is the
 * same byte for byte whatever the number of worker threads.
 */
import { type Kinds, type Strategy, strategyFromConfig } from '@datapunk/breaker'
import type { Cell } from './quality/space.js'
import { replay, type TraceEvent } from './replay.js'
import type { Scenario } from './Scenario.js'
import { type RunSummary, simulate, simulateKept, simulateWithOracle } from './simulate.js'
import { median } from './stats.js'
import type { Candidate, Constraints, Weights } from './tuneSpace.js'

export {
  type Candidate,
  Constraints,
  candidatesOf,
  DEFAULT_WEIGHTS,
  edgeWarnings,
  parseSpace,
  TuneSpace,
  Weights,
} from './tuneSpace.js'

// ---- evaluation ---------------------------------------------------------------------------------

/** A candidate's figures: means over the cells (or the scenario) and seeds, or the trace's counts. */
export interface Figures {
  /** Points of the oracle's successes the candidate did not get (100 x (1 - its share of the oracle)). */
  readonly oracleShortfall: number
  /** Points of all requests it sent into a failure. */
  readonly wastedShare: number
  /** Seconds callers waited on calls that failed. */
  readonly callerSeconds: number
  /** Calls sent into a failing upstream. */
  readonly wasted: number
  /** Rejected requests that would have succeeded (counterfactual, at any error level). */
  readonly needless: number
  /** Times a fragile upstream was brought down again. */
  readonly collapses: number
  /** Seconds from the incident to the first trip, over the cells with an incident (a trip that never came counts as the whole scenario). */
  readonly detectSeconds: number
  /** Seconds from the recovery back to full traffic, over the cells with an incident (never: the whole scenario). */
  readonly backToFullSeconds: number
  /** The most trips per simulated day on any noise cell (median over the seeds); 0 where there is none. */
  readonly falseTripsPerDay: number
}

/** What a candidate did: its figures, its cost, and whether it kept the constraints. */
export interface Evaluation extends Figures {
  /** The candidate's index in the space. */
  readonly index: number
  /** Whether its config decoded (else `problem` says why). */
  readonly valid: boolean
  /** Why the candidate's config was refused, if it was. */
  readonly problem: string | null
  /** Whether it kept every constraint (a candidate that did not is never chosen). */
  readonly withinConstraints: boolean
  /** Its cost under the weights (lower is better). */
  readonly cost: number
}

/** Where candidates are evaluated: cells of the scenario space, a scenario, over seeds, or a recorded trace. */
export type Target =
  | { readonly kind: 'cells'; readonly cells: ReadonlyArray<Cell>; readonly seeds: ReadonlyArray<number> }
  | { readonly kind: 'scenario'; readonly scenario: Scenario; readonly seeds: ReadonlyArray<number> }
  | { readonly kind: 'trace'; readonly events: ReadonlyArray<TraceEvent> }

const mean = (xs: ReadonlyArray<number>): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length)

/** The cost of a candidate's figures under `weights` (a weight left out is 0). A time that never came counts as the whole scenario. */
export const costOf = (figures: Figures, weights: Weights): number =>
  (weights.oracleShortfall ?? 0) * figures.oracleShortfall +
  (weights.wastedShare ?? 0) * figures.wastedShare +
  (weights.callerSeconds ?? 0) * figures.callerSeconds +
  (weights.wasted ?? 0) * figures.wasted +
  (weights.needless ?? 0) * figures.needless +
  (weights.collapses ?? 0) * figures.collapses +
  (weights.detectSeconds ?? 0) * figures.detectSeconds +
  (weights.backToFullSeconds ?? 0) * figures.backToFullSeconds

/** The oracle's successes per scenario and seed, computed once per thread: it does not depend on the candidate. */
const oracleSuccesses = new Map<string, number>()
const oracleOf = (scenario: Scenario, seed: number): number => {
  const key = `${seed}:${JSON.stringify(scenario)}`
  let succeeded = oracleSuccesses.get(key)
  if (succeeded === undefined) {
    succeeded = simulateKept(scenario, null, { seed, bucketMs: scenario.durationMs }).summary.succeeded
    if (oracleSuccesses.size > 10_000) oracleSuccesses.clear()
    oracleSuccesses.set(key, succeeded)
  }
  return succeeded
}

/** Whether nothing in `scenario` justifies a trip: no incident before its end. */
const isNoise = (scenario: Scenario): boolean => scenario.incidentAtMs >= scenario.durationMs

/** The figures of a strategy over scenarios and seeds: means over every (scenario, seed), false trips at their worst noise scenario. */
const figuresOver = (strategy: Strategy<unknown>, scenarios: ReadonlyArray<Scenario>, seeds: ReadonlyArray<number>): Figures => {
  const perScenario = scenarios.map((scenario) => {
    const whole = scenario.durationMs / 1000
    const runs = seeds.map((seed) => {
      const summary = simulateKept(scenario, strategy, { seed, bucketMs: scenario.durationMs }).summary
      const oracle = oracleOf(scenario, seed)
      return { summary, share: oracle === 0 ? 1 : summary.succeeded / oracle }
    })
    return {
      noise: isNoise(scenario),
      tripsPerDay: median(runs.map((r) => r.summary.tripsPerDay)),
      figures: runs.map(({ summary: r, share }) => ({
        oracleShortfall: 100 * (1 - share),
        wastedShare: r.requests === 0 ? 0 : (100 * r.wasted) / r.requests,
        callerSeconds: r.callerSecondsLost,
        wasted: r.wasted,
        needless: r.needless,
        collapses: r.collapses,
        detectSeconds: r.timeToDetectMs === null ? whole : r.timeToDetectMs / 1000,
        backToFullSeconds: r.timeToFullMs === null ? whole : r.timeToFullMs / 1000,
      })),
    }
  })
  const all = perScenario.flatMap((p) => p.figures)
  // Detection and recovery times mean something only where there is an incident to detect.
  const incidents = perScenario.filter((p) => !p.noise).flatMap((p) => p.figures)
  const meanOf = (pick: (f: (typeof all)[number]) => number, over = all) => mean(over.map(pick))
  return {
    oracleShortfall: meanOf((f) => f.oracleShortfall),
    wastedShare: meanOf((f) => f.wastedShare),
    callerSeconds: meanOf((f) => f.callerSeconds),
    wasted: meanOf((f) => f.wasted),
    needless: meanOf((f) => f.needless),
    collapses: meanOf((f) => f.collapses),
    detectSeconds: meanOf((f) => f.detectSeconds, incidents),
    backToFullSeconds: meanOf((f) => f.backToFullSeconds, incidents),
    falseTripsPerDay: Math.max(0, ...perScenario.filter((p) => p.noise).map((p) => p.tripsPerDay)),
  }
}

/**
 * A candidate's figures on a recorded trace: a call it admits that failed live is wasted, one it
 * rejects that succeeded live is needless (a call it admits that was rejected live has no known
 * outcome); the oracle serves every call that succeeded live.
 */
const figuresOnTrace = (strategy: Strategy<unknown>, events: ReadonlyArray<TraceEvent>): Figures => {
  const outcomeOf = new Map<number, boolean>()
  for (const e of events) {
    if (e._tag === 'CallSucceeded') outcomeOf.set(e.call, true)
    else if (e._tag === 'CallFailed') outcomeOf.set(e.call, false)
  }
  const result = replay(events, strategy)
  let wasted = 0
  let needless = 0
  let liveSuccesses = 0
  for (const call of result.calls) {
    const ok = outcomeOf.get(call.call)
    if (ok === true) liveSuccesses++
    if (call.replayed === 'admitted' && ok === false) wasted++
    if (call.replayed === 'rejected' && ok === true) needless++
  }
  const calls = result.calls.length
  return {
    oracleShortfall: liveSuccesses === 0 ? 0 : (100 * needless) / liveSuccesses,
    wastedShare: calls === 0 ? 0 : (100 * wasted) / calls,
    callerSeconds: 0,
    wasted,
    needless,
    collapses: 0,
    detectSeconds: 0,
    backToFullSeconds: 0,
    falseTripsPerDay: 0,
  }
}

const NO_FIGURES: Figures = {
  oracleShortfall: 0,
  wastedShare: 0,
  callerSeconds: 0,
  wasted: 0,
  needless: 0,
  collapses: 0,
  detectSeconds: 0,
  backToFullSeconds: 0,
  falseTripsPerDay: 0,
}

/** Evaluates one candidate on the target, under `weights` and `constraints`. */
export const evaluate = (
  candidate: Candidate,
  target: Target,
  weights: Weights,
  kinds: Kinds | undefined,
  constraints: Constraints = {},
): Evaluation => {
  const strategy = strategyFromConfig(candidate.config, kinds === undefined ? {} : { kinds })
  if (strategy._tag === 'Left') {
    const refused = { index: candidate.index, valid: false, problem: strategy.left.message, withinConstraints: false }
    return { ...refused, ...NO_FIGURES, cost: Number.POSITIVE_INFINITY }
  }
  const figures =
    target.kind === 'trace'
      ? figuresOnTrace(strategy.right, target.events)
      : figuresOver(strategy.right, target.kind === 'cells' ? target.cells.map((c) => c.scenario) : [target.scenario], target.seeds)
  const withinConstraints = constraints.falseTripsPerDay === undefined || figures.falseTripsPerDay <= constraints.falseTripsPerDay
  return { index: candidate.index, valid: true, problem: null, withinConstraints, ...figures, cost: costOf(figures, weights) }
}

/** The candidates no other beats on both wasted and needless (lower is better), by wasted. */
export const paretoFront = (evaluations: ReadonlyArray<Evaluation>): ReadonlyArray<Evaluation> =>
  evaluations
    .filter((e) => e.valid)
    .filter(
      (e) =>
        !evaluations.some(
          (o) => o.valid && o.wasted <= e.wasted && o.needless <= e.needless && (o.wasted < e.wasted || o.needless < e.needless),
        ),
    )
    .sort((a, b) => a.wasted - b.wasted || a.needless - b.needless || a.index - b.index)

/** The best candidate: the lowest cost among those within the constraints, the lowest number among equals. */
export const best = (evaluations: ReadonlyArray<Evaluation>): Evaluation | undefined =>
  [...evaluations].filter((e) => e.valid && e.withinConstraints).sort((a, b) => a.cost - b.cost || a.index - b.index)[0]

// ---- parallel evaluation ------------------------------------------------------------------------

/** The summaries of configs simulated over seeds: `[seed][config]`. */
export const simulateSummaries = (
  configs: ReadonlyArray<unknown>,
  scenario: Scenario,
  seeds: ReadonlyArray<number>,
  kinds: Kinds | undefined,
  oracle = false,
): ReadonlyArray<ReadonlyArray<RunSummary>> => {
  const strategies = configs.map((config) => {
    const s = strategyFromConfig(config, kinds === undefined ? {} : { kinds })
    if (s._tag === 'Left') throw s.left
    return s.right
  })
  return seeds.map((seed) => {
    if (!oracle) return simulate(scenario, strategies, { seed }).map((run) => run.summary)
    const both = simulateWithOracle(scenario, strategies, { seed })
    return [...both.runs.map((run) => run.summary), both.oracle.summary]
  })
}

/**
 * Runs configs over many seeds on worker threads (seed i on worker i mod workers); the summaries
 * come back in seed order, whatever the number of workers. With `options.oracle`, each seed's
 * summaries end with the oracle's (see `simulateWithOracle`), named `oracle`.
 */
export const simulateSeeds = async (
  configs: ReadonlyArray<unknown>,
  scenario: Scenario,
  seeds: ReadonlyArray<number>,
  options: TuneOptions,
): Promise<ReadonlyArray<ReadonlyArray<RunSummary>>> => {
  const workers = Math.max(1, Math.min(options.workers, seeds.length))
  const oracle = options.oracle ?? false
  if (workers === 1) return simulateSummaries(configs, scenario, seeds, options.kinds, oracle)
  const slices = Array.from({ length: workers }, (_, w) => seeds.map((seed, i) => ({ seed, i })).filter(({ i }) => i % workers === w))
  const parts = await Promise.all(
    slices.map((slice) =>
      inWorker<ReadonlyArray<ReadonlyArray<RunSummary>>>({
        job: 'simulate',
        configs,
        scenario,
        seeds: slice.map((s) => s.seed),
        kindsModule: options.kindsModule,
        oracle,
      }).then((summaries) => summaries.map((s, k) => ({ i: slice[k]?.i ?? 0, s }))),
    ),
  )
  return parts
    .flat()
    .sort((a, b) => a.i - b.i)
    .map((p) => p.s)
}

/** Runs one job on a worker thread and resolves with what it posts back. */
const inWorker = async <T>(workerData: unknown, onTick?: () => void): Promise<T> => {
  const { Worker } = await import('node:worker_threads')
  return new Promise<T>((resolve, reject) => {
    const worker = new Worker(new URL('./tuneWorker.js', import.meta.url), { workerData })
    // 'tick': one more piece of the job done (for progress); anything else is the result.
    worker.on('message', (message: T | 'tick') => (message === 'tick' ? onTick?.() : resolve(message)))
    worker.once('error', reject)
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`a simulator worker stopped with code ${code}`))
    })
  })
}

/** Options of {@link tuneAll}. */
export interface TuneOptions {
  /** Worker threads; 1 evaluates on this thread. The result does not depend on it. */
  readonly workers: number
  /** A module whose `kinds` export adds part kinds (the CLI's `--kinds`), loaded in every worker. */
  readonly kindsModule?: string
  /** The kinds themselves, for evaluation on this thread. */
  readonly kinds?: Kinds
  /** Limits a candidate must keep (see {@link Constraints}). */
  readonly constraints?: Constraints
  /** Told after each candidate is evaluated: how many are, of how many. */
  readonly onProgress?: (done: number, total: number) => void
  /** `simulateSeeds` only: add the oracle's run to each seed's, last. */
  readonly oracle?: boolean
}

/**
 * Evaluates every candidate, on `options.workers` worker threads (candidate i goes to worker
 * i mod workers); the evaluations come back in candidate order, whatever the number of workers.
 */
export const tuneAll = async (
  candidates: ReadonlyArray<Candidate>,
  target: Target,
  weights: Weights,
  options: TuneOptions,
): Promise<ReadonlyArray<Evaluation>> => {
  const workers = Math.max(1, Math.min(options.workers, candidates.length))
  const constraints = options.constraints ?? {}
  let done = 0
  const tick = () => options.onProgress?.(++done, candidates.length)
  if (workers === 1)
    return candidates.map((c) => {
      const evaluation = evaluate(c, target, weights, options.kinds, constraints)
      tick()
      return evaluation
    })
  const slices = Array.from({ length: workers }, (_, w) => candidates.filter((_, i) => i % workers === w))
  const results = await Promise.all(
    slices.map((slice) =>
      inWorker<ReadonlyArray<Evaluation>>(
        {
          job: 'evaluate',
          candidates: slice,
          target,
          weights,
          constraints,
          kindsModule: options.kindsModule,
        },
        tick,
      ),
    ),
  )
  return results.flat().sort((a, b) => a.index - b.index)
}
