/**
 * Configs as data: JSON -> part values -> `circuitOf`. Every part is decoded by its kind (see
 * `Kinds.ts`: the registry, where the built-in kinds are ordinary entries and yours join them).
 * Decoding fills defaults, range-checks every number against {@link Limits}, rejects unknown keys,
 * and checks parts against each other (a recovery threshold must be at least as strict as the
 * closed one).
 */

import * as t from 'io-ts'
import type { ChangePointConfig } from './ChangePoint.js'
import { type CircuitConfig, type CircuitStrategy, circuitOf, MaxProbesInFlight, ProbeTimeout } from './Circuit.js'
import type { ClassicHalfOpenConfig } from './ClassicHalfOpen.js'
import { ConfigError } from './ConfigError.js'
import type { ConsecutiveFailuresConfig } from './ConsecutiveFailures.js'
import type { CusumConfig } from './Cusum.js'
import { render, report, struct } from './codecs.js'
import type { Detector } from './Detector.js'
import * as E from './either.js'
import type { FailureCountConfig } from './FailureCount.js'
import type { FailureRateConfig } from './FailureRate.js'
import type { GradualRecoveryConfig } from './GradualRecovery.js'
import { building, builtInStrategyKinds, type ConfigOptions, decoders, isRecord, type Kinds, type Tables, tables } from './Kinds.js'
import type { LearnedPredictorConfig } from './LearnedPredictor.js'
import { type ConstantOpenForConfig, DEFAULT_OPEN_FOR, type ExponentialOpenForConfig } from './OpenDuration.js'
import type { SlowCallRateConfig } from './SlowCallRate.js'
import type { Strategy } from './Strategy.js'
import type { TrendForecastConfig } from './TrendForecast.js'

export { ConfigError }

// ---- model -------------------------------------------------------------------------------

/** The config a kind's codec reads, as written: the codec's encoded form where it has one (defaults optional), else its decoded type. */
type ConfigOf<K> = K extends { readonly codec: { encode(a: never): infer O } }
  ? O
  : K extends { readonly codec: t.Decoder<unknown, infer C> }
    ? C
    : never
/** The configs of every kind in a table. */
type ConfigsOf<T> = T extends Readonly<Record<string, unknown>> ? { [P in keyof T]: ConfigOf<T[P]> }[keyof T] : never
/** The configs of your kinds in slot `S` of `K` (none when `K` has no such table). */
type Yours<K extends Kinds, S extends keyof Kinds> = K extends { readonly [P in S]: infer T } ? ConfigsOf<T> : never

/** A circuit config as a user writes it: the built-in kinds, and yours when `circuit(config, { kinds })` is given them. */
export interface CircuitConfigInput<K extends Kinds = Kinds> {
  /** Default `'circuit'`. */
  readonly name?: string
  /** The failure detector: a built-in kind's config or one of your kinds'. */
  readonly trip: TripConfigInput<K>
  /** Default `{ kind: 'classic', probes: 1 }`. */
  readonly recovery?: RecoveryConfigInput<K>
  /** Default `{ kind: 'constant', ms: 30000 }`. */
  readonly openFor?: OpenForConfigInput<K>
  /** Default 60,000. */
  readonly probeTimeoutMs?: number
  /** A number (1 to 1,000), or `'learned'` (the default): see `CircuitPartsInput`. */
  readonly maxProbesInFlight?: number | 'learned'
}

/** Failure detection as written by a user: the built-in kinds' configs (derived from their codecs), composites of them, and yours. */
export type TripConfigInput<K extends Kinds = Kinds> =
  | t.OutputOf<typeof ConsecutiveFailuresConfig>
  | t.OutputOf<typeof FailureCountConfig>
  | t.OutputOf<typeof FailureRateConfig>
  | t.OutputOf<typeof SlowCallRateConfig>
  | t.OutputOf<typeof ChangePointConfig>
  | t.OutputOf<typeof TrendForecastConfig>
  | t.OutputOf<typeof CusumConfig>
  | t.OutputOf<typeof LearnedPredictorConfig>
  | { readonly kind: 'any-of' | 'all-of'; readonly detectors: ReadonlyArray<TripConfigInput<K>> }
  | Yours<K, 'detectors'>

/** Recovery as written by a user. */
export type RecoveryConfigInput<K extends Kinds = Kinds> =
  | t.OutputOf<typeof ClassicHalfOpenConfig>
  | t.OutputOf<typeof GradualRecoveryConfig>
  | Yours<K, 'recoveries'>

