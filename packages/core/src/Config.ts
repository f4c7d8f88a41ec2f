/**
 * Configs as data: JSON -> part values -> `circuitOf`. Each part kind is a `{ codec, build }`
 * entry in a table; the built-in kinds are just the default table, and `fromConfig(json, { kinds })`
 * adds yours (no global registry: the table travels with the call). Decoding fills defaults,
 * range-checks every number against {@link Limits}, rejects unknown keys, and checks parts
 * against each other (a recovery threshold must be at least as strict as the closed one).
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { AdaptiveThrottleConfig, adaptiveThrottle, type ThrottledStrategy } from './AdaptiveThrottle.js'
import { allOf } from './AllOf.js'
import { anyOf } from './AnyOf.js'
import { ChangePointConfig, changePoint } from './ChangePoint.js'
import { type CircuitConfig, type CircuitData, type CircuitStrategy, circuitOf } from './Circuit.js'
import { ClassicHalfOpenConfig, classicHalfOpen } from './ClassicHalfOpen.js'
import { ConfigError, problem, underPath } from './ConfigError.js'
import { ConsecutiveFailuresConfig, consecutiveFailures } from './ConsecutiveFailures.js'
import { intIn, literal, type Problem, report, struct } from './codecs.js'
import type { Detector } from './Detector.js'
import { FailureCountConfig, failureCount } from './FailureCount.js'
import { FailureRateConfig, failureRate } from './FailureRate.js'
import { GradualRecoveryConfig, gradualRecovery } from './GradualRecovery.js'
import { LearnedPredictorConfig, learnedPredictor } from './LearnedPredictor.js'
import { Limits } from './Limits.js'
import {
  ConstantOpenForConfig,
  constantOpenFor,
  DEFAULT_OPEN_FOR,
  ExponentialOpenForConfig,
  exponentialOpenFor,
  type OpenFor,
} from './OpenDuration.js'
import type { Recovery } from './Recovery.js'
import { SlowCallRateConfig, slowCallRate } from './SlowCallRate.js'
import { TrendForecastConfig, trendForecast } from './TrendForecast.js'

export { ConfigError }

// ---- model -------------------------------------------------------------------------------

/**
 * A detector kind: how to decode its JSON config (the `kind` field included) and build the
 * detector. `build` may throw a `ConfigError` for a check across fields; its paths are relative
 * to the part.
 */
export interface DetectorKind<C = unknown> {
  readonly codec: t.Decoder<unknown, C>
  build(config: C): Detector<unknown>
}

/**
 * A recovery kind. `closedFailureRate` is the strictest failure-rate threshold of the closed
 * detectors, if any: a recovery's own threshold should default to it and not be laxer.
 */
export interface RecoveryKind<C = unknown> {
  readonly codec: t.Decoder<unknown, C>
  build(config: C, closedFailureRate: number | undefined): Recovery<unknown>
}

/** An open-duration kind. */
export interface OpenForKind<C = unknown> {
  readonly codec: t.Decoder<unknown, C>
  build(config: C): OpenFor
}

/** Tables of part kinds by the `kind` a config names. */
export interface Kinds {
  readonly detectors?: Readonly<Record<string, DetectorKind>>
  readonly recoveries?: Readonly<Record<string, RecoveryKind>>
  readonly openFor?: Readonly<Record<string, OpenForKind>>
}

/** Options of {@link fromConfig} and {@link circuit}. */
export interface ConfigOptions {
  /** Your kinds, added to (or replacing) the built-in ones of the same name. `any-of` and `all-of` are reserved. */
  readonly kinds?: Kinds
}

/** Helpers that keep a kind's config type while putting it in a table. */
export const detectorKind = <C>(kind: DetectorKind<C>): DetectorKind => kind as DetectorKind
export const recoveryKind = <C>(kind: RecoveryKind<C>): RecoveryKind => kind as RecoveryKind
export const openForKind = <C>(kind: OpenForKind<C>): OpenForKind => kind as OpenForKind

