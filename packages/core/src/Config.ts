/**
 * The JSON config format of a circuit, and its codec. Decoding fills defaults, range-checks every
 * number, rejects unknown keys, and checks fields against each other (a recovery threshold must
 * be at least as strict as the closed one).
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { CLASSIC_FAILURE_RATE_THRESHOLD, ClassicHalfOpenConfigInput, completeClassicConfig } from './ClassicHalfOpen.js'
import { ConfigError } from './ConfigError.js'
import { report, struct, tagged } from './codecs.js'
import type { TripConfig as TripConfigType } from './Detector.js'
import { completeGradualConfig, GRADUAL_FAILURE_RATE_THRESHOLD, GradualRecoveryConfigInput } from './GradualRecovery.js'
import { type OpenForConfig, OpenForConfig as OpenForConfigCodec } from './OpenDuration.js'
import type { RecoveryConfig } from './Recovery.js'
import { TripConfig } from './Trip.js'
import type { WindowSpec } from './Window.js'

export { ConfigError }

// ---- model -------------------------------------------------------------------------------

/** A decoded circuit config: every default filled, every number checked. */
export interface CircuitConfig {
  readonly name: string
  readonly trip: TripConfigType
  readonly recovery: RecoveryConfig
  readonly openFor: OpenForConfig
}

/**
 * A circuit config as a user writes it (and as JSON files hold it). Optional fields show their
 * default.
 */
export interface CircuitConfigInput {
  /** Default `'circuit'`. */
  readonly name?: string
  readonly trip: TripConfigInput
  /** Default `{ kind: 'classic', probes: 1 }`. */
  readonly recovery?: RecoveryConfigInput
  /** Default `{ kind: 'constant', ms: 30000 }`. */
  readonly openFor?: OpenForConfigInput
}

/** Failure detection as written by a user. */
export type TripConfigInput =
  | { readonly kind: 'consecutive-failures'; readonly threshold: number }
  | { readonly kind: 'failure-count'; readonly threshold: number; readonly window: WindowSpec }
  | {
      readonly kind: 'failure-rate'
      readonly threshold: number
      /** Default 10. */
      readonly minimumCalls?: number
      readonly window: WindowSpec
    }
  | {
      readonly kind: 'slow-call-rate'
      readonly threshold: number
      readonly slowCallMs: number
      /** Default 10. */
      readonly minimumCalls?: number
      readonly window: WindowSpec
    }
  | { readonly kind: 'any-of'; readonly detectors: ReadonlyArray<TripConfigInput> }

/** Recovery as written by a user. */
export type RecoveryConfigInput =
  | {
      readonly kind: 'classic'
      /** Default 1. */
      readonly probes?: number
      /** Default 0.5, or the closed failure-rate threshold if stricter. */
      readonly failureRateThreshold?: number
      readonly slowCallMs?: number
    }
  | {
      readonly kind: 'gradual'
      /** Default 0.1. */
      readonly initialRate?: number
      /** Default 0.1. */
      readonly increment?: number
      /** Default 4. */
      readonly maxSpeed?: number
      /** Default 20. */
      readonly stageCalls?: number
      /** Default 0. */
      readonly stageMs?: number
      /** Default 0.2, or the closed failure-rate threshold if stricter. */
      readonly failureRateThreshold?: number
      /** Default half of `failureRateThreshold`. */
      readonly marginalRate?: number
      readonly slowCallMs?: number
    }

/** Open duration as written by a user. */
export type OpenForConfigInput =
  | { readonly kind: 'constant'; readonly ms: number }
  | {
      readonly kind: 'exponential'
      readonly initialMs: number
      /** Default 2. */
      readonly multiplier?: number
      readonly maxMs: number
    }

// ---- codecs ------------------------------------------------------------------------------

const RecoveryConfigInputCodec = tagged('a recovery', { classic: ClassicHalfOpenConfigInput, gradual: GradualRecoveryConfigInput })

