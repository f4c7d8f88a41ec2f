/**
 * The registry of part kinds: each kind is a `{ codec, build }` entry in a table, and every kind
 * is an ordinary entry, the built-in ones included (`any-of` and `all-of` nest detectors, the
 * adaptive throttle wraps a circuit, through the same {@link BuildContext} your kinds get). There
 * is no global registry: the table travels with the call (`fromConfig(json, { kinds })`).
 */

import * as t from 'io-ts'
import { AdaptiveThrottleConfig, adaptiveThrottle } from './AdaptiveThrottle.js'
import { allOf } from './AllOf.js'
import { anyOf } from './AnyOf.js'
import { ChangePointConfig, changePoint } from './ChangePoint.js'
import { ClassicHalfOpenConfig, classicHalfOpen } from './ClassicHalfOpen.js'
import { ConfigError, problem, underPath } from './ConfigError.js'
import { ConsecutiveFailuresConfig, consecutiveFailures } from './ConsecutiveFailures.js'
import { CusumConfig, cusum } from './Cusum.js'
import { literal, type Problem, report, struct } from './codecs.js'
import type { Detector } from './Detector.js'
import * as E from './either.js'
import { FailureCountConfig, failureCount } from './FailureCount.js'
import { FailureRateConfig, failureRate } from './FailureRate.js'
import { GradualRecoveryConfig, gradualRecovery } from './GradualRecovery.js'
import { LearnedPredictorConfig, learnedPredictor } from './LearnedPredictor.js'
import { Limits } from './Limits.js'
import {
  ConstantOpenForConfig,
  constantOpenFor,
  ExponentialOpenForConfig,
  exponentialOpenFor,
  type OpenFor,
  RetryAfterOpenForConfig,
  retryAfterOpenFor,
} from './OpenDuration.js'
import type { Recovery } from './Recovery.js'
import { SlowCallRateConfig, slowCallRate } from './SlowCallRate.js'
import type { Strategy } from './Strategy.js'
import { TrendForecastConfig, trendForecast } from './TrendForecast.js'

// ---- model -------------------------------------------------------------------------------

/**
 * What a kind's `build` gets besides its config: the means to decode the parts it nests (with
 * every kind of the table in use: built-in, composite or yours), and what the circuit around it
 * knows. Each decoder throws a `ConfigError` whose paths are under `path` (relative to the part
 * being built), so problems are reported at their place in the whole config.
 */
export interface BuildContext {
  /** Decodes one nested detector config at `path` (`'detectors[0]'`, `'inner'`). */
  detector(config: unknown, path: string): Detector<unknown>
  /** Decodes every detector config of `configs` (an array) at `path[i]`, reporting all problems together. */
  detectors(configs: unknown, path: string): ReadonlyArray<Detector<unknown>>
  /** Decodes a nested recovery config. */
  recovery(config: unknown, path: string): Recovery<unknown>
  /** Decodes a nested open-duration config. */
  openFor(config: unknown, path: string): OpenFor
  /** Decodes a nested strategy config: a circuit config, or any strategy kind (`adaptive-throttle`, yours). */
  strategy(config: unknown, path: string): Strategy<unknown>
  /**
   * The strictest failure-rate threshold of the circuit's closed detectors, if any (a recovery's
   * own threshold should default to it and not be laxer); `undefined` outside a recovery.
   */
  readonly closedFailureRate: number | undefined
}

/**
 * A kind of part: how to decode its JSON config (the `kind` field included) and build the part.
 * `build` may throw a `ConfigError` for a check across fields (paths relative to the part) or let
 * one from `ctx` through.
 */
export interface PartKind<C, P> {
  /** Decodes the kind's config from JSON (errors name the field and what was expected). */
  readonly codec: t.Decoder<unknown, C>
  /** Builds the part from its decoded config; `ctx` decodes nested parts with the same kinds. */
  build(config: C, ctx: BuildContext): P
}

/** A detector kind (a config under `trip`, or nested in a composite). */
export type DetectorKind<C = unknown> = PartKind<C, Detector<unknown>>
/** A recovery kind (`ctx.closedFailureRate` holds the closed detectors' strictest rate threshold). */
export type RecoveryKind<C = unknown> = PartKind<C, Recovery<unknown>>
/** An open-duration kind. */
export type OpenForKind<C = unknown> = PartKind<C, OpenFor>
/** A strategy kind: a whole strategy under its own `kind` (`adaptive-throttle`), typically wrapping a circuit config. */
export type StrategyKind<C = unknown> = PartKind<C, Strategy<unknown>>

