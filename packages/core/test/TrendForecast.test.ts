import { fromConfig, trendForecast } from '@datapunk/breaker'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Harness } from './harness.js'

/** 100 calls a second for `seconds` from `from` s, failing at `rate(second)`, spread evenly; the time it tripped, or -1. */
const drive = (detector: ReturnType<typeof trendForecast>, seconds: number, rate: (second: number) => number, from = 0) => {
  let s = detector.initial(from * 1000)
  for (let ms = from * 1000; ms < (from + seconds) * 1000; ms += 10) {
    const second = Math.floor(ms / 1000)
    const slot = (ms / 10) % 100
    s = detector.record(s, slot < rate(second) * 100, 30, ms)
    if (detector.tripped(s)) return { s, at: ms }
  }
  return { s, at: -1 }
}

describe('trend-forecast detector (Holt)', () => {
  it('does not trip on a steady rate below the threshold, however high', () => {
    for (const rate of [0, 0.1, 0.3, 0.45]) expect(drive(trendForecast(), 600, () => rate).at, `steady ${rate}`).toBe(-1)
  })

  it('trips on a rising rate before the rate itself reaches the threshold', () => {
    // +2 points a second from 2%: 50% at 24 s.
    const { at, s } = drive(trendForecast(), 60, (sec) => Math.min(1, 0.02 + 0.02 * sec))
    expect(at).toBeGreaterThan(10_000) // after the warm-up
    expect(at).toBeLessThan(24_000)
    expect(s.level).toBeLessThan(0.5)
    expect(s.trend).toBeGreaterThan(0)
  })

  it('lets a short burst pass', () => {
    // 3 s at 25% every 45 s, 2% otherwise.
    expect(drive(trendForecast(), 900, (sec) => (sec % 45 >= 20 && sec % 45 < 23 ? 0.25 : 0.02)).at).toBe(-1)
  })

  it('skips buckets without the calls for a verdict: an idle service neither trips nor forgets', () => {
    const detector = trendForecast({ warmupBuckets: 2 })
    const warm = drive(detector, 20, () => 0.1).s
    // Four failures over a quiet minute: under minimumCalls per bucket, no rate at all.
    let s = warm
    for (let i = 0; i < 4; i++) s = detector.record(s, true, 30, 20_000 + i * 15_000)
    s = detector.advance(s, 90_000)
    expect(detector.tripped(s)).toBe(false)
    expect(s.level).toBeCloseTo(warm.level, 10)
    expect(s.buckets).toBe(warm.buckets + 1) // the last full bucket of the warm traffic closed
  })

  it('keeps level and trend in range, is deterministic, round-trips its state, and survives clock jumps back', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: -5000, max: 3000 }), fc.boolean()), { maxLength: 300 }), (steps) => {
        const detector = trendForecast({ bucketMs: 100, horizonMs: 500, warmupBuckets: 2, minimumCalls: 2 })
        let s = detector.initial(0)
        let now = 0
        for (const [dt, failed] of steps) {
          if (dt < 0 && detector.rebase !== undefined) {
            s = detector.rebase(s, dt, now + dt)
            now += dt
            continue
          }
          now += dt
          const next = detector.record(s, failed, 1, now)
          expect(detector.record(s, failed, 1, now)).toEqual(next)
          expect(next.level).toBeGreaterThanOrEqual(0)
          expect(next.level).toBeLessThanOrEqual(1)
          expect(Math.abs(next.trend)).toBeLessThanOrEqual(1)
          const decoded = detector.codec.validate(JSON.parse(JSON.stringify(detector.codec.encode(next))), [])
          expect(decoded._tag === 'Right' && decoded.right).toEqual(next)
          s = next
        }
      }),
    )
  })

  it('is a config kind, and refuses a horizon shorter than its buckets', () => {
    const strategy = fromConfig({ trip: { kind: 'trend-forecast', bucketMs: 100, horizonMs: 500, warmupBuckets: 2, minimumCalls: 5 } })
    if (strategy._tag === 'Left') throw strategy.left
    const h = new Harness(strategy.right)
    let t = 0
    for (; t < 1000; t += 10) h.call(t, 'success')
    for (; t < 5000 && h.snapshot.state === 'closed'; t += 10) h.call(t, (t / 10) % 10 < (t - 1000) / 400 ? 'failure' : 'success')
    expect(h.snapshot.state).toBe('open')
    expect(() => trendForecast({ bucketMs: 1000, horizonMs: 500 })).toThrow('horizonMs: expected at least bucketMs (1000), got 500')
  })

  it('on a latency quantile: estimates it, and trips on a rising latency before it reaches the threshold', () => {
    const detector = trendForecast({ signal: 'latency', threshold: 1000, quantile: 0.9, warmupBuckets: 5 })
    let s = detector.initial(0)
    // Latencies 10..100 ms evenly: the 90th percentile is ~91 ms.
    for (let ms = 0; ms < 20_000; ms += 10) s = detector.record(s, false, 10 + ((ms / 10) % 10) * 10, ms)
    expect(s.estimate).toBeGreaterThan(80)
    expect(s.estimate).toBeLessThan(105)
    expect(detector.tripped(s)).toBe(false)
    // Then every latency climbs 40 ms a second: 1,000 ms is ~23 s away; the forecast gets there first.
    let trippedAt = -1
    for (let ms = 20_000; ms < 60_000 && trippedAt < 0; ms += 10) {
      s = detector.record(s, false, 10 + ((ms / 10) % 10) * 10 + 40 * ((ms - 20_000) / 1000), ms)
      if (detector.tripped(s)) trippedAt = ms
    }
    expect(trippedAt).toBeGreaterThan(20_000)
    expect(trippedAt).toBeLessThan(42_000)
    expect(s.level).toBeLessThan(1000)
    expect(() => trendForecast({ signal: 'latency' })).toThrow('threshold: expected a latency in ms for signal latency')
    expect(() => trendForecast({ threshold: 2 })).toThrow('threshold: expected a failure rate in (0, 1], got 2')
  })
})
