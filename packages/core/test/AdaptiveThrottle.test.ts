import { adaptiveThrottle, BreakerEvent, circuit, type Decision } from '@datapunk/breaker'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Harness } from './harness.js'

const never = () => circuit({ name: 'never', trip: { kind: 'consecutive-failures', threshold: 1_000_000 } })
const classic = () =>
  circuit({ name: 'classic', trip: { kind: 'consecutive-failures', threshold: 5 }, openFor: { kind: 'constant', ms: 1000 } })

/** The SRE book's formula. */
const formula = (requests: number, accepts: number, k: number) => Math.max(0, (requests - k * accepts) / (requests + 1))

describe('adaptive throttling (SRE client-side throttling)', () => {
  it('admits everything while the upstream accepts at least 1/k of the requests', () => {
    const h = new Harness(adaptiveThrottle(never(), { k: 2 }))
    for (let i = 0; i < 1000; i++) expect(h.call(i, i % 2 === 0 ? 'success' : 'failure')._tag).toBe('Admitted')
  })

  it('rejects with the formula’s probability, to within one request, while the window holds still', () => {
    for (const [requests, accepts, k] of [
      [100, 10, 2],
      [100, 40, 2],
      [500, 0, 2],
      [300, 50, 1.5],
    ] as const) {
      const strategy = adaptiveThrottle(never(), { k, windowMs: 1_000_000, buckets: 1 })
      const h = new Harness(strategy)
      // Build the window: `requests` requests, `accepts` of them accepted (the rest failed), all admitted at p = 0 first.
      let s = strategy.initial(0)
      s = { ...s, throttle: { ...s.throttle, requests: [requests], accepts: [accepts] } }
      h.state = s
      const p = formula(requests, accepts, k)
      // Requests only (no outcomes): the window grows by one request each time, so follow the formula request by request.
      let admitted = 0
      let expected = 0
      for (let i = 0; i < 200; i++) {
        expected += 1 - formula(requests + i, accepts, k)
        const d = h.request(1 + i)
        if (d._tag === 'Admitted') admitted++
        else expect(d).toMatchObject({ _tag: 'Rejected', reason: 'throttled' })
      }
      expect(Math.abs(admitted - expected), `p = ${p}`).toBeLessThanOrEqual(1)
    }
  })

  it('throttles a failing upstream down to a trickle, and opens up again as it accepts', () => {
    const h = new Harness(adaptiveThrottle(never(), { windowMs: 10_000, buckets: 10 }))
    let admittedWhileDown = 0
    for (let t = 0; t < 10_000; t += 5) if (h.call(t, 'failure')._tag === 'Admitted') admittedWhileDown++
    expect(admittedWhileDown).toBeLessThan(100) // of 2,000 requests
    expect(h.snapshot.detectors.at(-1)).toMatchObject({ kind: 'adaptive-throttle' })
    // Healthy again: each window the admitted share about doubles (k = 2), until everything goes through.
    const admittedPerWindow: number[] = []
    for (let t = 10_000; t < 150_000; t += 5) {
      const w = Math.floor((t - 10_000) / 10_000)
      admittedPerWindow[w] ??= 0
      if (h.call(t, 'success')._tag === 'Admitted') admittedPerWindow[w] = (admittedPerWindow[w] ?? 0) + 1
    }
    expect(admittedPerWindow[1]).toBeGreaterThan(admittedPerWindow[0] ?? 0)
    expect(admittedPerWindow.at(-1)).toBe(2000)
  })

  it('gives a retry-after from the window’s request interval', () => {
    const h = new Harness(adaptiveThrottle(never(), { windowMs: 10_000, buckets: 10 }))
    for (let t = 0; t < 1000; t += 10) h.call(t, 'failure')
    const rejected = [1000, 1010, 1020]
      .map((t) => h.request(t))
      .find((d): d is Extract<Decision, { _tag: 'Rejected' }> => d._tag === 'Rejected')
    expect(rejected?.reason).toBe('throttled')
    expect(rejected?.retryAfterMs).toBeGreaterThan(0)
  })

  it('keeps the circuit: a hard outage still trips it (on the calls the throttle lets through), and an open circuit still rejects', () => {
    const h = new Harness(adaptiveThrottle(classic()))
    let t = 0
    while (h.snapshot.state === 'closed' && t < 100_000) h.call(t++, 'failure')
    expect(h.snapshot.state).toBe('open')
    const reasons = new Set<string>()
    for (let i = 0; i < 50; i++) {
      const d = h.request(t + i)
      if (d._tag === 'Rejected') reasons.add(d.reason)
    }
    expect(reasons.has('open') || reasons.has('throttled')).toBe(true)
  })

  it('counts only outcomes the circuit takes: a forged or repeated outcome is no accept', () => {
    const strategy = adaptiveThrottle(never())
    const h = new Harness(strategy)
    const d = h.request(0)
    if (d._tag !== 'Admitted') throw new Error('expected an admission')
    h.settle(d, 'success', 1)
    const accepted = (h.state.throttle.accepts as number[]).reduce((a, b) => a + b, 0)
    expect(h.settle(d, 'success', 2)._tag).toBe('Ignored')
    expect(h.step(BreakerEvent.succeeded({ generation: 0, id: 99, probe: false }, 1), 3)._tag).toBe('Ignored')
    expect((h.state.throttle.accepts as number[]).reduce((a, b) => a + b, 0)).toBe(accepted)
  })

  it('round-trips its state, refuses a bad one, and keeps its window over a swap to another throttled strategy', () => {
    const strategy = adaptiveThrottle(classic(), { windowMs: 10_000, buckets: 10 })
    const h = new Harness(strategy)
    for (let t = 0; t < 3000; t += 10) h.call(t, t % 30 === 0 ? 'failure' : 'success')
    const encoded = JSON.parse(JSON.stringify(strategy.codec.encode(h.state)))
    const decoded = strategy.codec.decode(encoded)
    expect(decoded._tag === 'Right' && strategy.codec.encode(decoded.right)).toEqual(encoded)
    expect(strategy.codec.decode({ ...encoded, throttle: { ...encoded.throttle, requests: [1] } })._tag).toBe('Left')
    expect(strategy.codec.decode({ ...encoded, throttle: { ...encoded.throttle, credit: 1_000_000 } })._tag).toBe('Left')
    const other = adaptiveThrottle(circuit({ trip: { kind: 'consecutive-failures', threshold: 7 } }), { windowMs: 10_000, buckets: 10 })
    const swapped = new Harness(strategy)
    swapped.state = h.state
    swapped.swap(other as never, 3000)
    expect((swapped.state as { throttle: unknown }).throttle).toEqual(h.state.throttle)
  })

  it('refuses a bad config with a clear error', () => {
    expect(() => adaptiveThrottle(never(), { k: 0.5 })).toThrow('k')
    expect(() => adaptiveThrottle(never(), { windowMs: 5, buckets: 10 })).toThrow('buckets')
  })

  it('never throws, is deterministic, and admits within one request of its credit whatever the traffic', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.constantFrom('success', 'failure', 'none')), { maxLength: 400 }),
        fc.double({ min: 1, max: 5, noNaN: true }),
        (steps, k) => {
          const strategy = adaptiveThrottle(never(), { k, windowMs: 1000, buckets: 5 })
          let s = strategy.initial(0)
          let now = 0
          for (const [dt, outcome] of steps) {
            now += dt
            const [next, d] = strategy.step(s, BreakerEvent.requested(), now)
            expect(strategy.step(s, BreakerEvent.requested(), now)).toEqual([next, d])
            expect(next.throttle.credit).toBeGreaterThanOrEqual(0)
            expect(next.throttle.credit).toBeLessThan(1_000_000)
            s = next
            if (d._tag === 'Admitted' && outcome !== 'none') {
              s = strategy.step(s, outcome === 'success' ? BreakerEvent.succeeded(d, 1) : BreakerEvent.failed(d, 1), now)[0]
            }
            const rate = strategy.inspect(s).admitRate
            expect(rate).toBeGreaterThanOrEqual(0)
            expect(rate).toBeLessThanOrEqual(1)
            const round = strategy.codec.decode(JSON.parse(JSON.stringify(strategy.codec.encode(s))))
            expect(round._tag).toBe('Right')
          }
        },
      ),
      { numRuns: process.env.CI === 'true' ? 2000 : 200 },
    )
  })
})