/** Tables of part kinds by the `kind` a config names. */
export interface Kinds {
  /** Detector kinds, by the `kind` a config names under `trip`. */
  readonly detectors?: Readonly<Record<string, DetectorKind>>
  /** Recovery kinds, by the `kind` under `recovery`. */
  readonly recoveries?: Readonly<Record<string, RecoveryKind>>
  /** Open-duration kinds, by the `kind` under `openFor`. */
  readonly openFor?: Readonly<Record<string, OpenForKind>>
  /** Whole-strategy kinds, by the `kind` at a config's top. */
  readonly strategies?: Readonly<Record<string, StrategyKind>>
}

/** Options of `fromConfig`, `strategyFromConfig` and `circuit`. */
export interface ConfigOptions<K extends Kinds = Kinds> {
  /** Your kinds, added to (or replacing) the built-in ones of the same name. */
  readonly kinds?: K
}

/** Identity helpers that check a kind and keep its config type (so `circuit(config, { kinds })` knows your configs). */
export const detectorKind = <C>(kind: DetectorKind<C>): DetectorKind<C> => kind
/** {@link detectorKind} for a recovery kind. */
export const recoveryKind = <C>(kind: RecoveryKind<C>): RecoveryKind<C> => kind
/** {@link detectorKind} for an open-duration kind. */
export const openForKind = <C>(kind: OpenForKind<C>): OpenForKind<C> => kind
/** {@link detectorKind} for a whole-strategy kind (a config whose `kind` names a strategy, as `adaptive-throttle`). */
export const strategyKind = <C>(kind: StrategyKind<C>): StrategyKind<C> => kind

// ---- built-in kinds -----------------------------------------------------------------------

/** Config codec of `any-of` / `all-of`: `{ kind, detectors: [...] }` (members decoded by the kind). */
const compositeConfig = <K extends string>(kind: K) => struct(`an ${kind} detector`, { kind: literal(kind), detectors: t.unknown })

const describe = (u: unknown): string =>
  Array.isArray(u) ? 'an array' : u === null ? 'null' : typeof u === 'string' ? JSON.stringify(u) : String(u)

/** The members of a composite config, decoded through `ctx` (1 to `Limits.maxDetectorMembers` of them). */
const members = (detectors: unknown, ctx: BuildContext): ReadonlyArray<Detector<unknown>> => {
  if (!Array.isArray(detectors) || detectors.length === 0 || detectors.length > Limits.maxDetectorMembers) {
    const got = Array.isArray(detectors) ? detectors.length : describe(detectors)
    throw new ConfigError([problem('detectors', `expected 1 to ${Limits.maxDetectorMembers} detectors, got ${got}`)])
  }
  return ctx.detectors(detectors, 'detectors')
}

/** The adaptive throttle's config: Envoy's knobs (see `AdaptiveThrottleConfig`) and the strategy it wraps, under `circuit`. */
const ThrottleKindConfig = t.intersection([t.type({ kind: literal('adaptive-throttle') }), t.record(t.string, t.unknown)])

/** Decodes the throttle's knobs and the strategy it wraps, reporting the problems of both together. */
const buildThrottle = (input: Readonly<Record<string, unknown>>, ctx: BuildContext): Strategy<unknown> => {
  const { circuit: wrapped, ...knobs } = input
  const decoded = AdaptiveThrottleConfig.decode(knobs)
  const problems: Problem[] = E.isLeft(decoded) ? [...report(decoded.left)] : []
  let inner: Strategy<unknown> | undefined
  if (wrapped === undefined) problems.push(problem('circuit', 'expected a circuit config (the strategy the throttle wraps)'))
  else {
    try {
      inner = ctx.strategy(wrapped, 'circuit')
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      problems.push(...error.problems)
    }
  }
  if (problems.length > 0 || E.isLeft(decoded) || inner === undefined) throw new ConfigError(problems)
  const { kind: _kind, ...settings } = decoded.right
  return adaptiveThrottle(inner, settings) as Strategy<unknown>
}

// The built-in part kinds (a circuit's `trip`, `recovery` and `openFor`), each table its own
// constant: a bundler drops what a program never reads (a property read might not be pure).
const detectorKinds = {
  'consecutive-failures': detectorKind({ codec: ConsecutiveFailuresConfig, build: (c) => consecutiveFailures(c) }),
  'failure-count': detectorKind({ codec: FailureCountConfig, build: (c) => failureCount(c) }),
  'failure-rate': detectorKind({ codec: FailureRateConfig, build: (c) => failureRate(c) }),
  'slow-call-rate': detectorKind({ codec: SlowCallRateConfig, build: (c) => slowCallRate(c) }),
  'change-point': detectorKind({ codec: ChangePointConfig, build: (c) => changePoint(c) }),
  'trend-forecast': detectorKind({ codec: TrendForecastConfig, build: (c) => trendForecast(c) }),
  cusum: detectorKind({ codec: CusumConfig, build: (c) => cusum(c) }),
  learned: detectorKind({ codec: LearnedPredictorConfig, build: (c) => learnedPredictor(c) }),
  'any-of': detectorKind({ codec: compositeConfig('any-of'), build: (c, ctx) => anyOf(members(c.detectors, ctx)) }),
  'all-of': detectorKind({ codec: compositeConfig('all-of'), build: (c, ctx) => allOf(members(c.detectors, ctx)) }),
}

