import { circuit, type GradualRecoverySnapshot, gradualRecovery } from '@datapunk/breaker'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Harness } from './harness.js'

/**
 * A circuit with gradual recovery held in its first stage (no verdict before `stageMs`, a minute),
 * so that every request below is judged at one share: `initialRate`.
 */
const oneStage = (initialRate: number, recovery: Parameters<typeof gradualRecovery>[0] = {}) =>
  circuit({
    trip: { kind: 'consecutive-failures', threshold: 1 },
    recovery: { kind: 'gradual', initialRate, stageMs: 60_000, stageCalls: 1_000_000, ...recovery },
    openFor: { kind: 'constant', ms: 1000 },
  })

/** Trips the circuit at 0 (it recovers from 1,000), then sends a request at each of `times`; returns when each admitted one came. */
const admissions = (strategy: ReturnType<typeof oneStage>, times: ReadonlyArray<number>) => {
  const h = new Harness(strategy)
  h.call(0, 'failure', 0)
  const admitted: number[] = []
  for (const now of times) {
    const decision = h.request(now)
    if (decision._tag === 'Admitted') {
      admitted.push(now)
      h.settle(decision, 'success', now, 0)
    } else {
      expect(decision).toMatchObject({ _tag: 'Rejected', reason: 'throttled' })
    }
  }
  expect(h.snapshot.state).toBe('half-open')
  return { h, admitted }
}

/** `count` requests `everyMs` apart from `from`. */
const even = (from: number, count: number, everyMs: number): number[] => Array.from({ length: count }, (_, i) => from + i * everyMs)