/** The built-in kinds: the default table every config is read with. */
export const builtInKinds = {
  detectors: {
    'consecutive-failures': detectorKind({ codec: ConsecutiveFailuresConfig, build: consecutiveFailures }),
    'failure-count': detectorKind({ codec: FailureCountConfig, build: failureCount }),
    'failure-rate': detectorKind({ codec: FailureRateConfig, build: failureRate }),
    'slow-call-rate': detectorKind({ codec: SlowCallRateConfig, build: slowCallRate }),
    'change-point': detectorKind({ codec: ChangePointConfig, build: changePoint }),
    'trend-forecast': detectorKind({ codec: TrendForecastConfig, build: trendForecast }),
    learned: detectorKind({ codec: LearnedPredictorConfig, build: learnedPredictor }),
  },
  recoveries: {
    classic: recoveryKind({ codec: ClassicHalfOpenConfig, build: classicHalfOpen }),
    gradual: recoveryKind({ codec: GradualRecoveryConfig, build: gradualRecovery }),
  },
  openFor: {
    constant: openForKind({ codec: ConstantOpenForConfig, build: (c) => constantOpenFor(c.ms) }),
    exponential: openForKind({ codec: ExponentialOpenForConfig, build: exponentialOpenFor }),
  },
} satisfies Required<Kinds>

/** A circuit config as a user writes it with the built-in kinds (and as JSON files hold it). */
export interface CircuitConfigInput {
  /** Default `'circuit'`. */
  readonly name?: string
  readonly trip: TripConfigInput
  /** Default `{ kind: 'classic', probes: 1 }`. */
  readonly recovery?: RecoveryConfigInput
  /** Default `{ kind: 'constant', ms: 30000 }`. */
  readonly openFor?: OpenForConfigInput
  /** Default 60,000. */
  readonly probeTimeoutMs?: number
  /** A number (1 to 1,000), or `'learned'` (the default): see `CircuitPartsInput`. */
  readonly maxProbesInFlight?: number | 'learned'
}

/** Failure detection as written by a user: the built-in kinds' configs, derived from their codecs. */
export type TripConfigInput =
  | t.OutputOf<typeof ConsecutiveFailuresConfig>
  | t.OutputOf<typeof FailureCountConfig>
  | t.OutputOf<typeof FailureRateConfig>
  | t.OutputOf<typeof SlowCallRateConfig>
  | t.OutputOf<typeof ChangePointConfig>
  | t.OutputOf<typeof TrendForecastConfig>
  | t.OutputOf<typeof LearnedPredictorConfig>
  | { readonly kind: 'any-of' | 'all-of'; readonly detectors: ReadonlyArray<TripConfigInput> }

/** Recovery as written by a user. */
export type RecoveryConfigInput = t.OutputOf<typeof ClassicHalfOpenConfig> | t.OutputOf<typeof GradualRecoveryConfig>

/** Open duration as written by a user. */
export type OpenForConfigInput = t.OutputOf<typeof ConstantOpenForConfig> | t.OutputOf<typeof ExponentialOpenForConfig>

// ---- decoders: JSON -> part values ----------------------------------------------------------

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === 'object' && u !== null && !Array.isArray(u)

const COMPOSITES = { 'any-of': anyOf, 'all-of': allOf } as const

