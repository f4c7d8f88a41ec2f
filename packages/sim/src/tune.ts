/**
 * The tuner: searches a space of strategy configs (a base config and parameters to vary) for the
 * one with the lowest cost on a scenario (over seeds) or on a recorded trace. Deterministic:
 * candidates are numbered, evaluated independently, and merged by number, so the result is the
 * same byte for byte whatever the number of worker threads.
 */
import { constrained, fromConfig, type Kinds, literal, report, type Strategy, struct, tagged } from '@datapunk/breaker'
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import type { Cell } from './quality/space.js'
import { seeded } from './Random.js'
import { replay, type TraceEvent } from './replay.js'
import type { Scenario } from './Scenario.js'
import { type RunSummary, simulate, simulateOracle } from './simulate.js'
import { median } from './stats.js'

// ---- the space --------------------------------------------------------------------------------

const NonNegative = constrained('a number >= 0', (n) => n >= 0 && n < Number.POSITIVE_INFINITY)
const Path = new t.Type<string, string, unknown>(
  'a dotted path into the config (e.g. "trip.threshold")',
  (u): u is string => typeof u === 'string' && /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/.test(u),
  (u, c) => (typeof u === 'string' && /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/.test(u) ? t.success(u) : t.failure(u, c)),
  (a) => a,
)
const Values = new t.Type<ReadonlyArray<unknown>, ReadonlyArray<unknown>, unknown>(
  'a non-empty array of values',
  (u): u is ReadonlyArray<unknown> => Array.isArray(u) && u.length > 0 && u.length <= 1000,
  (u, c) => (Array.isArray(u) && u.length > 0 && u.length <= 1000 ? t.success(u) : t.failure(u, c, 'expected 1 to 1000 values')),
  (a) => a,
)

const Parameter = t.union([
  struct('a parameter with values', { path: Path, values: Values }),
  struct('a parameter with a range', {
    path: Path,
    range: struct('a range', { min: t.number, max: t.number, step: constrained('a step > 0', (n) => n > 0 && Number.isFinite(n)) }),
  }),
])

/**
 * What a candidate costs. Without `weights`, the default cost: the goodput it loses against the
 * oracle (`oracleShortfall`, in points of the oracle's successes) plus a quarter of the calls it
 * sends into failure (`wastedShare`, in points of all requests), each averaged over the cells (or
 * the scenario) and seeds, so a quiet cell weighs as much as a busy one. A call sent into a
 * failure fails its caller as a rejection does, and besides takes its time and loads a sick
 * upstream: a quarter of a lost success. Collapses of a fragile upstream cost through the goodput
 * they lose. A space that names `weights` sets exactly those: every weight it leaves out is 0.
 */
export const Weights = struct(
  'cost weights',
  {},
  {
    oracleShortfall: NonNegative,
    wastedShare: NonNegative,
    callerSeconds: NonNegative,
    wasted: NonNegative,
    needless: NonNegative,
    collapses: NonNegative,
    detectSeconds: NonNegative,
    backToFullSeconds: NonNegative,
  },
)
export type Weights = t.TypeOf<typeof Weights>

/** The cost a space gets without `weights`. */
export const DEFAULT_WEIGHTS: Weights = { oracleShortfall: 1, wastedShare: 0.25 }

/**
 * Limits a candidate must keep, not trade: `falseTripsPerDay`, the most trips per simulated day it
 * may make on any noise cell (or on a scenario with no incident), median over the seeds.
 */
export const Constraints = struct('constraints', {}, { falseTripsPerDay: NonNegative })
export type Constraints = t.TypeOf<typeof Constraints>

/** A space file: the config every candidate starts from, what varies, how to search, what it costs. */
export const TuneSpace = struct(
  'a config space',
  {
    base: t.UnknownRecord,
    parameters: new t.Type<ReadonlyArray<t.TypeOf<typeof Parameter>>, unknown, unknown>(
      'a non-empty array of parameters',
      (u): u is ReadonlyArray<t.TypeOf<typeof Parameter>> => Array.isArray(u) && u.length > 0 && u.every((p) => Parameter.is(p)),
      (u, c) => {
        if (!Array.isArray(u) || u.length === 0 || u.length > 20) return t.failure(u, c, 'expected 1 to 20 parameters')
        const out: Array<t.TypeOf<typeof Parameter>> = []
        const errors: t.ValidationError[] = []
        u.forEach((p, i) => {
          const r = Parameter.validate(p, t.appendContext(c, `[${i}]`, Parameter, p))
          if (E.isLeft(r))
            errors.push({
              value: p,
              context: t.appendContext(c, `[${i}]`, t.unknown, p),
              message: 'expected { path, values } or { path, range: { min, max, step } }',
            })
          else out.push(r.right)
        })
        return errors.length > 0 ? t.failures(errors) : t.success(out)
      },
      (a) => a,
    ),
  },
  {
    search: tagged('a search', {
      grid: struct('a grid search', { kind: literal('grid') }),
      random: struct('a seeded random search', {
        kind: literal('random'),
        seed: constrained('an integer >= 0', (n) => Number.isSafeInteger(n) && n >= 0),
      }),
    }),
    weights: Weights,
    constraints: Constraints,
  },
)
export type TuneSpace = t.TypeOf<typeof TuneSpace>

