import * as t from 'io-ts'
import { decodeOrThrow } from './ConfigError.js'
import { literal, NonNegativeInt, PositiveInt, PositiveMillis, Ratio, struct } from './codecs.js'
import { rejectedHalfOpenFull } from './Decision.js'
import { canonical } from './Detector.js'
import { type ClassicHalfOpenConfig, type ClassicHalfOpenState, probeFailed, type Recovery } from './Recovery.js'

// ---- codecs ------------------------------------------------------------------------------

/**
 * Config codec: `{ kind: 'classic', probes = 1, failureRateThreshold?, slowCallMs? }`. An absent
 * `failureRateThreshold` is filled by the circuit config (0.5, or the closed failure-rate
 * threshold if that is stricter).
 */
export const ClassicHalfOpenConfigInput = struct(
  'a classic half-open recovery',
  { kind: literal('classic') },
  { probes: PositiveInt, failureRateThreshold: Ratio, slowCallMs: PositiveMillis },
  { probes: 1 },
)

const ClassicHalfOpenStateCodec = struct('a classic half-open state', {
  kind: literal('classic'),
  inFlight: NonNegativeInt,
  successes: NonNegativeInt,
  failures: NonNegativeInt,
})

/** Classic half-open's settings as written in code: every field optional. */
export interface ClassicHalfOpenInput {
  /** Default 1. */
  readonly probes?: number
  /** Default 0.5 (a circuit config lowers it to a stricter closed failure-rate threshold). */
  readonly failureRateThreshold?: number
  readonly slowCallMs?: number
}

/** The default reopen threshold of classic half-open. */
export const CLASSIC_FAILURE_RATE_THRESHOLD = 0.5

/** Completes a decoded classic config: one probe and `defaultThreshold` unless given. */
export const completeClassicConfig = (
  input: t.TypeOf<typeof ClassicHalfOpenConfigInput>,
  defaultThreshold: number,
): ClassicHalfOpenConfig => ({
  kind: 'classic',
  probes: input.probes ?? 1,
  failureRateThreshold: input.failureRateThreshold ?? defaultThreshold,
  ...(input.slowCallMs === undefined ? {} : { slowCallMs: input.slowCallMs }),
})

// ---- constructors ------------------------------------------------------------------------

/**
 * Classic half-open recovery: admit up to `probes` calls; extra requests are rejected as
 * `half-open-full`. Reopen as soon as `failures / probes >= failureRateThreshold` (no later probe
 * could bring the rate back under it); close once every probe settled below it. A cancelled probe
 * gives its permit back.
 *
 * @example
 * import { classicHalfOpen } from '@datapunk/breaker'
 * const recovery = classicHalfOpen({ probes: 2, failureRateThreshold: 0.5 })
 * const s = recovery.request(recovery.start(0), 0)
 * recovery.inFlight(s) // 1
 * recovery.outcome(s, false, 10, 1) // { kind: 'classic', inFlight: 0, successes: 1, failures: 0 }
 * recovery.outcome(s, true, 10, 1) // 'reopen'
 */
export const classicHalfOpen = (config: ClassicHalfOpenInput = {}): Recovery<ClassicHalfOpenState> => {
  const full = completeClassicConfig(
    decodeOrThrow(ClassicHalfOpenConfigInput, { ...config, kind: 'classic' }),
    CLASSIC_FAILURE_RATE_THRESHOLD,
  )
  const { probes, failureRateThreshold, slowCallMs } = full
  const start: ClassicHalfOpenState = { kind: 'classic', inFlight: 0, successes: 0, failures: 0 }
  return {
    config: full,
    key: canonical(full),
    start: () => start,
    request: (s) =>
      s.inFlight + s.successes + s.failures < probes
        ? { kind: 'classic', inFlight: s.inFlight + 1, successes: s.successes, failures: s.failures }
        : s,
    rejection: () => rejectedHalfOpenFull,
    outcome: (s, failed, latencyMs) => {
      const bad = probeFailed(failed, latencyMs, slowCallMs)
      const failures = s.failures + (bad ? 1 : 0)
      const successes = s.successes + (bad ? 0 : 1)
      if (failures / probes >= failureRateThreshold) return 'reopen'
      if (successes + failures >= probes) return 'close'
      return { kind: 'classic', inFlight: s.inFlight - 1, successes, failures }
    },
    cancel: (s) => (s.inFlight === 0 ? s : { kind: 'classic', inFlight: s.inFlight - 1, successes: s.successes, failures: s.failures }),
    tick: (s) => s,
    inFlight: (s) => s.inFlight,
    admitRate: (s) => (s.inFlight + s.successes + s.failures < probes ? 1 : 0),
    measure: (s) => ({ kind: 'classic', probes, inFlight: s.inFlight, successes: s.successes, failures: s.failures }),
    codec: {
      validate: (u, c) => {
        const r = ClassicHalfOpenStateCodec.validate(u, c)
        if (r._tag === 'Right' && r.right.inFlight + r.right.successes + r.right.failures > probes) {
          return t.failure(u, c, `expected at most ${probes} probes in flight and settled`)
        }
        return r
      },
      encode: (s) => ({ kind: 'classic', inFlight: s.inFlight, successes: s.successes, failures: s.failures }),
    },
  }
}