/** Open duration as written by a user. */
export type OpenForConfigInput<K extends Kinds = Kinds> =
  | t.OutputOf<typeof ConstantOpenForConfig>
  | t.OutputOf<typeof ExponentialOpenForConfig>
  | {
      readonly kind: 'retry-after'
      readonly minMs?: number
      readonly maxMs?: number
      /** The open duration without a retry hint. */
      readonly otherwise?: OpenForConfigInput<K>
    }
  | Yours<K, 'openFor'>

// ---- decoders: JSON -> part values ----------------------------------------------------------

const Top = struct(
  'a circuit config',
  { trip: t.unknown },
  {
    name: t.string,
    recovery: t.unknown,
    openFor: t.unknown,
    probeTimeoutMs: ProbeTimeout,
    maxProbesInFlight: MaxProbesInFlight,
  },
)

const DEFAULT_RECOVERY = { kind: 'classic' }

/** Decodes a whole circuit config into its strategy, collecting the problems of every part. */
const decodeCircuit = (input: unknown, c: t.Context, table: Tables, depth: number): t.Validation<CircuitStrategy> => {
  if (!isRecord(input)) return t.failure(input, c, `expected a circuit config, got ${render(input)}`)
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
  const decode = decoders(table, decodeStrategyCircuit)
  const part = <P>(key: string, value: unknown, f: (u: unknown, ctx: t.Context) => t.Validation<P>): P | undefined => {
    const r = f(value, t.appendContext(c, key, t.unknown, value))
    if (E.isRight(r)) return r.right
    errors.push(...r.left)
    return undefined
  }
  const detector = part('trip', trip, (u, ctx) => decode.detector(u, ctx, depth))
  const openForPart = part('openFor', openFor ?? DEFAULT_OPEN_FOR, decode.openFor)
  // The recovery is checked against the closed detectors' threshold (when they decoded).
  const recoveryPart = part('recovery', recovery ?? DEFAULT_RECOVERY, (u, ctx) => decode.recovery(u, ctx, detector?.failureRateThreshold))
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

/** `decodeCircuit` as the registry's decoders take it (a circuit inside a strategy kind). */
const decodeStrategyCircuit = (input: unknown, c: t.Context, table: Tables, depth: number): t.Validation<Strategy<unknown>> =>
  decodeCircuit(input, c, table, depth) as t.Validation<Strategy<unknown>>

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
    const decoded = decodeCircuit(input, t.getDefaultContext(Top), tables(options.kinds), 0)
    return E.mapLeft((errors: t.Errors) => new ConfigError(report(errors)))(decoded)
  } catch (error) {
    // A hostile input (a throwing getter, a proxy) must still give an answer, not an exception.
    return E.left(
      new ConfigError([{ path: '', message: `(root): could not be read: ${error instanceof Error ? error.message : String(error)}` }]),
    )
  }
}

/**
 * A strategy a config describes: a circuit, an adaptive throttle around one, or a strategy of your
 * own kind. Kinds built here carry the `config` they were built from.
 */
export type ConfiguredStrategy = Strategy<unknown> & { readonly config?: unknown }

/**
 * Decodes any strategy config: a circuit config (as {@link fromConfig} reads it, no `kind`), or a
 * strategy kind of the registry: `{ kind: 'adaptive-throttle', ...knobs, circuit }`, an adaptive
 * throttle (Envoy's admission control: see `adaptiveThrottle`) around a circuit config, or yours
 * (`options.kinds.strategies`). Every problem is named by its path (`circuit.trip.threshold: ...`,
 * `maxRejectionProbability: ...`). The CLI's `run`, `tune` and `replay` and the runtime's
 * `followConfig` read configs with it.
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
  try {
    const decoded = decoders(tables(options.kinds, builtInStrategyKinds), decodeStrategyCircuit).strategy(
      input,
      t.getDefaultContext(Top),
      0,
    )
    return E.mapLeft((errors: t.Errors) => new ConfigError(report(errors)))(decoded)
  } catch (error) {
    // A hostile input (a throwing getter, a proxy) must still give an answer, not an exception.
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
export const circuit = <K extends Kinds = Kinds>(input: CircuitConfigInput<K>, options: ConfigOptions<K> = {}): CircuitStrategy => {
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
  const decoded = decoders(tables(options.kinds), decodeStrategyCircuit).detector(input, t.getDefaultContext(t.unknown), 0)
  return E.mapLeft((errors: t.Errors) => new ConfigError(report(errors)))(decoded)
}
