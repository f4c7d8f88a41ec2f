import * as t from 'io-ts'
import { ConfigError, decodeOrThrow, problem } from './ConfigError.js'
import { DurationMs, intIn, literal, NonNegativeInt, Ratio, struct } from './codecs.js'
import { rejectedHalfOpenFull } from './Decision.js'
import { canonical } from './Detector.js'
import { Limits } from './Limits.js'
import { probeFailed, type Recovery, type RecoveryAdmission, type RecoverySnapshot } from './Recovery.js'

// ---- model -------------------------------------------------------------------------------

/** State of classic half-open: probes in flight and settled. */
export interface ClassicHalfOpenState {
  /** Always `classic`. */
  readonly kind: 'classic'
  /** Probes admitted and not yet settled or cancelled. */
  readonly inFlight: number
  /** Probes that succeeded. */
  readonly successes: number
  /** Probes that failed. */
  readonly failures: number
}

/** What classic half-open reports. */
export interface ClassicHalfOpenSnapshot extends RecoverySnapshot {
  readonly kind: 'classic'
  /** The probes allowed in this recovery. */
  readonly probes: number
  /** Probes that succeeded. */
  readonly successes: number
  /** Probes that failed. */
  readonly failures: number
}

const classicState = (inFlight: number, successes: number, failures: number): ClassicHalfOpenState => ({
  kind: 'classic',
  inFlight,
  successes,
  failures,
})

// ---- codecs ------------------------------------------------------------------------------

/**
 * Config codec: `{ kind: 'classic', probes = 1, failureRateThreshold?, slowCallMs? }`. An absent
 * `failureRateThreshold` is 0.5, or the strictest closed failure-rate threshold when a circuit
 * config has a stricter one.
 */
export const ClassicHalfOpenConfig = struct(
  'a classic half-open recovery',
  { kind: literal('classic') },
  { probes: intIn(1, Limits.maxProbes), failureRateThreshold: Ratio, slowCallMs: DurationMs },
  { probes: 1 },
)
/** A classic half-open config as written (threshold optional). */
export type ClassicHalfOpenConfig = t.TypeOf<typeof ClassicHalfOpenConfig>

const ClassicHalfOpenStateCodec = struct('a classic half-open state', {
  kind: literal('classic'),
  inFlight: NonNegativeInt,
  successes: NonNegativeInt,
  failures: NonNegativeInt,
})

/** The default reopen threshold of classic half-open. */
export const CLASSIC_FAILURE_RATE_THRESHOLD = 0.5

/**
 * The threshold a recovery uses: the one given (which must not be laxer than the closed one), or
 * the kind's default lowered to the closed one.
 */
export const recoveryThreshold = (given: number | undefined, kindDefault: number, closed: number | undefined): number => {
  if (given !== undefined && closed !== undefined && given > closed) {
    throw new ConfigError([problem('failureRateThreshold', `expected at most the closed failure-rate threshold (${closed}), got ${given}`)])
  }
  return given ?? Math.min(kindDefault, closed ?? kindDefault)
}

// ---- constructors ------------------------------------------------------------------------

/**
 * Classic half-open recovery: admit up to `probes` calls; extra requests are rejected as
 * `half-open-full`. Reopen as soon as `failures / probes >= failureRateThreshold` (no later probe
 * could bring the rate back under it); close once every probe settled below it. A cancelled probe
 * gives its permit back. `closedFailureRate` (from a circuit config) lowers the default threshold.
 *
 * @example
 * import { classicHalfOpen } from '@datapunk/breaker'
 * const recovery = classicHalfOpen({ probes: 2, failureRateThreshold: 0.5 })
 * const { state } = recovery.request(recovery.start(0), 0)
 * state // { kind: 'classic', inFlight: 1, successes: 0, failures: 0 }
 * recovery.outcome(state, false, 10, 1) // { kind: 'classic', inFlight: 0, successes: 1, failures: 0 }
 * recovery.outcome(state, true, 10, 1) // 'reopen'
 */
export const classicHalfOpen = (
  input: Omit<ClassicHalfOpenConfig, 'kind' | 'probes'> & { readonly probes?: number } = {},
  closedFailureRate?: number,
): Recovery<ClassicHalfOpenState> => {
  const decoded = decodeOrThrow(ClassicHalfOpenConfig, { ...input, kind: 'classic' })
  const failureRateThreshold = recoveryThreshold(decoded.failureRateThreshold, CLASSIC_FAILURE_RATE_THRESHOLD, closedFailureRate)
  const config: ClassicHalfOpenConfig = { ...decoded, failureRateThreshold }
  const { probes, slowCallMs } = config
  const start = classicState(0, 0, 0)
  const permitFree = (s: ClassicHalfOpenState): boolean => s.inFlight + s.successes + s.failures < probes
  return {
    kind: 'classic',
    config,
    key: canonical(config),
    start: () => start,
    request: (s): RecoveryAdmission<ClassicHalfOpenState> =>
      permitFree(s)
        ? { state: classicState(s.inFlight + 1, s.successes, s.failures), admitted: true }
        : { state: s, admitted: false, rejection: rejectedHalfOpenFull },
    outcome: (s, failed, latencyMs) => {
      const bad = probeFailed(failed, latencyMs, slowCallMs)
      const failures = s.failures + (bad ? 1 : 0)
      const successes = s.successes + (bad ? 0 : 1)
      if (failures / probes >= failureRateThreshold) return 'reopen'
      if (successes + failures >= probes) return 'close'
      return classicState(Math.max(0, s.inFlight - 1), successes, failures)
    },
    cancel: (s) => (s.inFlight === 0 ? s : classicState(s.inFlight - 1, s.successes, s.failures)),
    tick: (s) => s,
    rebase: (s) => s,
    admitRate: (s) => (permitFree(s) ? 1 : 0),
    measure: (s, inFlight): ClassicHalfOpenSnapshot => ({
      kind: 'classic',
      admitRate: permitFree(s) ? 1 : 0,
      inFlight,
      probes,
      successes: s.successes,
      failures: s.failures,
    }),
    codec: {
      validate: (u, c) => {
        const r = ClassicHalfOpenStateCodec.validate(u, c)
        if (r._tag === 'Right' && r.right.inFlight + r.right.successes + r.right.failures > probes) {
          return t.failure(u, c, `expected at most ${probes} probes in flight and settled`)
        }
        return r._tag === 'Right' ? t.success(classicState(r.right.inFlight, r.right.successes, r.right.failures)) : r
      },
      encode: (s) => classicState(s.inFlight, s.successes, s.failures),
    },
  }
}
