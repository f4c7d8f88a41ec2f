import { circuit, failureCount } from '@datapunk/breaker'
import { describe, expect, it } from 'vitest'
import { Harness } from './harness.js'

describe('failureCount (absolute)', () => {
  it('trips at the threshold-th failure in the window, whatever the successes', () => {
    const h = new Harness(
      circuit({ trip: { kind: 'failure-count', threshold: 3, window: { kind: 'time', durationMs: 10_000, buckets: 10 } } }),
    )
    for (let i = 0; i < 100; i++) h.call(i, 'success')
    h.call(100, 'failure')
    h.call(101, 'failure')
    expect(h.snapshot.state).toBe('closed')
    h.call(102, 'failure')
    expect(h.snapshot.state).toBe('open')
  })

  it('failures that left the window do not count', () => {
    const h = new Harness(
      circuit({ trip: { kind: 'failure-count', threshold: 2, window: { kind: 'time', durationMs: 1000, buckets: 4 } } }),
    )
    h.call(0, 'failure', 0)
    h.call(1000, 'failure', 0)
    expect(h.snapshot.state).toBe('closed')
    h.call(1249, 'failure', 0)
    expect(h.snapshot.state).toBe('open')
  })

  it('works over a count window', () => {
    const d = failureCount({ threshold: 2, window: { kind: 'count', size: 3 } })
    let s = d.initial(0)
    for (const failed of [true, false, false, true]) s = d.record(s, failed, 1, 0)
    expect(d.tripped(s)).toBe(false) // the first failure left the 3-call window
    s = d.record(s, true, 1, 0)
    expect(d.tripped(s)).toBe(true)
  })

  it('refuses a threshold larger than a count window', () => {
    expect(() => failureCount({ threshold: 5, window: { kind: 'count', size: 3 } })).toThrow(
      'threshold: expected at most the window size (3), got 5',
    )
  })
})
