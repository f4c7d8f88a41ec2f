import {
  closeBucket,
  EMPTY_PREDICTOR_HISTORY,
  fromConfig,
  learnedPredictor,
  type PredictorModelInput,
  predict,
  predictorFeatures,
} from '@datapunk/breaker'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { predictorModel } from './arbitraries.js'

/** A model written before the averaged features existed: their weights absent, 0. */
const model: PredictorModelInput = {
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
    // The 21st bucket: averages over 10 buckets are exponential by now, over 60 still a running mean.
    const history = {
      ...EMPTY_PREDICTOR_HISTORY,
      lastRate: 0.1,
      baselineMs: 30,
      buckets: 20,
      rate10: 0.1,
      rate60: 0.05,
      logRatio10: 0.5,
      logRatio60: 0,
    }
    const features = predictorFeatures(100, 20, 100 * 60, history)
    expect(features.failureRate).toBe(0.2)
    expect(features.failureRateChange).toBeCloseTo(0.1, 12)
    expect(features.logLatencyRatio).toBeCloseTo(Math.log(2), 12)
    expect(features.logLatencyRatioChange).toBeCloseTo(Math.log(2), 12)
    expect(features.failureRate10).toBeCloseTo(0.1 + (0.2 - 0.1) / 10, 12)
    expect(features.failureRate60).toBeCloseTo(0.05 + (0.2 - 0.05) / 21, 12)
    expect(features.logLatencyRatio10).toBeCloseTo(0.5 + (Math.log(2) - 0.5) / 10, 12)
    expect(features.logLatencyRatio60).toBeCloseTo(Math.log(2) / 21, 12)
    const z = -4 + 12 * 0.2 + 5 * 0.1 + Math.log(2) + Math.log(2)
    expect(predict(model, features)).toBeCloseTo(1 / (1 + Math.exp(-z)), 12)
    const full = { bias: -1, weights: { ...model.weights, failureRate10: 2, failureRate60: 3, logLatencyRatio10: 4, logLatencyRatio60: 5 } }
    const zFull =
      -1 +
      12 * 0.2 +
      5 * 0.1 +
      2 * Math.log(2) +
      2 * features.failureRate10 +
      3 * features.failureRate60 +
      4 * features.logLatencyRatio10 +
      5 * features.logLatencyRatio60
    expect(predict(full, features)).toBeCloseTo(1 / (1 + Math.exp(-zFull)), 12)
  })

  it('carries its history from bucket to bucket: running means at first, the baseline fixed after the warm-up', () => {
    let history = EMPTY_PREDICTOR_HISTORY
    const rates = [0.1, 0.3, 0.2]
    for (const [i, rate] of rates.entries()) {
      const closed = closeBucket(history, 10, rate * 10, 10 * (30 + i * 30), 2)
      expect(closed.features.failureRate).toBeCloseTo(rate, 12)
      history = closed.history
    }
    expect(history.buckets).toBe(3)
    expect(history.rate10).toBeCloseTo(0.2, 12) // the mean of 0.1, 0.3 and 0.2
    expect(history.rate60).toBeCloseTo(0.2, 12)
    expect(history.baselineMs).toBeCloseTo(45, 12) // the first two buckets' mean latency (30 and 60), then fixed
    expect(history.lastRate).toBeCloseTo(0.2, 12)
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
    const typo = fromConfig({ trip: { kind: 'learned', model: { bias: 0, weights: { ...model.weights, failureRate61: 1 } } } })
    expect(typo._tag === 'Left' && typo.left.message).toContain('failureRate61')
  })

  it('reads a state written before the averages existed, each average taken as its last bucket', () => {
    const detector = learnedPredictor({ model })
    const { s } = drive(detector, 30, () => 0.05)
    const { rate10: _r10, rate60: _r60, logRatio10: _l10, logRatio60: _l60, ...old } = s
    const decoded = detector.codec.validate(JSON.parse(JSON.stringify(old)), [])
    expect(decoded._tag === 'Right' && decoded.right).toEqual({
      ...s,
      rate10: s.lastRate,
      rate60: s.lastRate,
      logRatio10: s.lastLogRatio,
      logRatio60: s.lastLogRatio,
    })
  })

  it('decides as before with a model that has no weights for the averages', () => {
    const zero = { ...model, weights: { ...model.weights, failureRate10: 0, failureRate60: 0, logLatencyRatio10: 0, logLatencyRatio60: 0 } }
    const rate = (sec: number) => (sec < 20 ? 0.01 : sec < 30 ? 0.3 : 0.6)
    const written = drive(learnedPredictor({ model, warmupBuckets: 5 }), 60, rate)
    const explicit = drive(learnedPredictor({ model: zero, warmupBuckets: 5 }), 60, rate)
    expect(written.at).toBe(explicit.at)
    expect(written.at).toBeGreaterThan(0)
  })

  it('never throws, stays deterministic and keeps its probability in [0, 1] whatever the traffic and the model', () => {
    fc.assert(
      fc.property(
        predictorModel(1000),
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
            for (const average of [next.rate10, next.rate60]) expect(average >= 0 && average <= 1).toBe(true)
            for (const average of [next.logRatio10, next.logRatio60]) expect(Math.abs(average) <= 5).toBe(true)
            const decoded = detector.codec.validate(JSON.parse(JSON.stringify(detector.codec.encode(next))), [])
            expect(decoded._tag === 'Right' && decoded.right).toEqual(next)
            s = next
          }
        },
      ),
    )
  })
})
