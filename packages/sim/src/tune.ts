/**
 * The tuner: searches a space of strategy configs (a base config and parameters to vary) for the
 * one with the lowest cost on a scenario (over seeds) or on a recorded trace. Deterministic:
 * candidates are numbered, evaluated independently, and merged by number, so the result is the
 * same byte for byte whatever the number of worker threads.
 */
import { constrained, fromConfig, type Kinds, literal, report, struct, tagged } from '@datapunk/breaker'
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { seeded } from './Random.js'
import { replay, type TraceEvent } from './replay.js'
import type { Scenario } from './Scenario.js'
import { type RunSummary, simulate } from './simulate.js'

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

/** What a candidate costs; every weight defaults as shown. */
export const Weights = struct(
  'cost weights',
  {},
  { wasted: NonNegative, needless: NonNegative, collapses: NonNegative, detectSeconds: NonNegative, backToFullSeconds: NonNegative },
  { wasted: 1, needless: 1, collapses: 1000, detectSeconds: 10, backToFullSeconds: 1 },
)
export type Weights = t.TypeOf<typeof Weights>

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

/** What a candidate did: the means over the seeds (or the trace's counts), and its cost. */
export interface Evaluation {
  readonly index: number
  readonly valid: boolean
  /** Why the candidate's config was refused, if it was. */
  readonly problem: string | null
  readonly wasted: number
  readonly needless: number
  readonly collapses: number
  readonly detectSeconds: number
  readonly backToFullSeconds: number
  readonly cost: number
}

/** Where candidates are evaluated: a scenario over seeds, or a recorded trace. */
export type Target =
  | { readonly kind: 'scenario'; readonly scenario: Scenario; readonly seeds: ReadonlyArray<number> }
  | { readonly kind: 'trace'; readonly events: ReadonlyArray<TraceEvent> }

const mean = (xs: ReadonlyArray<number>): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length)

/** The cost of a candidate's figures under `weights`. A time that never came counts as the whole scenario. */
export const costOf = (figures: Omit<Evaluation, 'index' | 'valid' | 'problem' | 'cost'>, weights: Weights): number =>
  weights.wasted * figures.wasted +
  weights.needless * figures.needless +
  weights.collapses * figures.collapses +
  weights.detectSeconds * figures.detectSeconds +
  weights.backToFullSeconds * figures.backToFullSeconds

/** Evaluates one candidate on the target. */
export const evaluate = (candidate: Candidate, target: Target, weights: Weights, kinds: Kinds | undefined): Evaluation => {
  const strategy = fromConfig(candidate.config, kinds === undefined ? {} : { kinds })
  if (strategy._tag === 'Left') {
    return {
      index: candidate.index,
      valid: false,
      problem: strategy.left.message,
      wasted: 0,
      needless: 0,
      collapses: 0,
      detectSeconds: 0,
      backToFullSeconds: 0,
      cost: Number.POSITIVE_INFINITY,
    }
  }
  let figures: Omit<Evaluation, 'index' | 'valid' | 'problem' | 'cost'>
  if (target.kind === 'scenario') {
    const whole = target.scenario.durationMs / 1000
    const runs = target.seeds.map((seed) => simulate(target.scenario, [strategy.right], { seed })[0]?.summary)
    const known = runs.filter((r) => r !== undefined)
    figures = {
      wasted: mean(known.map((r) => r.wasted)),
      needless: mean(known.map((r) => r.needless)),
      collapses: mean(known.map((r) => r.collapses)),
      detectSeconds: mean(known.map((r) => (r.timeToDetectMs === null ? whole : r.timeToDetectMs / 1000))),
      backToFullSeconds: mean(known.map((r) => (r.timeToFullMs === null ? whole : r.timeToFullMs / 1000))),
    }
  } else {
    // On a trace: a call the candidate admits that failed live was wasted; a call it rejects that
    // succeeded live was needless. (A call it admits that was rejected live has no known outcome.)
    const outcomeOf = new Map<number, boolean>()
    for (const e of target.events) {
      if (e._tag === 'CallSucceeded') outcomeOf.set(e.call, true)
      else if (e._tag === 'CallFailed') outcomeOf.set(e.call, false)
    }
    const result = replay(target.events, strategy.right)
    let wasted = 0
    let needless = 0
    for (const call of result.calls) {
      const ok = outcomeOf.get(call.call)
      if (call.replayed === 'admitted' && ok === false) wasted++
      if (call.replayed === 'rejected' && ok === true) needless++
    }
    figures = { wasted, needless, collapses: 0, detectSeconds: 0, backToFullSeconds: 0 }
  }
  return { index: candidate.index, valid: true, problem: null, ...figures, cost: costOf(figures, weights) }
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

/** The best candidate: the lowest cost, the lowest number among equals. */
export const best = (evaluations: ReadonlyArray<Evaluation>): Evaluation | undefined =>
  [...evaluations].filter((e) => e.valid).sort((a, b) => a.cost - b.cost || a.index - b.index)[0]

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
  if (workers === 1) return candidates.map((c) => evaluate(c, target, weights, options.kinds))
  const slices = Array.from({ length: workers }, (_, w) => candidates.filter((_, i) => i % workers === w))
  const results = await Promise.all(
    slices.map((slice) =>
      inWorker<ReadonlyArray<Evaluation>>({ job: 'evaluate', candidates: slice, target, weights, kindsModule: options.kindsModule }),
    ),
  )
  return results.flat().sort((a, b) => a.index - b.index)
}
