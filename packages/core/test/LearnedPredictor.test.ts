import { fromConfig, learnedPredictor, type PredictorModel, predict, predictorFeatures } from '@datapunk/breaker'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'

const model: PredictorModel = {
  bias: -4,
  weights: { failureRate: 12, failureRateChange: 5, logLatencyRatio: 1, logLatencyRatioChange: 1 },
}

/** 100 calls a second, failing at `rate(second)`, latency `latency(second)`; the ms it tripped at, or -1. */
const drive = (
  detector: ReturnType<typeof learnedPredictor>,
  seconds: number,
  rate: (s: number) => number,
  latency: (s: number) => number = () => 30,
) => {
  let s = detector.initial(0)
  for (let ms = 0; ms < seconds * 1000; ms += 10) {
    const second = Math.floor(ms / 1000)
    s = detector.record(s, (ms / 10) % 100 < rate(second) * 100, latency(second), ms)
    if (detector.tripped(s)) return { s, at: ms }
  }
  return { s, at: -1 }
}

describe('learned predictor', () => {
  it('computes the logistic probability of its features', () => {
    const features = predictorFeatures(100, 20, 100 * 60, 0.1, 0, 30)
    expect(features).toEqual({
      failureRate: 0.2,
      failureRateChange: 0.2 - 0.1,
      logLatencyRatio: Math.log(2),
      logLatencyRatioChange: Math.log(2),
    })
    const z = -4 + 12 * 0.2 + 5 * 0.1 + Math.log(2) + Math.log(2)
    expect(predict(model, features)).toBeCloseTo(1 / (1 + Math.exp(-z)), 12)
  })

  it('trips once the probability held for confirmBuckets buckets after the warm-up, not on healthy traffic', () => {
    const detector = learnedPredictor({ model, warmupBuckets: 5, confirmBuckets: 2 })
    expect(drive(detector, 120, () => 0.01).at).toBe(-1)
    const { at } = drive(detector, 60, (s) => (s < 20 ? 0.01 : 0.6))
    // The first bad bucket closes at 21 s, the second at 22 s: tripped by the first call after it.
    expect(at).toBeGreaterThanOrEqual(22_000)
    expect(at).toBeLessThan(22_100)
  })

  it('waits for the warm-up and keeps its latency baseline from it', () => {
    const detector = learnedPredictor({ model, warmupBuckets: 10, confirmBuckets: 1 })
    const { at, s } = drive(detector, 9, () => 0.9)
    expect(at).toBe(-1) // bad from the start, but still warming up
    const slow = drive(
      detector,
      40,
      () => 0.01,
      (sec) => (sec < 10 ? 30 : 3000),
    )
    expect(slow.s.baselineMs).toBeCloseTo(30, 6) // the slowdown after the warm-up is not learnt
    expect(s.buckets).toBe(8)
  })

  it('round-trips its state, refuses an inconsistent one, and names a bad model', () => {
    const detector = learnedPredictor({ model })
    const { s } = drive(detector, 30, () => 0.05)
    const encoded = JSON.parse(JSON.stringify(detector.codec.encode(s)))
    const decoded = detector.codec.validate(encoded, [])
    expect(decoded._tag === 'Right' && decoded.right).toEqual(s)
    expect(detector.codec.validate({ ...encoded, failures: encoded.calls + 1 }, [])._tag).toBe('Left')
    const bad = fromConfig({ trip: { kind: 'learned', model: { bias: 0, weights: { failureRate: 1 } } } })
    expect(bad._tag === 'Left' && bad.left.message).toContain('trip.model.weights.failureRateChange')
  })

  it('never throws, stays deterministic and keeps its probability in [0, 1] whatever the traffic and the model', () => {
    const weight = fc.double({ min: -1000, max: 1000, noNaN: true })
    fc.assert(
      fc.property(
        fc.record({
          bias: weight,
          weights: fc.record({ failureRate: weight, failureRateChange: weight, logLatencyRatio: weight, logLatencyRatioChange: weight }),
        }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 400 }), fc.boolean(), fc.double({ min: 0, max: 1e6, noNaN: true })), {
          maxLength: 200,
        }),
        (m, steps) => {
          const detector = learnedPredictor({ model: m, bucketMs: 100, minimumCalls: 1, warmupBuckets: 2, confirmBuckets: 1 })
          let s = detector.initial(0)
          let now = 0
          for (const [dt, failed, latency] of steps) {
            now += dt
            const next = detector.record(s, failed, latency, now)
            expect(detector.record(s, failed, latency, now)).toEqual(next)
            expect(next.probability).toBeGreaterThanOrEqual(0)
            expect(next.probability).toBeLessThanOrEqual(1)
            s = next
          }
        },
      ),
    )
  })
})