const recoveryKinds = {
  classic: recoveryKind({ codec: ClassicHalfOpenConfig, build: (c, ctx) => classicHalfOpen(c, ctx.closedFailureRate) }),
  gradual: recoveryKind({ codec: GradualRecoveryConfig, build: (c, ctx) => gradualRecovery(c, ctx.closedFailureRate) }),
}

const openForKinds = {
  constant: openForKind({ codec: ConstantOpenForConfig, build: (c) => constantOpenFor(c.ms) }),
  exponential: openForKind({ codec: ExponentialOpenForConfig, build: (c) => exponentialOpenFor(c) }),
  'retry-after': openForKind({
    codec: RetryAfterOpenForConfig,
    build: (c, ctx) =>
      retryAfterOpenFor({
        minMs: c.minMs,
        maxMs: c.maxMs,
        otherwise: c.otherwise === undefined ? undefined : ctx.openFor(c.otherwise, 'otherwise'),
      }),
  }),
}

/**
 * The built-in strategy kinds, read by `strategyFromConfig` (kept apart so that a program that
 * only builds circuits does not bundle the throttle).
 */
export const builtInStrategyKinds: Readonly<Record<string, StrategyKind>> = {
  'adaptive-throttle': { codec: ThrottleKindConfig, build: buildThrottle },
}

/** The built-in kinds: the default table every config is read with. */
export const builtInKinds = {
  detectors: detectorKinds,
  recoveries: recoveryKinds,
  openFor: openForKinds,
  strategies: builtInStrategyKinds,
} satisfies Required<Kinds>

/** The tables a config is read with: the built-in kinds, and yours over them. */
export interface Tables {
  readonly detectors: Readonly<Record<string, DetectorKind>>
  readonly recoveries: Readonly<Record<string, RecoveryKind>>
  readonly openFor: Readonly<Record<string, OpenForKind>>
  readonly strategies: Readonly<Record<string, StrategyKind>>
}

/**
 * The tables of one read: the built-in part kinds with yours over them; strategy kinds are the
 * given built-in ones (`strategyFromConfig` gives them; `fromConfig`, which reads a circuit, does
 * not) with yours over them.
 */
export const tables = (kinds: Kinds | undefined, strategies: Readonly<Record<string, StrategyKind>> = {}): Tables => ({
  detectors: { ...detectorKinds, ...kinds?.detectors },
  recoveries: { ...recoveryKinds, ...kinds?.recoveries },
  openFor: { ...openForKinds, ...kinds?.openFor },
  strategies: { ...strategies, ...kinds?.strategies },
})

// ---- decoding: JSON -> part values ---------------------------------------------------------

export const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === 'object' && u !== null && !Array.isArray(u)