/** Decodes a space file (parsed JSON), or explains every problem naming `source`. */
export const parseSpace = (json: unknown, source: string): E.Either<string, TuneSpace> =>
  E.mapLeft((errors: t.Errors) =>
    report(errors)
      .map((p) => `${source}: ${p.message}`)
      .join('\n'),
  )(TuneSpace.decode(json))

/** The values a parameter takes. */
const valuesOf = (p: t.TypeOf<typeof Parameter>): ReadonlyArray<unknown> => {
  if ('values' in p) return p.values
  const out: number[] = []
  // Counting steps (not adding them) keeps every value exact: min + i * step.
  for (let i = 0; p.range.min + i * p.range.step <= p.range.max + 1e-9 && out.length <= 1000; i++)
    out.push(Number((p.range.min + i * p.range.step).toPrecision(12)))
  return out
}

/** Sets `path` in a copy of `config`. */
const withValue = (config: unknown, path: string, value: unknown): unknown => {
  const keys = path.split('.')
  const copy = JSON.parse(JSON.stringify(config)) as Record<string, unknown>
  let node: Record<string, unknown> = copy
  keys.forEach((key, i) => {
    if (i === keys.length - 1) node[key] = value
    else {
      const next = node[key]
      node[key] = typeof next === 'object' && next !== null && !Array.isArray(next) ? { ...(next as Record<string, unknown>) } : {}
      node = node[key] as Record<string, unknown>
    }
  })
  return copy
}

/** A candidate: its number, the values it picked, and the config they make. */
export interface Candidate {
  readonly index: number
  readonly values: Readonly<Record<string, unknown>>
  readonly config: unknown
}

/**
 * The candidates of a space: every combination (grid), or `budget` seeded draws without repeats
 * (random). A grid larger than the budget is refused: search it at random, or raise the budget.
 */
export const candidatesOf = (space: TuneSpace, budget: number): E.Either<string, ReadonlyArray<Candidate>> => {
  const axes = space.parameters.map((p) => ({ path: p.path, values: valuesOf(p) }))
  const size = axes.reduce((n, a) => n * a.values.length, 1)
  const pick = (choice: ReadonlyArray<number>, index: number): Candidate => {
    const values: Record<string, unknown> = {}
    let config: unknown = { ...space.base, name: `candidate-${index}` }
    axes.forEach((axis, i) => {
      const value = axis.values[choice[i] ?? 0]
      values[axis.path] = value
      config = withValue(config, axis.path, value)
    })
    return { index, values, config }
  }
  const decode = (n: number): number[] => {
    const choice: number[] = []
    let rest = n
    for (let i = axes.length - 1; i >= 0; i--) {
      const len = axes[i]?.values.length ?? 1
      choice[i] = rest % len
      rest = Math.floor(rest / len)
    }
    return choice
  }
  if ((space.search?.kind ?? 'grid') === 'grid') {
    if (size > budget)
      return E.left(
        `the grid has ${size} candidates, more than the budget (${budget}): search at random ("search": { "kind": "random", "seed": 1 }) or raise --budget`,
      )
    return E.right(Array.from({ length: size }, (_, n) => pick(decode(n), n)))
  }
  const random = seeded(space.search?.kind === 'random' ? space.search.seed : 1)
  const chosen = new Set<number>()
  const count = Math.min(budget, size)
  while (chosen.size < count) chosen.add(Math.floor(random() * size))
  return E.right([...chosen].map((n, i) => pick(decode(n), i)))
}

// ---- evaluation ---------------------------------------------------------------------------------

