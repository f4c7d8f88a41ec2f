import { BreakerEvent, circuit } from '@datapunk/breaker'
import { describe, expect, it } from 'vitest'
import { admitted, Harness } from './harness.js'

const strategy = circuit({
  trip: { kind: 'consecutive-failures', threshold: 1 },
  recovery: { kind: 'classic', probes: 3, failureRateThreshold: 0.5 },
  openFor: { kind: 'constant', ms: 1000 },
})

/** A harness whose breaker tripped at t=0 (open until 1000). */
const tripped = () => {
  const h = new Harness(strategy)
  h.call(0, 'failure', 0)
  expect(h.snapshot.state).toBe('open')
  expect(h.snapshot.openUntil).toBe(1000)
  return h
}

describe('classic half-open', () => {
  it('rejects while open with the time left, and turns half-open at openUntil (inclusive)', () => {
    const h = tripped()
    expect(h.request(400)).toEqual({ _tag: 'Rejected', reason: 'open', retryAfterMs: 600 })
    expect(h.request(999)).toEqual({ _tag: 'Rejected', reason: 'open', retryAfterMs: 1 })
    const probe = admitted(h.request(1000))
    expect(probe.probe).toBe(true)
    expect(h.snapshot.state).toBe('half-open')
    expect(h.snapshot.reason).toBe('open-elapsed')
  })

  it('a tick at openUntil turns it half-open without a request', () => {
    const h = tripped()
    h.step(BreakerEvent.ticked(), 1000)
    expect(h.snapshot.state).toBe('half-open')
  })

  it('admits exactly `probes` calls; the rest are rejected as half-open-full', () => {
    const h = tripped()
    const probes = [h.request(1000), h.request(1001), h.request(1002)]
    expect(probes.every((d) => d._tag === 'Admitted')).toBe(true)
    expect(h.request(1003)).toEqual({ _tag: 'Rejected', reason: 'half-open-full', retryAfterMs: null })
    expect(h.snapshot.recovery).toMatchObject({ kind: 'classic', inFlight: 3 })
  })

  it('a cancelled probe gives its permit back, and a second cancel of nothing is stale', () => {
    const h = tripped()
    const tickets = [admitted(h.request(1000)), admitted(h.request(1000)), admitted(h.request(1000))]
    expect(h.request(1001)._tag).toBe('Rejected')
    expect(h.step(BreakerEvent.cancelled(tickets[0] as never), 1002)).toEqual({ _tag: 'Recorded' })
    expect(h.snapshot.recovery).toMatchObject({ inFlight: 2 })
    admitted(h.request(1003))
    expect(h.request(1004)._tag).toBe('Rejected')
    // Settle all three in flight; a fourth cancel has no admission to match.
    for (const t of tickets.slice(1)) h.settle(t, 'success', 1005)
    expect(h.snapshot.state).toBe('half-open')
  })

  it('closes when every probe settled under the threshold', () => {
    const h = tripped()
    const tickets = [admitted(h.request(1000)), admitted(h.request(1000)), admitted(h.request(1000))]
    h.settle(tickets[0] as never, 'success', 1010)
    h.settle(tickets[1] as never, 'failure', 1010) // 1 / 3 < 0.5
    expect(h.snapshot.state).toBe('half-open')
    h.settle(tickets[2] as never, 'success', 1010)
    expect(h.snapshot.state).toBe('closed')
    expect(h.snapshot.reason).toBe('recovered')
    expect(h.snapshot.trips).toBe(0)
  })

  it('reopens as soon as the failures make the threshold unreachable, without waiting for the rest', () => {
    const h = tripped()
    const tickets = [admitted(h.request(1000)), admitted(h.request(1000)), admitted(h.request(1000))]
    h.settle(tickets[0] as never, 'failure', 1010)
    expect(h.snapshot.state).toBe('half-open') // 1 / 3 < 0.5
    h.settle(tickets[1] as never, 'failure', 1020) // 2 / 3 >= 0.5
    expect(h.snapshot.state).toBe('open')
    expect(h.snapshot.reason).toBe('recovery-failed')
    expect(h.snapshot.openUntil).toBe(2020)
    // The last probe's outcome is from the old generation: stale, not counted.
    expect(h.settle(tickets[2] as never, 'success', 1030)).toEqual({ _tag: 'Ignored', reason: 'stale' })
  })

  it('counts a slow probe as failed when slowCallMs is set', () => {
    const slow = circuit({
      trip: { kind: 'consecutive-failures', threshold: 1 },
      recovery: { kind: 'classic', probes: 1, slowCallMs: 100 },
      openFor: { kind: 'constant', ms: 10 },
    })
    const h = new Harness(slow)
    h.call(0, 'failure', 0)
    h.call(10, 'success', 150)
    expect(h.snapshot.state).toBe('open')
  })
})
