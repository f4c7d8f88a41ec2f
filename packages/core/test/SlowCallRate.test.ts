import { circuit } from '@datapunk/breaker'
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