describe('gradual recovery paces its admissions in time', () => {
  it('a burst of requests is not a burst of load: admissions stay at the share of the mean request rate, a burstMs window ahead at most', () => {
    // 10 s at 100 requests/s, then 2 s at 10,000 requests/s.
    const steady = even(1000, 1000, 10)
    const burst = even(11_000, 20_000, 0.1)
    const paced = admissions(oneStage(0.5, { burstMs: 1_000 }), [...steady, ...burst]).admitted
    const unpaced = admissions(oneStage(0.5, { burstMs: 0 }), [...steady, ...burst]).admitted
    const inBurst = (times: number[]) => times.filter((t) => t >= 11_000).length
    // Counted alone, half of the burst's requests are admitted.
    expect(inBurst(unpaced)).toBe(10_000)
    // Paced, the mean rate since recovery began grows with the burst, to 21,000 requests over 12 s
    // at its end: admissions run at half of it at most, a second's worth ahead.
    const meanAtEnd = (1000 + 20_000) / 12_000
    expect(inBurst(paced)).toBeLessThanOrEqual(0.5 * meanAtEnd * (2_000 + 1_000) + 1)
    expect(inBurst(paced)).toBeGreaterThan(0.5 * 100 * 2) // still at least the share of the steady rate
    // Before the burst, steady traffic is not held back: the count's share exactly.
    expect(paced.filter((t) => t < 11_000)).toEqual(unpaced.filter((t) => t < 11_000))
  })

  it('holds nothing back from evenly spaced requests, at any rate, share and burstMs', () => {
    for (const everyMs of [0.5, 1, 10, 100, 250, 450, 500, 2_000]) {
      for (const share of [0.1, 0.25, 1 / 3, 0.45, 0.5, 0.55, 0.75, 0.9, 0.99]) {
        const times = even(1000, Math.min(400, 59_000 / everyMs), everyMs)
        const counted = admissions(oneStage(share, { burstMs: 0 }), times).admitted
        for (const burstMs of [250, 500, 1_000]) expect(admissions(oneStage(share, { burstMs }), times).admitted).toEqual(counted)
      }
    }
  })

  it('spaces admissions burstMs apart where the share brings less than a call per burstMs (and a request interval): a few requests a second, in bunches', () => {
    // 2 requests/s on average, in bunches of eight 50 ms apart every 4 s: counted alone, a quarter
    // of them puts two calls into each bunch, 200 ms apart.
    const times = Array.from({ length: 112 }, (_, i) => 1000 + Math.floor(i / 8) * 4000 + (i % 8) * 50)
    const gaps = (admitted: number[]) => admitted.slice(1).map((t, i) => t - (admitted[i] as number))
    expect(Math.min(...gaps(admissions(oneStage(0.25, { burstMs: 0 }), times).admitted))).toBe(200)
    const { admitted } = admissions(oneStage(0.25, { burstMs: 1_000 }), times)
    // From the second bunch on: in the first, the mean request rate is the bunch's own.
    expect(Math.min(...gaps(admitted.filter((t) => t >= 5000)))).toBeGreaterThanOrEqual(1000)
    // One call per bunch, then: under the count's share where requests come bunched more than a
    // window apart (the price of not sending a bunch of load into a recovering upstream).
    expect(admitted.filter((t) => t >= 5000)).toHaveLength(13)
  })

  it('never admits more than the share of the requests by more than one, paced or not', () => {
    const times = [...even(1000, 300, 3), ...even(1900, 3000, 0.05), ...even(2100, 300, 7)]
    for (const share of [0.1, 0.3, 0.7]) {
      for (const burstMs of [0, 10, 1_000]) {
        const { admitted } = admissions(oneStage(share, { burstMs }), times)
        expect(admitted.length).toBeLessThanOrEqual(share * times.length + 1)
      }
    }
  })

  it('only ever holds admissions back: after any prefix of any requests, paced admissions are at most the count’s alone', () => {
    const requestTimes = fc
      .array(fc.oneof(fc.double({ min: 0, max: 5, noNaN: true }), fc.integer({ min: 0, max: 3000 })), { minLength: 1, maxLength: 300 })
      .map((gaps) => {
        let t = 1000
        return gaps.map((gap) => (t += gap))
      })
    fc.assert(
      fc.property(
        requestTimes,
        fc.double({ min: 0.05, max: 0.99, noNaN: true }),
        fc.integer({ min: 1, max: 3000 }),
        (times, share, burstMs) => {
          // Within one stage (a minute at most: the times stay under it), one share throughout.
          const inStage = times.filter((t) => t < 60_000)
          const paced = admissions(oneStage(share, { burstMs }), inStage).admitted
          const counted = admissions(oneStage(share, { burstMs: 0 }), inStage).admitted
          let p = 0
          let c = 0
          for (const t of inStage) {
            while (paced[p] !== undefined && paced[p] === t) p++
            while (counted[c] !== undefined && counted[c] === t) c++
            expect(p).toBeLessThanOrEqual(c)
          }
        },
      ),
      { numRuns: 200 },
    )
  })

  it('does not pace at the full share: probation admits every request', () => {
    const h = new Harness(oneStage(1, { probationMs: 60_000 }))
    h.call(0, 'failure', 0)
    for (const now of [...even(1000, 100, 10), ...even(2000, 1000, 0.01)]) {
      const decision = h.request(now)
      expect(decision._tag).toBe('Admitted')
      if (decision._tag === 'Admitted') h.settle(decision, 'success', now, 0)
    }
  })

  it('says how long the pacing holds admissions back in the retry-after', () => {
    // 100 requests/s for a second, then requests 1 ms apart: at a share of 0.5 (50 admissions a
    // second, one every 20 ms) the count admits every other request, the pacing one in 20 ms.
    const h = new Harness(oneStage(0.5, { burstMs: 20 }))
    h.call(0, 'failure', 0)
    for (const now of even(1000, 100, 10)) h.request(now)
    let rejection: unknown
    for (let now = 2000; rejection === undefined; now += 1) {
      const decision = h.request(now)
      if (decision._tag === 'Rejected' && h.snapshot.recovery !== null) {
        const stage = (h.snapshot.recovery as GradualRecoverySnapshot).stage
        if (stage.requests > 102) rejection = decision
      }
    }
    expect(rejection).toMatchObject({ _tag: 'Rejected', reason: 'throttled' })
    expect((rejection as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(2)
    expect((rejection as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(20)
  })

  it('keeps its schedule through the codec; a state written before pacing starts its schedule where recovery began', () => {
    const strategy = oneStage(0.5)
    const { h } = admissions(strategy, even(1000, 50, 10))
    const encoded = strategy.codec.encode(h.state) as { recovery: Record<string, unknown> }
    expect(typeof encoded.recovery.paceAt).toBe('number')
    const decoded = strategy.codec.decode(encoded)
    expect(decoded._tag === 'Right' && strategy.codec.encode(decoded.right)).toEqual(encoded)
    const { paceAt: _, ...older } = encoded.recovery
    const revived = strategy.codec.decode({ ...encoded, recovery: older })
    expect(revived._tag === 'Right' && (strategy.codec.encode(revived.right) as typeof encoded).recovery.paceAt).toBe(
      encoded.recovery.startedAt,
    )
    // A banked credit beyond one admission more is refused.
    expect(strategy.codec.decode({ ...encoded, recovery: { ...encoded.recovery, credit: 2_000_000 } })._tag).toBe('Left')
  })

  it('refuses a negative burstMs by name', () => {
    expect(() => gradualRecovery({ burstMs: -1 })).toThrow(/burstMs/)
    expect(gradualRecovery({}).config).toMatchObject({ burstMs: 500 })
  })
})
