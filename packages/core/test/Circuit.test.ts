import { BreakerEvent, circuit, type Ticket } from '@datapunk/breaker'
import { describe, expect, it } from 'vitest'
import { admitted, Harness } from './harness.js'

const strategy = circuit({
  trip: { kind: 'consecutive-failures', threshold: 2 },
  recovery: { kind: 'classic', probes: 1 },
  openFor: { kind: 'exponential', initialMs: 100, multiplier: 2, maxMs: 350 },
})

describe('stale outcomes', () => {
  it('an outcome admitted before a trip is ignored after it, and counted nowhere', () => {
    const h = new Harness(strategy)
    const late = admitted(h.request(0))
    h.call(1, 'failure', 0)
    h.call(2, 'failure', 0)
    expect(h.snapshot.state).toBe('open')
    expect(h.settle(late, 'failure', 3)).toEqual({ _tag: 'Ignored', reason: 'stale' })
    expect(h.snapshot.consecutiveFailures).toBe(2)
  })

  it('every transition bumps the generation', () => {
    const h = new Harness(strategy)
    const generations = [h.snapshot.generation]
    h.call(0, 'failure', 0)
    h.call(0, 'failure', 0) // trip
    generations.push(h.snapshot.generation)
    h.request(100) // half-open
    generations.push(h.snapshot.generation)
    expect(generations).toEqual([0, 1, 2])
  })

  it('outcomes of tickets from a future generation, or malformed ones, are ignored', () => {
    const h = new Harness(strategy)
    const future: Ticket = { generation: 7, id: 0, probe: false }
    expect(h.step(BreakerEvent.failed(future, 1), 0)).toEqual({ _tag: 'Ignored', reason: 'unknown-ticket' })
    const bad = { _tag: 'CallFailed', ticket: { generation: 0, id: 0, probe: false }, latencyMs: Number.NaN } as const
    expect(h.step(bad, 0)).toEqual({ _tag: 'Ignored', reason: 'invalid-event' })
    expect(h.step({ _tag: 'CallFailed', ticket: null, latencyMs: 1 } as never, 0)).toEqual({ _tag: 'Ignored', reason: 'invalid-event' })
    expect(h.step({ _tag: 'Nonsense' } as never, 0)).toEqual({ _tag: 'Ignored', reason: 'invalid-event' })
    expect(h.step(null as never, 0)).toEqual({ _tag: 'Ignored', reason: 'invalid-event' })
    expect(h.snapshot.consecutiveFailures).toBe(0)
  })
})

describe('event constructors', () => {
  it('refuse negative, NaN and infinite latencies with a typed error naming the field', () => {
    const ticket = { generation: 0, id: 0, probe: false }
    expect(() => BreakerEvent.succeeded(ticket, -1)).toThrow('latencyMs: expected a finite number of milliseconds >= 0, got -1')
    expect(() => BreakerEvent.failed(ticket, Number.NaN)).toThrow('latencyMs: expected a finite number of milliseconds >= 0, got NaN')
    expect(() => BreakerEvent.failed(ticket, Number.POSITIVE_INFINITY)).toThrow('got Infinity')
    expect(() => BreakerEvent.cancelled({ generation: -1, id: 0, probe: false })).toThrow(
      'ticket: expected the admission returned by step, got {"generation":-1,"id":0,"probe":false}',
    )
    expect(() => BreakerEvent.openFor(0)).toThrow('forMs: expected a number of milliseconds in [1, 2147483647], got 0')
    expect(() => BreakerEvent.release(-1)).toThrow('id: expected the id of an Isolated decision, got -1')
  })
})

describe('open duration backoff', () => {
  it('grows with consecutive trips, is capped, and resets on close', () => {
    const h = new Harness(strategy)
    h.call(0, 'failure', 0)
    h.call(0, 'failure', 0)
    expect(h.snapshot.openUntil).toBe(100)
    h.call(100, 'failure', 0) // probe fails: reopen, 2nd trip
    expect(h.snapshot.openUntil).toBe(300)
    h.call(300, 'failure', 0) // 3rd trip: 400 capped at 350
    expect(h.snapshot.openUntil).toBe(650)
    expect(h.snapshot.trips).toBe(3)
    h.call(650, 'success', 0) // probe succeeds: close
    expect(h.snapshot.state).toBe('closed')
    expect(h.snapshot.trips).toBe(0)
    h.call(700, 'failure', 0)
    h.call(700, 'failure', 0)
    expect(h.snapshot.openUntil).toBe(800)
  })
})

