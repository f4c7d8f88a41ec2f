import type * as t from 'io-ts'
import { decodeOrThrow } from './ConfigError.js'
import { literal, NonNegativeInt, PositiveInt, struct } from './codecs.js'
import { canonical, type Detector, emptyDetectorSnapshot } from './Detector.js'

// ---- model -------------------------------------------------------------------------------

/** State of the consecutive-failures detector. */
export interface ConsecutiveFailuresState {
  /** Always `consecutive-failures`. */
  readonly kind: 'consecutive'
  /** Failures in a row so far. */
  readonly consecutiveFailures: number
}

const ZERO: ConsecutiveFailuresState = { kind: 'consecutive', consecutiveFailures: 0 }

// ---- codecs ------------------------------------------------------------------------------

/** Config codec: `{ kind: 'consecutive-failures', threshold }`: trip on the `threshold`-th failure in a row. */
export const ConsecutiveFailuresConfig = struct('a consecutive-failures detector', {
  kind: literal('consecutive-failures'),
  threshold: PositiveInt,
})
/** A decoded consecutive-failures config. */
export type ConsecutiveFailuresConfig = t.TypeOf<typeof ConsecutiveFailuresConfig>

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
  const kind = full.kind
  return {
    kind,
    config: full,
    key: canonical(full),
    initial: () => ZERO,
    record: (state, failed) =>
      failed ? { kind: 'consecutive', consecutiveFailures: state.consecutiveFailures + 1 } : state.consecutiveFailures === 0 ? state : ZERO,
    advance: (state) => state,
    rebase: (state) => state,
    tripped: (state) => state.consecutiveFailures >= threshold,
    measure: (state) => [{ ...emptyDetectorSnapshot(kind), consecutiveFailures: state.consecutiveFailures }],
    codec: ConsecutiveFailuresStateCodec,
  }
}
