import { adaptiveThrottle, BreakerEvent, circuit, type Decision, strategyFromConfig } from '@datapunk/breaker'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Harness } from './harness.js'

const never = () => circuit({ name: 'never', trip: { kind: 'consecutive-failures', threshold: 1_000_000 } })
const classic = () =>
  circuit({ name: 'classic', trip: { kind: 'consecutive-failures', threshold: 5 }, openFor: { kind: 'constant', ms: 1000 } })

/** Envoy's admission control formula (the SRE book's with `threshold = 1 / k`). */
const formula = (requests: number, accepts: number, threshold: number, aggression = 1, max = 1) =>
  Math.min(max, Math.max(0, (requests - accepts / threshold) / (requests + 1)) ** (1 / aggression))

describe('adaptive throttling (Envoy admission control, after SRE client-side throttling)', () => {
  it('admits everything while the upstream accepts at least the success-rate threshold of the calls', () => {
    const h = new Harness(adaptiveThrottle(never(), { successRateThreshold: 0.5 }))
    for (let i = 0; i < 1000; i++) expect(h.call(i, i % 2 === 0 ? 'success' : 'failure')._tag).toBe('Admitted')
  })

  it('never throttles a cold start: a call counts when it completes, so a healthy upstream at 200 ms is never held back', () => {
    // 1,000 requests/s, each completing 200 ms later: 200 calls in flight before the first completes.
    const h = new Harness(adaptiveThrottle(never()))
    const pending: Array<{ at: number; d: Decision }> = []
    let rejected = 0
    for (let t = 0; t < 5_000; t++) {
      while (pending.length > 0 && (pending[0]?.at ?? Number.POSITIVE_INFINITY) <= t) {
        const p = pending.shift()
        if (p?.d._tag === 'Admitted') h.settle(p.d, 'success', t, 200)
      }
      const d = h.request(t)
      if (d._tag === 'Rejected') rejected++
      else pending.push({ at: t + 200, d })
    }
    expect(rejected).toBe(0)
  })

  it('rejects with the formula’s probability, to within one request, while the window holds still', () => {
    for (const [requests, accepts, threshold, aggression, max] of [
      [100, 10, 0.5, 1, 1],
      [100, 40, 0.5, 1, 1],
      [500, 0, 0.5, 1, 0.95],
      [300, 50, 1 / 1.5, 1, 1],
      [300, 200, 0.95, 2, 0.8],
    ] as const) {
      const strategy = adaptiveThrottle(never(), {
        successRateThreshold: threshold,
        aggression,
        maxRejectionProbability: max,
        minRequestsPerSecond: 0,
        windowMs: 1_000_000,
        buckets: 1,
      })
      const h = new Harness(strategy)
      const s = strategy.initial(0)
      h.state = { ...s, throttle: { ...s.throttle, requests: [requests], accepts: [accepts] } }
      // Requests only (no outcomes): the window holds still, so the probability does too.
      const p = formula(requests, accepts, threshold, aggression, max)
      let admitted = 0
      for (let i = 0; i < 200; i++) {
        const d = h.request(1 + i)
        if (d._tag === 'Admitted') admitted++
        else expect(d).toMatchObject({ _tag: 'Rejected', reason: 'throttled' })
      }
      expect(Math.abs(admitted - 200 * (1 - p)), `p = ${p}`).toBeLessThanOrEqual(1)
    }
  })

  it('rejects nothing below minRequestsPerSecond of completed calls over the window', () => {
    const h = new Harness(adaptiveThrottle(never(), { minRequestsPerSecond: 2, windowMs: 10_000, buckets: 10 }))
    // One failing call every second: 10 completions per 10 s window, under the 20 the minimum asks.
    for (let t = 0; t < 60_000; t += 1000) expect(h.call(t, 'failure')._tag).toBe('Admitted')
  })

  it('keeps maxRejectionProbability of traffic flowing through a hard outage, and lets everything through once it is over', () => {
    const h = new Harness(adaptiveThrottle(never(), { maxRejectionProbability: 0.9, windowMs: 10_000, buckets: 10 }))
    let admittedWhileDown = 0
    for (let t = 0; t < 10_000; t += 5) if (h.call(t, 'failure')._tag === 'Admitted') admittedWhileDown++
    // Of 2,000 requests, about a tenth (and a few more while the window filled).
    expect(admittedWhileDown).toBeGreaterThanOrEqual(200)
    expect(admittedWhileDown).toBeLessThan(300)
    expect(h.snapshot.detectors.at(-1)).toMatchObject({ kind: 'adaptive-throttle' })
    // Healthy again: the admitted share climbs as successes fill the window; within two windows all goes through.
    const admittedPerSecond: number[] = []
    for (let t = 10_000; t < 40_000; t += 5) {
      const w = Math.floor((t - 10_000) / 1000)
      admittedPerSecond[w] ??= 0
      if (h.call(t, 'success')._tag === 'Admitted') admittedPerSecond[w] = (admittedPerSecond[w] ?? 0) + 1
    }
    expect(admittedPerSecond[1]).toBeGreaterThan(admittedPerSecond[0] ?? 0)
    expect(admittedPerSecond.at(-1)).toBe(200)
  })

  it('counts a success slower than slowCallMs as a failure (the success criterion)', () => {
    const h = new Harness(adaptiveThrottle(never(), { slowCallMs: 100, windowMs: 10_000, buckets: 10 }))
    for (let t = 0; t < 1000; t += 5) {
      const d = h.request(t)
      if (d._tag === 'Admitted') h.settle(d, 'success', t + 1, 500)
    }
    expect(h.snapshot.detectors.at(-1)?.figures).toMatchObject({ accepts: 0 })
    expect(h.snapshot.admitRate).toBeLessThan(0.1)
  })

  it('gives a retry-after from the window’s interval between completions', () => {
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
    expect(reasons.has('open')).toBe(true)
  })

  it('counts only outcomes the circuit takes: a forged or repeated outcome completes no call', () => {
    const strategy = adaptiveThrottle(never())
    const h = new Harness(strategy)
    const d = h.request(0)
    if (d._tag !== 'Admitted') throw new Error('expected an admission')
    h.settle(d, 'success', 1)
    const total = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0)
    expect([total(h.state.throttle.requests), total(h.state.throttle.accepts)]).toEqual([1, 1])
    expect(h.settle(d, 'success', 2)._tag).toBe('Ignored')
    expect(h.step(BreakerEvent.succeeded({ generation: 0, id: 99, probe: false }, 1), 3)._tag).toBe('Ignored')
    expect([total(h.state.throttle.requests), total(h.state.throttle.accepts)]).toEqual([1, 1])
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
    const moreAccepts = { ...encoded.throttle, accepts: encoded.throttle.requests.map((r: number) => r + 1) }
    expect(strategy.codec.decode({ ...encoded, throttle: moreAccepts })._tag).toBe('Left')
    const other = adaptiveThrottle(circuit({ trip: { kind: 'consecutive-failures', threshold: 7 } }), { windowMs: 10_000, buckets: 10 })
    const swapped = new Harness(strategy)
    swapped.state = h.state
    swapped.swap(other as never, 3000)
    expect((swapped.state as { throttle: unknown }).throttle).toEqual(h.state.throttle)
  })

  it('refuses a bad config with a clear error', () => {
    expect(() => adaptiveThrottle(never(), { successRateThreshold: 0 })).toThrow('successRateThreshold')
    expect(() => adaptiveThrottle(never(), { maxRejectionProbability: 1.5 })).toThrow('maxRejectionProbability')
    expect(() => adaptiveThrottle(never(), { windowMs: 5, buckets: 10 })).toThrow('buckets')
    expect(() => adaptiveThrottle(null as never)).toThrow(
      new TypeError('adaptiveThrottle: expected the strategy to wrap (circuit(...)), got null'),
    )
    expect(() => adaptiveThrottle({ trip: { kind: 'consecutive-failures', threshold: 1 } } as never)).toThrow(
      'adaptiveThrottle: expected the strategy to wrap',
    )
  })

  it('never throws, is deterministic, and admits within one request of its credit whatever the traffic', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.constantFrom('success', 'failure', 'none')), { maxLength: 400 }),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (steps, successRateThreshold, maxRejectionProbability) => {
          const strategy = adaptiveThrottle(never(), { successRateThreshold, maxRejectionProbability, windowMs: 1000, buckets: 5 })
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
            expect(rate).toBeGreaterThanOrEqual(1 - maxRejectionProbability - 1e-12)
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

describe('the adaptive-throttle config kind', () => {
  it('decodes a throttle around a circuit, with the canonical config (every default filled)', () => {
    const decoded = strategyFromConfig({
      kind: 'adaptive-throttle',
      maxRejectionProbability: 0.8,
      circuit: { name: 'payments', trip: { kind: 'consecutive-failures', threshold: 5 } },
    })
    if (decoded._tag === 'Left') throw decoded.left
    expect(decoded.right.name).toBe('payments')
    expect(decoded.right.config).toMatchObject({
      kind: 'adaptive-throttle',
      successRateThreshold: 0.5,
      maxRejectionProbability: 0.8,
      circuit: { name: 'payments', trip: { kind: 'consecutive-failures', threshold: 5 } },
    })
    // The canonical config decodes to the same config again.
    const again = strategyFromConfig(JSON.parse(JSON.stringify(decoded.right.config)))
    expect(again._tag === 'Right' && again.right.config).toEqual(decoded.right.config)
  })

  it('names every problem by its path, the throttle’s and the circuit’s together', () => {
    const bad = strategyFromConfig({
      kind: 'adaptive-throttle',
      aggression: 0,
      circuit: { trip: { kind: 'consecutive-failures', threshold: 0 } },
    })
    expect(bad._tag === 'Left' && bad.left.message.split('\n')).toEqual([
      'aggression: expected a number in (0, 100], got 0',
      'circuit.trip.threshold: expected an integer >= 1, got 0',
    ])
    const missing = strategyFromConfig({ kind: 'adaptive-throttle' })
    expect(missing._tag === 'Left' && missing.left.message).toBe('circuit: expected a circuit config (the strategy the throttle wraps)')
  })

  it('reads a plain circuit config as fromConfig does', () => {
    const plain = strategyFromConfig({ trip: { kind: 'consecutive-failures', threshold: 3 } })
    expect(plain._tag === 'Right' && plain.right.config).toMatchObject({ trip: { kind: 'consecutive-failures', threshold: 3 } })
  })
})
