/**
 * Tickets identify calls (core issue, section 2). Each test reproduces a defect of the previous
 * core, where a ticket was only `{ generation, probe }`.
 */
import { BreakerEvent, circuit, type Ticket } from '@datapunk/breaker'
import { describe, expect, it } from 'vitest'
import { admitted, Harness } from './harness.js'

const threshold3 = circuit({ trip: { kind: 'consecutive-failures', threshold: 3 }, openFor: { kind: 'constant', ms: 1000 } })

describe('tickets identify calls', () => {
  it('one closed-state call reported failed 3 times does not open a threshold-3 breaker', () => {
    const h = new Harness(threshold3)
    const ticket = admitted(h.request(0))
    expect(h.settle(ticket, 'failure', 1)).toEqual({ _tag: 'Recorded' })
    expect(h.settle(ticket, 'failure', 2)).toEqual({ _tag: 'Ignored', reason: 'already-settled' })
    expect(h.settle(ticket, 'failure', 3)).toEqual({ _tag: 'Ignored', reason: 'already-settled' })
    expect(h.snapshot).toMatchObject({ state: 'closed', consecutiveFailures: 1, inFlight: 0 })
  })

  it('a forged ticket cannot trip a breaker that admitted nothing', () => {
    const h = new Harness(threshold3)
    const forged: Ticket = { generation: 0, id: 0, probe: false }
    for (let i = 0; i < 5; i++) expect(h.step(BreakerEvent.failed(forged, 1), i)).toEqual({ _tag: 'Ignored', reason: 'unknown-ticket' })
    expect(h.step(BreakerEvent.failed({ generation: 0, id: 99, probe: false }, 1), 9)).toEqual({
      _tag: 'Ignored',
      reason: 'unknown-ticket',
    })
    expect(h.snapshot).toMatchObject({ state: 'closed', consecutiveFailures: 0 })
  })

  it('an out-of-range id is harmless while other calls are in flight', () => {
    const h = new Harness(threshold3)
    admitted(h.request(0))
    admitted(h.request(0))
    expect(h.step(BreakerEvent.failed({ generation: 0, id: 2, probe: false }, 1), 1)).toEqual({ _tag: 'Ignored', reason: 'unknown-ticket' })
    expect(h.snapshot).toMatchObject({ consecutiveFailures: 0, inFlight: 2 })
  })

  it("one probe's success sent 3 times does not close a probes: 3 recovery; the other probes' failures still count", () => {
    const s = circuit({
      trip: { kind: 'consecutive-failures', threshold: 1 },
      recovery: { kind: 'classic', probes: 3, failureRateThreshold: 0.5 },
      openFor: { kind: 'constant', ms: 100 },
    })
    const h = new Harness(s)
    h.call(0, 'failure', 0)
    const [a, b, c] = [admitted(h.request(200)), admitted(h.request(200)), admitted(h.request(200))]
    expect(h.settle(a, 'success', 201)).toEqual({ _tag: 'Recorded' })
    expect(h.settle(a, 'success', 202)).toEqual({ _tag: 'Ignored', reason: 'already-settled' })
    expect(h.settle(a, 'success', 203)).toEqual({ _tag: 'Ignored', reason: 'already-settled' })
    expect(h.snapshot.state).toBe('half-open')
    h.settle(b, 'failure', 204)
    h.settle(c, 'failure', 205)
    expect(h.snapshot).toMatchObject({ state: 'open', reason: 'recovery-failed' })
  })

  it('cancelling one probe twice does not leak a permit', () => {
    const s = circuit({
      trip: { kind: 'consecutive-failures', threshold: 1 },
      recovery: { kind: 'classic', probes: 2 },
      openFor: { kind: 'constant', ms: 100 },
    })
    const h = new Harness(s)
    h.call(0, 'failure', 0)
    const a = admitted(h.request(200))
    admitted(h.request(200))
    expect(h.step(BreakerEvent.cancelled(a), 201)).toEqual({ _tag: 'Recorded' })
    expect(h.step(BreakerEvent.cancelled(a), 202)).toEqual({ _tag: 'Ignored', reason: 'already-settled' })
    admitted(h.request(203))
    expect(h.request(204)).toEqual({ _tag: 'Rejected', reason: 'half-open-full', retryAfterMs: null })
    expect(h.snapshot.inFlight).toBe(2)
  })

  it('admissions are numbered within their generation', () => {
    const h = new Harness(threshold3)
    expect([h.request(0), h.request(0)]).toEqual([
      { _tag: 'Admitted', generation: 0, id: 0, probe: false },
      { _tag: 'Admitted', generation: 0, id: 1, probe: false },
    ])
  })
})
