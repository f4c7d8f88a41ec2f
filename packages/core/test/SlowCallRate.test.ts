import { BreakerEvent, type CircuitData, circuit } from '@datapunk/breaker'
import { describe, expect, it } from 'vitest'
import { Harness } from './harness.js'

describe('slowCallRate', () => {
  const strategy = circuit({
    trip: { kind: 'slow-call-rate', threshold: 0.5, slowCallMs: 100, minimumCalls: 4, window: { kind: 'count', size: 10 } },
  })

  it('counts successes at or over slowCallMs as slow and trips at the inclusive threshold', () => {
    const h = new Harness(strategy)
    h.call(0, 'success', 100) // exactly slowCallMs: slow
    h.call(0, 'success', 99)
    h.call(0, 'success', 5)
    expect(h.snapshot.state).toBe('closed')
    expect(h.snapshot.slowCalls).toBe(1)
    h.call(0, 'success', 250)
    expect(h.snapshot.state).toBe('open')
    expect(h.snapshot.slowCallRate).toBe(0.5) // the counts that tripped stay visible while open
  })

  it('counts slow failures as slow too', () => {
    const h = new Harness(strategy)
    for (let i = 0; i < 3; i++) h.call(0, 'success', 1)
    h.call(0, 'failure', 500)
    expect(h.snapshot.slowCalls).toBe(1)
    expect(h.snapshot.slowCallRate).toBe(0.25)
    expect(h.snapshot.state).toBe('closed')
  })
})

describe('calls still running (CallOverdue)', () => {
  const trip = { kind: 'slow-call-rate', threshold: 0.5, slowCallMs: 100, minimumCalls: 2, window: { kind: 'count', size: 10 } } as const
  const strategy = circuit({ trip })
  const admit = (s: CircuitData, now: number) => {
    const [next, decision] = strategy.step(s, BreakerEvent.requested(), now)
    if (decision._tag !== 'Admitted') throw new Error('not admitted')
    return [next, decision] as const
  }

  it('a circuit counting slow calls says from when: its detectors smallest slowCallMs', () => {
    expect(strategy.overdueAfterMs).toBe(100)
    const both = circuit({ trip: { kind: 'any-of', detectors: [trip, { ...trip, slowCallMs: 40 }] } })
    expect(both.overdueAfterMs).toBe(40)
    expect(circuit({ trip: { kind: 'consecutive-failures', threshold: 2 } }).overdueAfterMs).toBeUndefined()
  })

  it('counts a running call as slow and not failed, keeps it in flight, and may trip on it', () => {
    const [s0, first] = admit(strategy.initial(0), 0)
    const [s, second] = admit(s0, 10)
    let [next, decision] = strategy.step(s, BreakerEvent.overdue(first, 150), 150)
    expect(decision._tag).toBe('Recorded')
    expect(strategy.inspect(next)).toMatchObject({ state: 'closed', calls: 1, slowCalls: 1, failures: 0, inFlight: 2 })
    ;[next, decision] = strategy.step(next, BreakerEvent.overdue(second, 140), 150)
    expect(strategy.inspect(next)).toMatchObject({ state: 'open', reason: 'tripped', slowCalls: 2 })
    // Their outcomes belong to the closed phase that ended: stale.
    expect(strategy.step(next, BreakerEvent.failed(first, 900), 900)[1]).toMatchObject({ _tag: 'Ignored', reason: 'stale' })
  })

  it('an outcome reported overdue is skipped by the detectors that counted it, counted by the others', () => {
    const composite = circuit({
      trip: {
        kind: 'any-of',
        detectors: [
          { kind: 'failure-rate', threshold: 0.9, minimumCalls: 10, window: { kind: 'count', size: 10 } },
          { ...trip, minimumCalls: 10 },
        ],
      },
    })
    const [s0, decision] = composite.step(composite.initial(0), BreakerEvent.requested(), 0)
    if (decision._tag !== 'Admitted') throw new Error('not admitted')
    const [s1] = composite.step(s0, BreakerEvent.overdue(decision, 120), 120)
    const [s2] = composite.step(s1, { ...BreakerEvent.failed(decision, 300), overdueMs: 120 }, 300)
    const [rate, slow] = composite.inspect(s2).detectors
    expect([rate?.calls, rate?.failures, slow?.calls, slow?.slowCalls, slow?.failures]).toEqual([1, 1, 1, 1, 0])
    expect(composite.inspect(s2).inFlight).toBe(0)
  })

  it('a report before the threshold, or an outcome whose overdueMs is below it or no time at all, counts as usual', () => {
    let [s, ticket] = admit(strategy.initial(0), 0)
    ;[s] = strategy.step(s, BreakerEvent.overdue(ticket, 99), 99)
    expect(strategy.inspect(s)).toMatchObject({ calls: 0, inFlight: 1 })
    ;[s] = strategy.step(s, { ...BreakerEvent.succeeded(ticket, 150), overdueMs: 99 }, 150)
    expect(strategy.inspect(s)).toMatchObject({ calls: 1, slowCalls: 1, inFlight: 0 })
    ;[s, ticket] = admit(s, 200)
    ;[s] = strategy.step(s, { ...BreakerEvent.succeeded(ticket, 5), overdueMs: Number.NaN }, 205)
    expect(strategy.inspect(s)).toMatchObject({ calls: 2, slowCalls: 1 })
  })

  it('ignores a malformed report, one for a ticket not in flight, and changes nothing outside closed', () => {
    const [s, ticket] = admit(strategy.initial(0), 0)
    expect(strategy.step(s, { _tag: 'CallOverdue', ticket, elapsedMs: -1 }, 5)[1]).toMatchObject({ reason: 'invalid-event' })
    expect(strategy.step(s, { _tag: 'CallOverdue', ticket: { ...ticket, id: 7 }, elapsedMs: 500 }, 5)[1]).toMatchObject({
      reason: 'unknown-ticket',
    })
    expect(() => BreakerEvent.overdue(ticket, Number.POSITIVE_INFINITY)).toThrow(/elapsedMs: expected a finite number/)
    const [open] = strategy.step(s, BreakerEvent.openFor(10), 5)
    const [halfOpen, probe] = strategy.step(open, BreakerEvent.requested(), 20)
    if (probe._tag !== 'Admitted') throw new Error('no probe')
    const [after, decision] = strategy.step(halfOpen, BreakerEvent.overdue(probe, 500), 520)
    expect(decision._tag).toBe('Recorded')
    expect(after).toBe(halfOpen)
  })
})
