import {
  anyOf,
  canonical,
  circuitOf,
  classicHalfOpen,
  consecutiveFailures,
  constantOpenFor,
  type Detector,
  emptyDetectorSnapshot,
} from '@datapunk/breaker'
import * as t from 'io-ts'

interface EwmaState {
  readonly averageMs: number
  readonly samples: number
}
const EwmaShape = t.readonly(t.strict({ averageMs: t.number, samples: t.number }))

const ewmaLatency = (alpha: number, thresholdMs: number, minimumSamples = 10): Detector<EwmaState> => {
  const config = { kind: 'ewma-latency', alpha, thresholdMs, minimumSamples }
  return {
    kind: 'ewma-latency',
    config,
    key: canonical(config), // equal keys: a swap carries the state over
    initial: () => ({ averageMs: 0, samples: 0 }),
    record: (s, _failed, latencyMs) => ({
      averageMs: s.samples === 0 ? latencyMs : alpha * latencyMs + (1 - alpha) * s.averageMs,
      samples: Math.min(s.samples + 1, minimumSamples),
    }),
    advance: (s) => s, // no time-based state
    rebase: (s) => s, // nothing to move when the clock jumps
    tripped: (s) => s.samples >= minimumSamples && s.averageMs >= thresholdMs,
    measure: (s) => [{ ...emptyDetectorSnapshot('ewma-latency'), figures: { averageLatencyMs: s.averageMs } }],
    codec: {
      // Decoding checks everything: a decoded state goes straight into the reducer.
      validate: (u, c) => {
        const r = EwmaShape.validate(u, c)
        if (r._tag === 'Left') return r
        const ok = r.right.averageMs >= 0 && r.right.averageMs < Infinity && Number.isSafeInteger(r.right.samples) && r.right.samples >= 0
        return ok ? t.success(r.right) : t.failure(u, c, 'expected averageMs >= 0 and a sample count')
      },
      encode: (s) => ({ averageMs: s.averageMs, samples: s.samples }),
    },
  }
}

export const strategy = circuitOf({
  detector: anyOf([ewmaLatency(0.3, 200), consecutiveFailures({ threshold: 5 })]),
  recovery: classicHalfOpen({ probes: 3 }),
  openFor: constantOpenFor(10_000),
})
