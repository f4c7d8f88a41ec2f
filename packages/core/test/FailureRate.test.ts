import { circuit, failureRate } from '@datapunk/breaker'
import { describe, expect, it } from 'vitest'
import { Harness } from './harness.js'

describe('failureRate over a count window', () => {
  const strategy = circuit({
    trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 4, window: { kind: 'count', size: 6 } },
  })

  it('trips exactly at the inclusive threshold and not one call before', () => {
    const h = new Harness(strategy)
    // 4 calls: S F S F -> 2/4 = 0.5, trips on the 4th (the first call at which a rate exists).
    h.call(0, 'success')
    h.call(1, 'failure')
    h.call(2, 'success')
    expect(h.snapshot.state).toBe('closed')
    expect(h.snapshot.failureRate).toBeNull()
    h.call(3, 'failure')
    expect(h.snapshot.state).toBe('open')
  })

  it('does not trip below minimumCalls, however bad the calls', () => {
    const h = new Harness(strategy)
    for (let i = 0; i < 3; i++) h.call(i, 'failure')
    expect(h.snapshot.state).toBe('closed')
    expect(h.snapshot.failures).toBe(3)
    expect(h.snapshot.failureRate).toBeNull()
  })

  it('stays closed just under the threshold', () => {
    const h = new Harness(strategy)
    // 6 calls with 2 failures = 0.33, then the oldest success leaves the window.
    for (const outcome of ['success', 'success', 'failure', 'success', 'success', 'failure'] as const) h.call(0, outcome)
    expect(h.snapshot.state).toBe('closed')
    expect(h.snapshot.failureRate).toBeCloseTo(2 / 6)
    h.call(1, 'failure') // window: S F S S F F = 3/6
    expect(h.snapshot.state).toBe('open')
  })

  it('counts only the last N calls', () => {
    const h = new Harness(strategy)
    h.call(0, 'failure')
    for (let i = 0; i < 5; i++) h.call(i, 'success')
    expect(h.snapshot.failures).toBe(1)
    h.call(6, 'success') // the failure is the 7th call back: out of the 6-call window
    expect(h.snapshot.calls).toBe(6)
    expect(h.snapshot.failures).toBe(0)
    expect(h.snapshot.failureRate).toBe(0)
  })

  it('compares by division, so 7 of 10 meets a 0.7 threshold', () => {
    const detector = failureRate({ threshold: 0.7, minimumCalls: 10, window: { kind: 'count', size: 10 } })
    let s = detector.initial(0)
    for (let i = 0; i < 10; i++) s = detector.record(s, i < 7, 1, 0)
    expect(detector.tripped(s)).toBe(true)
  })

  it('refuses a minimumCalls the window can never reach', () => {
    expect(() => failureRate({ threshold: 0.5, minimumCalls: 20, window: { kind: 'count', size: 10 } })).toThrow(
      'minimumCalls: expected at most the window size (10), got 20',
    )
  })
})

describe('failureRate over a time window', () => {
  const strategy = circuit({
    trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 2, window: { kind: 'time', durationMs: 1000, buckets: 10 } },
  })

  it('forgets outcomes D ms after their bucket began, with no traffic in between', () => {
    const h = new Harness(strategy)
    h.call(0, 'failure', 0)
    expect(h.snapshot.failures).toBe(1)
    h.step({ _tag: 'Ticked' }, 999)
    expect(h.snapshot.failures).toBe(1)
    h.step({ _tag: 'Ticked' }, 1000)
    expect(h.snapshot.failures).toBe(0)
    expect(h.snapshot.calls).toBe(0)
    // The old failure no longer helps trip: one new failure is below minimumCalls.
    h.call(1000, 'failure', 0)
    expect(h.snapshot.state).toBe('closed')
  })

  it('expires lazily on the next outcome too', () => {
    const h = new Harness(strategy)
    h.call(0, 'failure', 0)
    h.call(5000, 'failure', 0)
    expect(h.snapshot.calls).toBe(1)
    expect(h.snapshot.state).toBe('closed')
  })

  it('trips when failures inside the window reach the threshold', () => {
    const h = new Harness(strategy)
    h.call(0, 'success', 0)
    h.call(500, 'success', 0)
    h.call(990, 'failure', 0)
    expect(h.snapshot.state).toBe('closed') // 1 / 3
    h.call(995, 'failure', 0)
    expect(h.snapshot.state).toBe('open') // 2 / 4
  })
})
