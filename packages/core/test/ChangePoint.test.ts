import { changePoint, circuit, fromConfig } from '@datapunk/breaker'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Harness } from './harness.js'
import { seeded } from './seeded.js'

/** Feeds `calls` outcomes (failing with probability `rate`, with latency `latency(i)`) and returns the call index it tripped at, or -1. */
const feed = (
  detector: ReturnType<typeof changePoint>,
  state: ReturnType<ReturnType<typeof changePoint>['initial']>,
  calls: number,
  rate: number,
  random: () => number,
  latency: (i: number) => number = () => 40,
) => {
  let s = state
  for (let i = 0; i < calls; i++) {
    s = detector.record(s, random() < rate, latency(i), i)
    if (detector.tripped(s)) return { s, trippedAt: i }
  }
  return { s, trippedAt: -1 }
}

describe('change-point detector (Page-Hinkley)', () => {
  it('does not trip on a steady error rate, however long', () => {
    const detector = changePoint({ signal: 'failure' })
    for (const rate of [0, 0.01, 0.05, 0.08]) {
      const { trippedAt, s } = feed(detector, detector.initial(0), 200_000, rate, seeded(7))
      expect(trippedAt, `steady ${rate}`).toBe(-1)
      expect(s.baseline).toBeCloseTo(rate, 1)
    }
  })

  it('trips on a sustained rise of the error rate, sooner the larger it is', () => {
    const detector = changePoint({ signal: 'failure' })
    const warm = feed(detector, detector.initial(0), 5_000, 0.01, seeded(1)).s
    const after = (rate: number) => feed(detector, warm, 100_000, rate, seeded(2)).trippedAt
    // 150 excess failures over baseline (1%) + tolerance (10%): about 150 / (rate - 0.11) calls.
    expect(after(0.5)).toBeGreaterThan(300)
    expect(after(0.5)).toBeLessThan(500)
    expect(after(0.3)).toBeGreaterThan(after(0.5))
    expect(after(0.3)).toBeLessThan(1_200)
    expect(after(0.15)).toBeGreaterThan(after(0.3))
  })

  it('lets a short burst pass: a few seconds of 25% errors are not a shift', () => {
    const detector = changePoint({ signal: 'failure' })
    const random = seeded(3)
    let s = feed(detector, detector.initial(0), 5_000, 0.002, random).s
    for (let burst = 0; burst < 20; burst++) {
      const during = feed(detector, s, 600, 0.25, random) // 3 s at 200 calls/s
      expect(during.trippedAt).toBe(-1)
      s = feed(detector, during.s, 8_400, 0.002, random).s // 42 s healthy
      expect(s.score).toBe(0)
    }
  })

  it('does not learn a shift in progress as the new normal', () => {
    const detector = changePoint({ signal: 'failure' })
    const warm = feed(detector, detector.initial(0), 5_000, 0.01, seeded(4)).s
    // 300 calls at 40%: the score passes a twentieth of the threshold within ~30 calls, and the baseline stops there.
    const shifted = feed(detector, warm, 300, 0.4, seeded(5)).s
    expect(Math.abs(shifted.baseline - warm.baseline)).toBeLessThan(0.01)
    expect(shifted.score).toBeGreaterThan(50)
  })

  it('on latency: trips on a slowdown, not on a few outliers', () => {
    const detector = changePoint({ signal: 'latency' })
    const random = seeded(6)
    const jitter = () => 40 * (0.5 + random())
    const warm = feed(detector, detector.initial(0), 5_000, 0, random, jitter).s
    expect(warm.baseline).toBeGreaterThan(30)
    expect(warm.baseline).toBeLessThan(50)
    // One call in 100 takes 10 s: capped, it never adds up to a shift.
    expect(feed(detector, warm, 100_000, 0, random, (i) => (i % 100 === 0 ? 10_000 : jitter())).trippedAt).toBe(-1)
    // Five times slower: 3 units over the tolerance per call, 2,000 calls, and a few hundred more
    // for what the baseline learns before the score passes a twentieth of the threshold.
    const slow = feed(detector, warm, 100_000, 0, random, () => 200).trippedAt
    expect(slow).toBeGreaterThan(1_990)
    expect(slow).toBeLessThan(3_500)
  })

  it('waits for minimumCalls, learning the baseline meanwhile', () => {
    const detector = changePoint({ signal: 'failure', minimumCalls: 100, threshold: 1 })
    const { trippedAt, s } = feed(detector, detector.initial(0), 99, 1, seeded(8))
    expect(trippedAt).toBe(-1)
    expect(s).toMatchObject({ calls: 99, baseline: 1, score: 0 })
  })

  it('keeps its score at or above 0, is deterministic and round-trips its state through its codec', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<'failure' | 'latency'>('failure', 'latency'),
        fc.array(fc.tuple(fc.boolean(), fc.double({ min: 0, max: 1e6, noNaN: true })), { maxLength: 300 }),
        (signal, outcomes) => {
          const detector = changePoint({ signal, minimumCalls: 5, threshold: 3 })
          let s = detector.initial(0)
          let t = 0
          for (const [failed, latency] of outcomes) {
            const next = detector.record(s, failed, latency, t++)
            expect(next.score).toBeGreaterThanOrEqual(0)
            expect(Number.isFinite(next.baseline)).toBe(true)
            expect(detector.record(s, failed, latency, t)).toEqual(next)
            const decoded = detector.codec.validate(JSON.parse(JSON.stringify(detector.codec.encode(next))), [])
            expect(decoded._tag === 'Right' && decoded.right).toEqual(next)
            s = next
          }
        },
      ),
    )
  })

  it('is a config kind: trips a circuit from JSON, and names a bad setting', () => {
    const strategy = fromConfig({ trip: { kind: 'change-point', signal: 'failure', minimumCalls: 10, threshold: 2 } })
    if (strategy._tag === 'Left') throw strategy.left
    const h = new Harness(strategy.right)
    for (let i = 0; i < 10; i++) h.call(i, 'success')
    for (let i = 10; i < 20 && h.snapshot.state === 'closed'; i++) h.call(i, 'failure')
    expect(h.snapshot.state).toBe('open')
    expect(h.snapshot.detectors[0]).toMatchObject({ kind: 'change-point', figures: { baseline: 0 } })
    const bad = fromConfig({ trip: { kind: 'change-point', signal: 'errors' } })
    expect(bad._tag === 'Left' && bad.left.message).toContain('trip.signal')
    expect(() => circuit({ trip: { kind: 'change-point', signal: 'latency', tolerance: -1 } })).toThrow('tolerance')
  })
})
