import type * as t from 'io-ts'
import { decodeOrThrow } from './ConfigError.js'
import { literal, NonNegativeInt, PositiveInt, struct } from './codecs.js'
import { type ConsecutiveFailuresState, canonical, type Detector } from './Detector.js'

// ---- model -------------------------------------------------------------------------------

const ZERO: ConsecutiveFailuresState = { kind: 'consecutive', consecutiveFailures: 0 }

/** Trip on the `threshold`-th failure in a row (a success resets the run). */
export interface ConsecutiveFailuresConfig {
  readonly kind: 'consecutive-failures'
  readonly threshold: number
}

// ---- codecs ------------------------------------------------------------------------------

/** Config codec: `{ kind: 'consecutive-failures', threshold }`. */
export const ConsecutiveFailuresConfig: t.Type<ConsecutiveFailuresConfig, ConsecutiveFailuresConfig, unknown> = struct(
  'a consecutive-failures detector',
  { kind: literal('consecutive-failures'), threshold: PositiveInt },
)

const ConsecutiveFailuresStateCodec = struct('a consecutive-failures state', {
  kind: literal('consecutive'),
  consecutiveFailures: NonNegativeInt,
})

// ---- constructors ------------------------------------------------------------------------

/**
 * Trips on the `threshold`-th failure in a row; any success resets the run. Slow successes are
 * successes here (use `slowCallRate` to catch slowness).
 *
 * @example
 * import { consecutiveFailures } from '@datapunk/breaker'
 * const detector = consecutiveFailures({ threshold: 2 })
 * let s = detector.initial(0)
 * s = detector.record(s, true, 5, 0)
 * detector.tripped(s) // false
 * s = detector.record(s, true, 5, 1)
 * detector.tripped(s) // true
 */
export const consecutiveFailures = (config: Omit<ConsecutiveFailuresConfig, 'kind'>): Detector<ConsecutiveFailuresState> => {
  const full = decodeOrThrow(ConsecutiveFailuresConfig, { ...config, kind: 'consecutive-failures' })
  const threshold = full.threshold
  return {
    config: full,
    key: canonical(full),
    initial: () => ZERO,
    record: (state, failed) =>
      failed ? { kind: 'consecutive', consecutiveFailures: state.consecutiveFailures + 1 } : state.consecutiveFailures === 0 ? state : ZERO,
    advance: (state) => state,
    tripped: (state) => state.consecutiveFailures >= threshold,
    measure: (state) => [
      {
        kind: full.kind,
        calls: null,
        failures: null,
        slowCalls: null,
        failureRate: null,
        slowCallRate: null,
        consecutiveFailures: state.consecutiveFailures,
      },
    ],
    codec: ConsecutiveFailuresStateCodec as t.Type<ConsecutiveFailuresState, unknown, unknown>,
  }
}
