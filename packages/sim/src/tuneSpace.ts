/**
 * The tuner's space: the file format (a base config, parameters to vary, a search, weights,
 * constraints), the candidates it makes, and warnings about where the best one sits.
 */
import { constrained, literal, report, struct, tagged } from '@datapunk/breaker'
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { seeded } from './Random.js'

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
  /** Its index in the space (grid order, or draw order for a random search). */
  readonly index: number
  /** The value of each parameter, by its path. */
  readonly values: Readonly<Record<string, unknown>>
  /** The base config with those values put in. */
  readonly config: unknown
}

/**
 * `config` named `name` (a copy): a circuit config carries its name, an adaptive throttle's is its
 * circuit's (the throttle's own config has no name and refuses one).
 */
export const named = (config: unknown, name: string): unknown => {
  const c = config as { readonly kind?: unknown; readonly circuit?: unknown }
  return isThrottle(c) ? { ...c, circuit: { ...(c.circuit as object), name } } : { ...c, name }
}

/** The name a config carries (its circuit's, for an adaptive throttle), if any. */
export const nameOf = (config: unknown): string | undefined => {
  const c = config as { readonly kind?: unknown; readonly circuit?: unknown; readonly name?: unknown }
  const name = isThrottle(c) ? (c.circuit as { readonly name?: unknown }).name : c.name
  return typeof name === 'string' ? name : undefined
}

const isThrottle = (c: { readonly kind?: unknown; readonly circuit?: unknown }): boolean =>
  c.kind === 'adaptive-throttle' && typeof c.circuit === 'object' && c.circuit !== null

/**
 * The candidates of a space: every combination (grid), or `budget` seeded draws without repeats
 * (random). A grid larger than the budget is refused: search it at random, or raise the budget.
 */
export const candidatesOf = (space: TuneSpace, budget: number): E.Either<string, ReadonlyArray<Candidate>> => {
  const axes = space.parameters.map((p) => ({ path: p.path, values: valuesOf(p) }))
  const size = axes.reduce((n, a) => n * a.values.length, 1)
  const pick = (choice: ReadonlyArray<number>, index: number): Candidate => {
    const values: Record<string, unknown> = {}
    let config: unknown = named(space.base, `candidate-${index}`)
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