describe('manual control', () => {
  it('forceOpen rejects everything until reset, ignoring openUntil', () => {
    const h = new Harness(strategy)
    h.step(BreakerEvent.forcedOpen(), 0)
    expect(h.snapshot).toMatchObject({ state: 'open', mode: 'forced-open', openUntil: null, reason: 'forced-open' })
    expect(h.request(1_000_000)).toEqual({ _tag: 'Rejected', reason: 'forced-open', retryAfterMs: null })
    h.step(BreakerEvent.ticked(), 2_000_000)
    expect(h.snapshot.state).toBe('open')
    h.step(BreakerEvent.reset(), 2_000_001)
    expect(h.snapshot).toMatchObject({ state: 'closed', mode: 'normal', reason: 'reset' })
    expect(h.request(2_000_002)._tag).toBe('Admitted')
  })

  it('forceOpen makes calls in flight stale', () => {
    const h = new Harness(strategy)
    const ticket = admitted(h.request(0))
    h.step(BreakerEvent.forcedOpen(), 1)
    expect(h.settle(ticket, 'failure', 2)).toEqual({ _tag: 'Ignored', reason: 'stale' })
  })

  it('disable admits everything, keeps counting, and never trips', () => {
    const h = new Harness(strategy)
    h.step(BreakerEvent.disabled(), 0)
    for (let i = 0; i < 10; i++) expect(h.call(i, 'failure', 0)._tag).toBe('Admitted')
    expect(h.snapshot).toMatchObject({ state: 'closed', mode: 'disabled', consecutiveFailures: 10 })
    h.step(BreakerEvent.reset(), 20)
    expect(h.snapshot).toMatchObject({ state: 'closed', mode: 'normal', consecutiveFailures: 0 })
  })

  it('disable on an open breaker admits at once', () => {
    const h = new Harness(strategy)
    h.call(0, 'failure', 0)
    h.call(0, 'failure', 0)
    h.step(BreakerEvent.disabled(), 1)
    expect(h.request(2)._tag).toBe('Admitted')
  })

  it('reset forgets the backoff', () => {
    const h = new Harness(strategy)
    h.call(0, 'failure', 0)
    h.call(0, 'failure', 0)
    h.call(100, 'failure', 0)
    expect(h.snapshot.trips).toBe(2)
    h.step(BreakerEvent.reset(), 150)
    h.call(150, 'failure', 0)
    h.call(150, 'failure', 0)
    expect(h.snapshot.openUntil).toBe(250)
  })

  it('repeating forceOpen or disable does not bump the generation', () => {
    const h = new Harness(strategy)
    h.step(BreakerEvent.forcedOpen(), 0)
    const g = h.snapshot.generation
    h.step(BreakerEvent.forcedOpen(), 1)
    expect(h.snapshot.generation).toBe(g)
  })
})

describe('clock', () => {
  it('a small step back (within the tolerance) is judged as the latest time, and the wait is measured on the caller clock', () => {
    const h = new Harness(strategy, 1000)
    h.call(1000, 'failure', 0)
    h.call(1000, 'failure', 0)
    expect(h.snapshot.openUntil).toBe(1100)
    expect(h.request(500)).toEqual({ _tag: 'Rejected', reason: 'open', retryAfterMs: 600 })
    expect(h.snapshot.openUntil).toBe(1100)
  })

  it('a time that is not a finite number is ignored, and nothing of it is stored', () => {
    const h = new Harness(strategy, 1000)
    const before = h.state
    expect(h.request(Number.NaN)).toEqual({ _tag: 'Ignored', reason: 'invalid-time' })
    expect(h.step(BreakerEvent.ticked(), 'noon' as never)).toEqual({ _tag: 'Ignored', reason: 'invalid-time' })
    expect(h.request(Number.POSITIVE_INFINITY)).toEqual({ _tag: 'Ignored', reason: 'invalid-time' })
    expect(h.state).toBe(before)
  })

  it('a non-finite start time starts at 0', () => {
    expect(strategy.inspect(strategy.initial(Number.NaN)).since).toBe(0)
  })
})