/** Failures at `c` for problems whose paths are relative to it. */
const failuresAt = (c: t.Context, value: unknown, problems: ReadonlyArray<Problem>): t.Errors =>
  problems.map((p) => ({
    value,
    message: p.message.slice(p.message.indexOf(': ') + 2),
    context: p.path === '' ? c : p.path.split(/\.|(?=\[)/).reduce<t.Context>((ctx, key) => t.appendContext(ctx, key, t.unknown, value), c),
  }))

/** Runs `build`, turning a thrown `ConfigError` into failures at `c`. */
const building = <P>(c: t.Context, value: unknown, build: () => P): t.Validation<P> => {
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
  extra: ReadonlyArray<string> = [],
): t.Validation<readonly [K, unknown]> => {
  if (u === undefined) return t.failure(u, c, `missing (expected ${what})`)
  if (!isRecord(u)) return t.failure(u, c, `expected ${what}, got ${describeKindless(u)}`)
  const kind = u.kind
  const entry = typeof kind === 'string' && Object.hasOwn(table, kind) ? table[kind] : undefined
  if (entry === undefined) {
    const known = [...Object.keys(table), ...extra].map((k) => JSON.stringify(k)).join(' | ')
    return t.failure(
      kind,
      t.appendContext(c, 'kind', t.unknown, kind),
      `expected one of ${known}, got ${kind === undefined ? 'nothing' : (JSON.stringify(kind) ?? String(kind))}`,
    )
  }
  const config = entry.codec.validate(u, c)
  return E.isLeft(config) ? config : t.success([entry, config.right] as const)
}

const describeKindless = (u: unknown): string =>
  Array.isArray(u) ? 'an array' : u === null ? 'null' : typeof u === 'string' ? JSON.stringify(u) : String(u)

const CompositeShape = struct('a composite detector', { kind: t.string, detectors: t.unknown })

/** Decodes a detector config (composites included, to a bounded depth) straight into a detector value. */
const detectorDecoder = (table: Readonly<Record<string, DetectorKind>>) => {
  const decode = (u: unknown, c: t.Context, depth: number): t.Validation<Detector<unknown>> => {
    const kind = isRecord(u) ? u.kind : undefined
    if (kind === 'any-of' || kind === 'all-of') {
      if (depth >= Limits.maxDetectorDepth) return t.failure(u, c, `expected composites nested at most ${Limits.maxDetectorDepth} deep`)
      const shape = CompositeShape.validate(u, c)
      if (E.isLeft(shape)) return shape
      const members = shape.right.detectors
      const at = t.appendContext(c, 'detectors', t.unknown, members)
      if (!Array.isArray(members) || members.length === 0 || members.length > Limits.maxDetectorMembers) {
        return t.failure(
          members,
          at,
          `expected 1 to ${Limits.maxDetectorMembers} detectors, got ${Array.isArray(members) ? members.length : describeKindless(members)}`,
        )
      }
      const errors: t.ValidationError[] = []
      const built: Detector<unknown>[] = []
      members.forEach((m, i) => {
        const r = decode(m, t.appendContext(at, `[${i}]`, t.unknown, m), depth + 1)
        if (E.isLeft(r)) errors.push(...r.left)
        else built.push(r.right)
      })
      if (errors.length > 0) return t.failures(errors)
      return building(c, u, () => COMPOSITES[kind](built))
    }
    const entry = kindOf('a detector', table, u, c, Object.keys(COMPOSITES))
    if (E.isLeft(entry)) return entry
    const [k, config] = entry.right
    return building(c, u, () => k.build(config))
  }
  return decode
}

const Top = struct(
  'a circuit config',
  { trip: t.unknown },
  {
    name: t.string,
    recovery: t.unknown,
    openFor: t.unknown,
    probeTimeoutMs: intIn(Limits.minDurationMs, Limits.maxDurationMs),
    maxProbesInFlight: t.union(
      [intIn(1, Limits.maxProbesInFlight), literal('learned')],
      `an integer in [1, ${Limits.maxProbesInFlight}] or 'learned'`,
    ),
  },
)

const DEFAULT_RECOVERY = { kind: 'classic' }

const tables = (kinds: Kinds | undefined) => ({
  detectors: { ...builtInKinds.detectors, ...kinds?.detectors },
  recoveries: { ...builtInKinds.recoveries, ...kinds?.recoveries },
  openFor: { ...builtInKinds.openFor, ...kinds?.openFor },
})

/** Decodes a whole circuit config into its strategy, collecting the problems of every part. */
const decodeCircuit = (input: unknown, kinds: Kinds | undefined): t.Validation<CircuitStrategy> => {
  const c = t.getDefaultContext(Top)
  if (!isRecord(input)) return t.failure(input, c)
  // Problems of the top level (unknown keys, limits) and of every part are reported together.
  const top = Top.validate(input, c)
  const errors: t.ValidationError[] = E.isLeft(top) ? [...top.left] : []
  const { trip, name, recovery, openFor, probeTimeoutMs, maxProbesInFlight } = E.isRight(top)
    ? top.right
    : {
        ...(input as { trip?: unknown; recovery?: unknown; openFor?: unknown }),
        name: undefined,
        probeTimeoutMs: undefined,
        maxProbesInFlight: undefined,
      }
  const table = tables(kinds)
  const part = <P>(key: string, value: unknown, decode: (u: unknown, ctx: t.Context) => t.Validation<P>): P | undefined => {
    const r = decode(value, t.appendContext(c, key, t.unknown, value))
    if (E.isRight(r)) return r.right
    errors.push(...r.left)
    return undefined
  }
  const detector = part('trip', trip, (u, ctx) => detectorDecoder(table.detectors)(u, ctx, 0))
  const openForPart = part('openFor', openFor ?? DEFAULT_OPEN_FOR, (u, ctx) => {
    const entry = kindOf('an open duration', table.openFor, u, ctx)
    return E.isLeft(entry) ? entry : building(ctx, u, () => entry.right[0].build(entry.right[1]))
  })
  // The recovery is checked against the closed detectors' threshold (when they decoded).
  const recoveryPart = part('recovery', recovery ?? DEFAULT_RECOVERY, (u, ctx) => {
    const entry = kindOf('a recovery', table.recoveries, u, ctx)
    return E.isLeft(entry) ? entry : building(ctx, u, () => entry.right[0].build(entry.right[1], detector?.failureRateThreshold))
  })
  if (errors.length > 0 || detector === undefined || recoveryPart === undefined || openForPart === undefined) return t.failures(errors)
  return building(c, input, () =>
    circuitOf({
      name: name ?? 'circuit',
      detector,
      recovery: recoveryPart,
      openFor: openForPart,
      ...(probeTimeoutMs === undefined ? {} : { probeTimeoutMs }),
      ...(maxProbesInFlight === undefined ? {} : { maxProbesInFlight }),
    }),
  )
}

// ---- constructors ------------------------------------------------------------------------

/**
 * Decodes `input` (e.g. parsed JSON) and builds the strategy, or returns a {@link ConfigError}
 * whose message names each bad path, what was expected and what was given. Never throws, for
 * any input. `options.kinds` adds your own part kinds.
 *
 * @example
 * import { fromConfig } from '@datapunk/breaker'
 * const result = fromConfig({ trip: { kind: 'failure-rate', treshold: 0.5, window: { kind: 'count', size: 10 } } })
 * result._tag === 'Left' && result.left.message
 * // 'trip.treshold: unknown key (expected only kind, threshold, window, minimumCalls)\ntrip.threshold: missing (expected a ratio in (0, 1])'
 */
export const fromConfig = (input: unknown, options: ConfigOptions = {}): E.Either<ConfigError, CircuitStrategy> => {
  try {
    return E.mapLeft((errors: t.Errors) => new ConfigError(report(errors)))(decodeCircuit(input, options.kinds))
  } catch (error) {
    // A hostile input (a throwing getter, a proxy) must still give an answer, not an exception.
    return E.left(
      new ConfigError([{ path: '', message: `(root): could not be read: ${error instanceof Error ? error.message : String(error)}` }]),
    )
  }
}

/** A strategy a config describes: a circuit, or an adaptive throttle around one. */
export type ConfiguredStrategy = CircuitStrategy | ThrottledStrategy<CircuitData>

/**
 * Decodes any strategy config: a circuit config (as {@link fromConfig} reads it), or
 * `{ kind: 'adaptive-throttle', ...knobs, circuit }`, an adaptive throttle (Envoy's admission
 * control: see `adaptiveThrottle`) around a circuit config. Every problem is named by its path
 * (`circuit.trip.threshold: ...`, `maxRejectionProbability: ...`). The CLI's `run`, `tune` and
 * `replay` and the runtime's `followConfig` read configs with it.
 *
 * @example
 * import { strategyFromConfig } from '@datapunk/breaker'
 * const throttled = strategyFromConfig({
 *   kind: 'adaptive-throttle',
 *   successRateThreshold: 0.8,
 *   circuit: { name: 'payments', trip: { kind: 'consecutive-failures', threshold: 5 } },
 * })
 * throttled._tag === 'Right' && throttled.right.name // 'payments'
 * const bad = strategyFromConfig({ kind: 'adaptive-throttle', aggression: 0, circuit: { trip: { kind: 'nope' } } })
 * bad._tag === 'Left' && bad.left.message.split('\n').length // 2
 */
export const strategyFromConfig = (input: unknown, options: ConfigOptions = {}): E.Either<ConfigError, ConfiguredStrategy> => {
  if (!isRecord(input) || input.kind !== 'adaptive-throttle') return fromConfig(input, options)
  try {
    const { circuit: inner, ...knobs } = input
    const decoded = AdaptiveThrottleConfig.decode(knobs)
    const problems = E.isLeft(decoded) ? report(decoded.left) : []
    const built =
      inner === undefined
        ? E.left(new ConfigError([problem('', 'expected a circuit config (the strategy the throttle wraps)')]))
        : fromConfig(inner, options)
    const all = E.isLeft(built) ? [...problems, ...underPath('circuit', built.left.problems)] : problems
    if (all.length > 0 || E.isLeft(decoded) || E.isLeft(built)) return E.left(new ConfigError(all))
    const { kind: _kind, ...settings } = decoded.right
    return E.right(adaptiveThrottle(built.right, settings))
  } catch (error) {
    return E.left(new ConfigError([{ path: '', message: `(root): ${error instanceof Error ? error.message : String(error)}` }]))
  }
}

/**
 * Builds a circuit strategy from a config (see {@link CircuitConfigInput}). Throws a
 * {@link ConfigError} naming every bad field; use {@link fromConfig} for an `Either` instead.
 *
 * @example
 * import { BreakerEvent, circuit } from '@datapunk/breaker'
 * const strategy = circuit({
 *   trip: { kind: 'consecutive-failures', threshold: 2 },
 *   recovery: { kind: 'classic', probes: 1 },
 *   openFor: { kind: 'constant', ms: 1000 },
 * })
 * let state = strategy.initial(0)
 * for (const at of [0, 10]) {
 *   const [afterRequest, ticket] = strategy.step(state, BreakerEvent.requested(), at)
 *   if (ticket._tag !== 'Admitted') break
 *   ;[state] = strategy.step(afterRequest, BreakerEvent.failed(ticket, 5), at + 5)
 * }
 * strategy.inspect(state).state // 'open'
 * strategy.step(state, BreakerEvent.requested(), 20)[1] // { _tag: 'Rejected', reason: 'open', retryAfterMs: 995 }
 */
export const circuit = (input: CircuitConfigInput, options: ConfigOptions = {}): CircuitStrategy => {
  const decoded = fromConfig(input, options)
  if (E.isLeft(decoded)) throw decoded.left
  return decoded.right
}

/**
 * Decodes a config into its complete, canonical form (every default filled), or a
 * {@link ConfigError} listing every problem (`recovery.initialRate: expected a ratio in (0, 1], got 1.5`).
 *
 * @example
 * import { decodeConfig } from '@datapunk/breaker'
 * const result = decodeConfig({ trip: { kind: 'consecutive-failures', threshold: 0 } })
 * result._tag === 'Left' && result.left.message // 'trip.threshold: expected an integer >= 1, got 0'
 */
export const decodeConfig = (input: unknown, options: ConfigOptions = {}): E.Either<ConfigError, CircuitConfig> =>
  E.map((strategy: CircuitStrategy) => strategy.config)(fromConfig(input, options))

/**
 * Decodes one detector config into a detector value (composites and your kinds included).
 *
 * @example
 * import { decodeDetector } from '@datapunk/breaker'
 * const result = decodeDetector({ kind: 'any-of', detectors: [{ kind: 'consecutive-failures', threshold: 3 }] })
 * result._tag === 'Right' && result.right.kind // 'any-of'
 */
export const decodeDetector = (input: unknown, options: ConfigOptions = {}): E.Either<ConfigError, Detector<unknown>> => {
  const decoded = detectorDecoder(tables(options.kinds).detectors)(input, t.getDefaultContext(t.unknown), 0)
  return E.mapLeft((errors: t.Errors) => new ConfigError(report(errors)))(decoded)
}