/** A candidate's figures: means over the cells (or the scenario) and seeds, or the trace's counts. */
export interface Figures {
  /** Points of the oracle's successes the candidate did not get (100 x (1 - its share of the oracle)). */
  readonly oracleShortfall: number
  /** Points of all requests it sent into a failure. */
  readonly wastedShare: number
  /** Seconds callers waited on calls that failed. */
  readonly callerSeconds: number
  readonly wasted: number
  /** Rejected requests that would have succeeded (counterfactual, at any error level). */
  readonly needless: number
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
  readonly index: number
  readonly valid: boolean
  /** Why the candidate's config was refused, if it was. */
  readonly problem: string | null
  /** Whether it kept every constraint (a candidate that did not is never chosen). */
  readonly withinConstraints: boolean
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
    succeeded = simulateOracle(scenario, { seed, bucketMs: scenario.durationMs }).summary.succeeded
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
      const summary = simulate(scenario, [strategy], { seed, bucketMs: scenario.durationMs })[0]?.summary as RunSummary
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
  const strategy = fromConfig(candidate.config, kinds === undefined ? {} : { kinds })
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

/**
 * Warnings about where the best candidate sits: a numeric parameter at the lowest or highest value
 * the space tried (of three or more) suggests the optimum lies beyond it.
 *
 * @example
 * import { edgeWarnings, parseSpace } from '@datapunk/breaker-sim'
 * const space = parseSpace({ base: {}, parameters: [{ path: 'openFor.ms', values: [1000, 5000, 30000] }] }, 's.json')
 * space._tag === 'Right' && edgeWarnings(space.right, { index: 0, values: { 'openFor.ms': 5000 }, config: {} }).length // 0
 * space._tag === 'Right' && edgeWarnings(space.right, { index: 0, values: { 'openFor.ms': 1000 }, config: {} })[0]?.startsWith('openFor.ms=1000 is the lowest value tried') // true
 */
export const edgeWarnings = (space: TuneSpace, chosen: Candidate): ReadonlyArray<string> =>
  space.parameters.flatMap((p) => {
    const values = valuesOf(p).filter((v): v is number => typeof v === 'number')
    const value = chosen.values[p.path]
    if (values.length < 3 || typeof value !== 'number') return []
    const lo = Math.min(...values)
    const hi = Math.max(...values)
    if (value !== lo && value !== hi) return []
    return [
      `${p.path}=${value} is the ${value === lo ? 'lowest' : 'highest'} value tried: the best config may lie beyond the space (widen ${p.path}'s ${
        'range' in p ? 'range' : 'values'
      })`,
    ]
  })

// ---- parallel evaluation ------------------------------------------------------------------------

/** The summaries of configs simulated over seeds: `[seed][config]`. */
export const simulateSummaries = (
  configs: ReadonlyArray<unknown>,
  scenario: Scenario,
  seeds: ReadonlyArray<number>,
  kinds: Kinds | undefined,
): ReadonlyArray<ReadonlyArray<RunSummary>> => {
  const strategies = configs.map((config) => {
    const s = fromConfig(config, kinds === undefined ? {} : { kinds })
    if (s._tag === 'Left') throw s.left
    return s.right
  })
  return seeds.map((seed) => simulate(scenario, strategies, { seed }).map((run) => run.summary))
}

/**
 * Runs configs over many seeds on worker threads (seed i on worker i mod workers); the summaries
 * come back in seed order, whatever the number of workers.
 */
export const simulateSeeds = async (
  configs: ReadonlyArray<unknown>,
  scenario: Scenario,
  seeds: ReadonlyArray<number>,
  options: TuneOptions,
): Promise<ReadonlyArray<ReadonlyArray<RunSummary>>> => {
  const workers = Math.max(1, Math.min(options.workers, seeds.length))
  if (workers === 1) return simulateSummaries(configs, scenario, seeds, options.kinds)
  const slices = Array.from({ length: workers }, (_, w) => seeds.map((seed, i) => ({ seed, i })).filter(({ i }) => i % workers === w))
  const parts = await Promise.all(
    slices.map((slice) =>
      inWorker<ReadonlyArray<ReadonlyArray<RunSummary>>>({
        job: 'simulate',
        configs,
        scenario,
        seeds: slice.map((s) => s.seed),
        kindsModule: options.kindsModule,
      }).then((summaries) => summaries.map((s, k) => ({ i: slice[k]?.i ?? 0, s }))),
    ),
  )
  return parts
    .flat()
    .sort((a, b) => a.i - b.i)
    .map((p) => p.s)
}

/** Runs one job on a worker thread and resolves with what it posts back. */
const inWorker = async <T>(workerData: unknown): Promise<T> => {
  const { Worker } = await import('node:worker_threads')
  return new Promise<T>((resolve, reject) => {
    const worker = new Worker(new URL('./tuneWorker.js', import.meta.url), { workerData })
    worker.once('message', (result: T) => resolve(result))
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
  if (workers === 1) return candidates.map((c) => evaluate(c, target, weights, options.kinds, constraints))
  const slices = Array.from({ length: workers }, (_, w) => candidates.filter((_, i) => i % workers === w))
  const results = await Promise.all(
    slices.map((slice) =>
      inWorker<ReadonlyArray<Evaluation>>({
        job: 'evaluate',
        candidates: slice,
        target,
        weights,
        constraints,
        kindsModule: options.kindsModule,
      }),
    ),
  )
  return results.flat().sort((a, b) => a.index - b.index)
}
