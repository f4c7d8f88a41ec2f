import { circuit, consecutiveFailures } from '@datapunk/breaker'
import { describe, expect, it } from 'vitest'
import { Harness } from './harness.js'

describe('consecutiveFailures', () => {
  const strategy = circuit({ trip: { kind: 'consecutive-failures', threshold: 3 }, openFor: { kind: 'constant', ms: 1000 } })

  it('trips on the n-th failure in a row, not one before', () => {
    const h = new Harness(strategy)
    h.call(0, 'failure')
    h.call(1, 'failure')
    expect(h.snapshot.state).toBe('closed')
    expect(h.snapshot.consecutiveFailures).toBe(2)
    h.call(2, 'failure')
    expect(h.snapshot.state).toBe('open')
    expect(h.snapshot.reason).toBe('tripped')
    expect(h.snapshot.openUntil).toBe(1003)
  })

  it('a success resets the run', () => {
    const h = new Harness(strategy)
    h.call(0, 'failure')
    h.call(1, 'failure')
    h.call(2, 'success')
    h.call(3, 'failure')
    h.call(4, 'failure')
    expect(h.snapshot.state).toBe('closed')
    expect(h.snapshot.consecutiveFailures).toBe(2)
  })

  it('keeps the same state object for successes on a clean run (no allocation)', () => {
    const d = consecutiveFailures({ threshold: 2 })
    const s = d.initial(0)
    expect(d.record(s, false, 10, 0)).toBe(s)
  })

  it('rejects a bad threshold at construction with a readable error', () => {
    expect(() => consecutiveFailures({ threshold: 0 })).toThrow('threshold: expected an integer >= 1, got 0')
  })
})
