/**
 * A detector the library does not ship, written as a user would: an exponentially weighted
 * moving average of latency that trips when the average reaches a threshold. Its state is plain
 * JSON with its own codec; `circuitOf`, `anyOf`, swaps, snapshots and metrics take it like any
 * built-in detector.
 */
import { canonical, type Detector, decodeOrThrow, emptyDetectorSnapshot, intIn, literal, Ratio, struct } from '@datapunk/breaker'
import * as t from 'io-ts'

/** `{ kind: 'ewma-latency', alpha, thresholdMs, minimumSamples = 10 }` */
export const EwmaLatencyConfig = struct(
  'an EWMA latency detector',
  { kind: literal('ewma-latency'), alpha: Ratio, thresholdMs: intIn(1, 600_000) },
  { minimumSamples: intIn(1, 10_000) },
  { minimumSamples: 10 },
)
export type EwmaLatencyConfig = t.TypeOf<typeof EwmaLatencyConfig>

export interface EwmaState {
  readonly averageMs: number
  readonly samples: number
}

const EwmaState = t.readonly(t.strict({ averageMs: t.number, samples: t.number }))

export const ewmaLatency = (input: Omit<EwmaLatencyConfig, 'kind'>): Detector<EwmaState> => {
  const config = decodeOrThrow(EwmaLatencyConfig, { ...input, kind: 'ewma-latency' })
  const { alpha, thresholdMs, minimumSamples } = config
  return {
    kind: 'ewma-latency',
    config,
    key: canonical(config),
    initial: () => ({ averageMs: 0, samples: 0 }),
    record: (s, _failed, latencyMs) => ({
      averageMs: s.samples === 0 ? latencyMs : alpha * latencyMs + (1 - alpha) * s.averageMs,
      samples: Math.min(s.samples + 1, minimumSamples),
    }),
    advance: (s) => s,
    rebase: (s) => s, // holds no time stamps: a clock jump changes nothing
    tripped: (s) => s.samples >= minimumSamples && s.averageMs >= thresholdMs,
    measure: (s) => [{ ...emptyDetectorSnapshot('ewma-latency'), figures: { averageLatencyMs: s.samples === 0 ? null : s.averageMs } }],
    codec: {
      validate: (u, c) => {
        const r = EwmaState.validate(u, c)
        if (r._tag === 'Left') return r
        const { averageMs, samples } = r.right
        const ok =
          Number.isFinite(averageMs) && averageMs >= 0 && Number.isSafeInteger(samples) && samples >= 0 && samples <= minimumSamples
        return ok ? t.success({ averageMs, samples }) : t.failure(u, c, 'expected averageMs >= 0 and 0 <= samples <= minimumSamples')
      },
      encode: (s) => ({ averageMs: s.averageMs, samples: s.samples }),
    },
  }
}
