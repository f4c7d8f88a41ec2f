/**
 * Clocks that jump (core issue, section 5). Each test reproduces a defect of the previous core.
 */
import { type Admitted, BreakerEvent, circuit, Limits, restore } from '@datapunk/breaker'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { anyTrip, configWith } from './arbitraries.js'
import { admitted, Harness } from './harness.js'
import { NUM_RUNS } from './invariants.js'

const s = circuit({
  trip: { kind: 'consecutive-failures', threshold: 1 },
  openFor: { kind: 'constant', ms: 1000 },
})

describe('clock jumps', () => {
  it('one failure stamped now = 1e15 does not keep the breaker open on the real clock', () => {
    const h = new Harness(s, 1000)
    const ticket = admitted(h.request(1000))
    h.settle(ticket, 'failure', 1e15)
    expect(h.snapshot.state).toBe('open')
    // Back on the real clock: the open phase is moved onto it, with the wait it had left.
    expect(h.request(2000)).toEqual({ _tag: 'Rejected', reason: 'open', retryAfterMs: 1000 })
    expect(h.request(3000)).toMatchObject({ _tag: 'Admitted', probe: true })
  })

  it('stepping the clock back an hour keeps the breaker open for its open duration, not an hour more', () => {
    const h = new Harness(
      circuit({ trip: { kind: 'consecutive-failures', threshold: 1 }, openFor: { kind: 'constant', ms: 30_000 } }),
      10_000_000,
    )
    h.call(10_000_000, 'failure')
    const hourBack = 10_000_000 - 3_600_000
    expect(h.request(hourBack + 10_000)).toEqual({ _tag: 'Rejected', reason: 'open', retryAfterMs: 30_000 })
    expect(h.request(hourBack + 40_000)._tag).toBe('Admitted')
  })

  it('a string now never gets into the state, so the breaker’s own snapshot still restores', () => {
    const h = new Harness(s, 0)
    h.step(BreakerEvent.ticked(), '12:00' as never)
    h.call(5, 'failure')
    expect(restore(s, JSON.parse(JSON.stringify(s.codec.encode(h.state))))._tag).toBe('Right')
  })

  it('a forward jump opens the way: a circuit open until t is half-open at any later time', () => {
    const h = new Harness(s, 0)
    h.call(0, 'failure', 0)
    expect(h.request(1e12)).toMatchObject({ _tag: 'Admitted', probe: true })
  })

  it('time windows keep their counts across a jump back (moved, not dropped)', () => {
    const rate = circuit({
      trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 4, window: { kind: 'time', durationMs: 10_000, buckets: 10 } },
    })
    const h = new Harness(rate, 100_000)
    h.call(100_000, 'failure')
    h.call(101_000, 'success')
    h.call(50_000, 'failure') // 51 s back: the window is moved onto the new clock
    expect(h.snapshot).toMatchObject({ state: 'closed', calls: 3, failures: 2 })
    h.call(50_100, 'success')
    expect(h.snapshot).toMatchObject({ state: 'open' }) // 2 of 4
  })

  it('restore refuses an open state that could never be reached (openUntil beyond the longest open duration)', () => {
    const h = new Harness(s, 0)
    h.call(0, 'failure', 0)
    const encoded = s.codec.encode(h.state) as { phase: { openUntil: number } }
    expect(restore(s, encoded)._tag).toBe('Right')
    const forged = { ...encoded, phase: { ...encoded.phase, openUntil: 1e15 } }
    const result = restore(s, forged)
    expect(result._tag === 'Left' && result.left.message).toBe(
      '(root): expected openUntil at most 1000 ms after since (the longest open duration)',
    )
  })
})

const anyTime = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -5_000, max: 5_000 }).map((dt) => ({ dt })) },
  { weight: 2, arbitrary: fc.oneof(fc.double(), fc.constantFrom(1e15, -1e15, Number.MAX_VALUE)).map((at) => ({ at })) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom<unknown>(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, '12:00', null, undefined)
      .map((bad) => ({ bad })),
  },
)
const clockStep = fc.record({ time: anyTime, op: fc.constantFrom('request', 'request', 'fail', 'succeed', 'tick') })

describe('arbitrary clock sequences', () => {
  it('never throw, never store a time that is not finite (or beyond +-2^53 ms), keep open phases within their open duration of the caller clock, and report the true wait', () => {
    fc.assert(
      fc.property(configWith(anyTrip, 'any'), fc.array(clockStep, { minLength: 1, maxLength: 80 }), (config, steps) => {
        const strategy = circuit(config)
        let state = strategy.initial(0)
        let clock = 0
        const inFlight: Admitted[] = []
        for (const step of steps) {
          if ('dt' in step.time) clock += step.time.dt
          const time: unknown = 'dt' in step.time ? clock : 'at' in step.time ? step.time.at : step.time.bad
          const event: BreakerEvent =
            step.op === 'request' || inFlight.length === 0
              ? step.op === 'tick'
                ? BreakerEvent.ticked()
                : BreakerEvent.requested()
              : { _tag: step.op === 'fail' ? 'CallFailed' : 'CallSucceeded', ticket: inFlight.shift() as Admitted, latencyMs: 3 }
          const [next, decision] = strategy.step(state, event, time as number)
          const finite = typeof time === 'number' && Math.abs(time) <= Limits.maxTime
          if (!finite) expect(decision).toEqual({ _tag: 'Ignored', reason: 'invalid-time' })
          if (decision._tag === 'Admitted') inFlight.push(decision)
          const encoded = JSON.stringify(strategy.codec.encode(next))
          // JSON turns a NaN or an infinity into null, which the codec's finite-number checks refuse.
          expect(restore(strategy, JSON.parse(encoded))._tag).toBe('Right')
          if (finite && next.phase.state === 'open' && next.phase.openUntil !== null && decision._tag !== 'Ignored') {
            expect(next.phase.openUntil - (time as number)).toBeLessThanOrEqual(
              Math.max(strategy.openFor.maxMs, 0) + Limits.clockToleranceMs,
            )
          }
          if (finite && decision._tag === 'Rejected' && decision.reason === 'open') {
            expect(decision.retryAfterMs).toBe((next.phase.openUntil ?? Number.NaN) - (time as number))
          }
          state = next
        }
      }),
      { numRuns: NUM_RUNS },
    )
  })
})