/** Failures at `c` for problems whose paths are relative to it. */
const failuresAt = (c: t.Context, value: unknown, problems: ReadonlyArray<Problem>): t.Errors =>
  problems.map((p) => ({
    value,
    message: p.message.slice(p.message.indexOf(': ') + 2),
    context: p.path === '' ? c : p.path.split(/\.|(?=\[)/).reduce<t.Context>((ctx, key) => t.appendContext(ctx, key, t.unknown, value), c),
  }))

/** Runs `build`, turning a thrown `ConfigError` into failures at `c`. */
export const building = <P>(c: t.Context, value: unknown, build: () => P): t.Validation<P> => {
  try {
    return t.success(build())
  } catch (error) {
    if (error instanceof ConfigError) return E.left(failuresAt(c, value, error.problems))
    return t.failure(value, c, `could not be built: ${error instanceof Error ? error.message : String(error)}`)
  }
}

/** Dispatches on `kind` in `table`; an unknown or missing kind is reported at `<path>.kind`, listing the known ones. */
const kindOf = <K extends { readonly codec: t.Decoder<unknown, unknown> }>(
  what: string,
  table: Readonly<Record<string, K>>,
  u: unknown,
  c: t.Context,
): t.Validation<readonly [K, unknown]> => {
  if (u === undefined) return t.failure(u, c, `missing (expected ${what})`)
  if (!isRecord(u)) return t.failure(u, c, `expected ${what}, got ${describe(u)}`)
  const kind = u.kind
  const entry = typeof kind === 'string' && Object.hasOwn(table, kind) ? table[kind] : undefined
  if (entry === undefined) {
    const known = Object.keys(table)
      .map((k) => JSON.stringify(k))
      .join(' | ')
    return t.failure(
      kind,
      t.appendContext(c, 'kind', t.unknown, kind),
      `expected one of ${known}, got ${kind === undefined ? 'nothing' : (JSON.stringify(kind) ?? String(kind))}`,
    )
  }
  const config = entry.codec.validate(u, c)
  return E.isLeft(config) ? config : t.success([entry, config.right] as const)
}

/** How a whole strategy config is decoded (the circuit's own decoder lives with the constructors). */
export type CircuitDecoder = (input: unknown, c: t.Context, tables: Tables, depth: number) => t.Validation<Strategy<unknown>>

/**
 * The decoders of one read of a config: each part decoded by its kind, with a {@link BuildContext}
 * that decodes nested parts with the same tables (nesting bounded by `Limits.maxDetectorDepth`).
 */
export const decoders = (tables: Tables, decodeCircuit: CircuitDecoder) => {
  const nested =
    <P>(decode: (u: unknown, c: t.Context) => t.Validation<P>) =>
    (u: unknown, path: string): P => {
      const r = decode(u, t.getDefaultContext(t.unknown))
      if (E.isLeft(r)) throw new ConfigError(underPath(path, report(r.left)))
      return r.right
    }
  const tooDeep = (): ConfigError => new ConfigError([problem('', `expected composites nested at most ${Limits.maxDetectorDepth} deep`)])

  const contextAt = (depth: number, closedFailureRate: number | undefined): BuildContext => ({
    closedFailureRate,
    detector: (u, path) => {
      if (depth >= Limits.maxDetectorDepth) throw tooDeep()
      return nested((v, c) => detector(v, c, depth + 1))(u, path)
    },
    detectors: (us, path) => {
      if (depth >= Limits.maxDetectorDepth) throw tooDeep()
      if (!Array.isArray(us)) throw new ConfigError([problem(path, `expected an array of detector configs, got ${describe(us)}`)])
      const problems: Problem[] = []
      const built: Detector<unknown>[] = []
      us.forEach((u, i) => {
        const r = detector(u, t.getDefaultContext(t.unknown), depth + 1)
        if (E.isLeft(r)) problems.push(...underPath(`${path}[${i}]`, report(r.left)))
        else built.push(r.right)
      })
      if (problems.length > 0) throw new ConfigError(problems)
      return built
    },
    recovery: (u, path) => nested((v, c) => recovery(v, c, closedFailureRate))(u, path),
    openFor: (u, path) => nested(openFor)(u, path),
    strategy: (u, path) => {
      if (depth >= Limits.maxDetectorDepth) throw tooDeep()
      return nested((v, c) => strategy(v, c, depth + 1))(u, path)
    },
  })

  const part =
    <P>(what: string, table: Readonly<Record<string, PartKind<unknown, P>>>) =>
    (u: unknown, c: t.Context, ctx: BuildContext): t.Validation<P> => {
      const entry = kindOf(what, table, u, c)
      if (E.isLeft(entry)) return entry
      const [kind, config] = entry.right
      return building(c, u, () => kind.build(config, ctx))
    }
  const detectorPart = part('a detector', tables.detectors)
  const recoveryPart = part('a recovery', tables.recoveries)
  const openForPart = part('an open duration', tables.openFor)
  const strategyPart = part('a strategy kind', tables.strategies)

  const detector = (u: unknown, c: t.Context, depth: number): t.Validation<Detector<unknown>> =>
    detectorPart(u, c, contextAt(depth, undefined))
  const recovery = (u: unknown, c: t.Context, closedFailureRate: number | undefined): t.Validation<Recovery<unknown>> =>
    recoveryPart(u, c, contextAt(0, closedFailureRate))
  const openFor = (u: unknown, c: t.Context): t.Validation<OpenFor> => openForPart(u, c, contextAt(0, undefined))
  /** A strategy kind when the config names one (`kind`), else a circuit config. */
  const strategy = (u: unknown, c: t.Context, depth: number): t.Validation<Strategy<unknown>> =>
    isRecord(u) && u.kind !== undefined ? strategyPart(u, c, contextAt(depth, undefined)) : decodeCircuit(u, c, tables, depth)
  return { detector, recovery, openFor, strategy }
}