const Raw = struct(
  'a circuit config',
  { trip: TripConfig },
  { name: t.string, recovery: RecoveryConfigInputCodec, openFor: OpenForConfigCodec },
)

const DEFAULT_OPEN_FOR: OpenForConfig = { kind: 'constant', ms: 30_000 }

/** The strictest failure-rate threshold among the closed detectors, if any. */
const closedFailureRate = (trip: TripConfigType): number | undefined => {
  switch (trip.kind) {
    case 'failure-rate':
      return trip.threshold
    case 'any-of': {
      const rates = trip.detectors.map(closedFailureRate).filter((r): r is number => r !== undefined)
      return rates.length === 0 ? undefined : Math.min(...rates)
    }
    default:
      return undefined
  }
}

type RawRecovery = t.TypeOf<typeof RecoveryConfigInputCodec>

const problemAt = (c: t.Context, path: string, value: unknown, message: string): t.ValidationError => ({
  value,
  message,
  context: path.split('.').reduce<t.Context>((ctx, key) => t.appendContext(ctx, key, t.unknown, value), c),
})

const completeRecovery = (raw: RawRecovery | undefined, closedRate: number | undefined, c: t.Context): t.Validation<RecoveryConfig> => {
  const recovery: RawRecovery = raw ?? { kind: 'classic', probes: 1 }
  const kindDefault = recovery.kind === 'classic' ? CLASSIC_FAILURE_RATE_THRESHOLD : GRADUAL_FAILURE_RATE_THRESHOLD
  const given = recovery.failureRateThreshold
  if (given !== undefined && closedRate !== undefined && given > closedRate) {
    return t.failures([
      problemAt(
        c,
        'recovery.failureRateThreshold',
        given,
        `expected at most the closed failure-rate threshold (${closedRate}), got ${given}`,
      ),
    ])
  }
  const defaultThreshold = Math.min(kindDefault, closedRate ?? kindDefault)
  if (recovery.kind === 'classic') return t.success(completeClassicConfig(recovery, defaultThreshold))
  const gradual = completeGradualConfig(recovery, defaultThreshold, 'recovery.')
  if ('kind' in gradual) return t.success(gradual)
  return t.failures([problemAt(c, 'recovery.marginalRate', gradual.value, `expected ${gradual.expected}, got ${gradual.value}`)])
}

/** The codec of a circuit config: decodes `unknown` (parsed JSON) into a complete {@link CircuitConfig}. */
export const CircuitConfig: t.Type<CircuitConfig, CircuitConfig, unknown> = new t.Type<CircuitConfig, CircuitConfig, unknown>(
  'a circuit config',
  (u): u is CircuitConfig => E.isRight(Raw.decode(u)) && typeof (u as { name?: unknown }).name === 'string',
  (u, c) => {
    const raw = Raw.validate(u, c)
    if (E.isLeft(raw)) return raw
    const { trip, name, recovery, openFor } = raw.right
    const complete = completeRecovery(recovery, closedFailureRate(trip), c)
    if (E.isLeft(complete)) return complete
    return t.success({ name: name ?? 'circuit', trip, recovery: complete.right, openFor: openFor ?? DEFAULT_OPEN_FOR })
  },
  (config) => ({ name: config.name, trip: config.trip, recovery: config.recovery, openFor: config.openFor }),
)

/**
 * Decodes a config, returning a {@link ConfigError} listing every problem
 * (`recovery.initialRate: expected a ratio in (0, 1], got 1.5`).
 *
 * @example
 * import { decodeConfig } from '@datapunk/breaker'
 * const result = decodeConfig({ trip: { kind: 'consecutive-failures', threshold: 0 } })
 * result._tag === 'Left' && result.left.message // 'trip.threshold: expected an integer >= 1, got 0'
 */
export const decodeConfig = (input: unknown): E.Either<ConfigError, CircuitConfig> =>
  E.mapLeft((errors: t.Errors) => new ConfigError(report(errors)))(CircuitConfig.decode(input))
