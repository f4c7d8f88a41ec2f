import {
  type Admitted,
  BreakerEvent,
  type CircuitData,
  circuit,
  circuitOf,
  consecutiveFailures,
  constantOpenFor,
  InvalidEventError,
  type Recovery,
} from '@datapunk/breaker'
import * as t from 'io-ts'
import { describe, expect, it } from 'vitest'
import { Harness } from './harness.js'

// Opens for 1 s on 2 consecutive failures; classic recovery needs 2 good probes.
const strategy = circuit({
  trip: { kind: 'consecutive-failures', threshold: 2 },
  openFor: { kind: 'constant', ms: 1000 },
  recovery: { kind: 'classic', probes: 2 },
})

/** A circuit open until 1000 (the second failure settles at 0). */
const opened = (): Harness<unknown> => {
  const h = new Harness(strategy as never)
  h.call(-1, 'failure')
  h.call(-1, 'failure')
  expect(h.snapshot).toMatchObject({ state: 'open', openUntil: 1000 })
  return h
}

describe('following the fleet recovery', () => {
  it('waits out its own open duration, then admits exactly the share it is told, counted nowhere', () => {
    const h = opened()
    expect(h.step(BreakerEvent.follow(0.25), 10)._tag).toBe('Recorded')
    expect(h.request(500)).toMatchObject({ _tag: 'Rejected', reason: 'open' }) // still open
    const decisions = Array.from({ length: 100 }, (_, i) => h.request(1000 + i))
    expect(h.snapshot).toMatchObject({ state: 'half-open', admitRate: 0.25, recovery: { kind: 'following', admitRate: 0.25 } })
    const admitted = decisions.filter((d): d is Admitted => d._tag === 'Admitted')
    expect(admitted).toHaveLength(25)
    expect(decisions.find((d) => d._tag === 'Rejected')).toMatchObject({ reason: 'throttled' })
    // Their failures are not this replica's to judge: the leader decides.
    for (const t of admitted) h.settle(t, 'failure', 1200)
    expect(h.snapshot.state).toBe('half-open')
  })

  it('at share 0 sends no probe at all, however many requests come', () => {
    const h = opened()
    h.step(BreakerEvent.follow(0), 10)
    for (let i = 0; i < 1000; i++) expect(h.request(1000 + i)._tag).toBe('Rejected')
    expect(h.snapshot.inFlight).toBe(0)
  })

  it('closes when the leader recovered, and reopens when the leader failed', () => {
    const a = opened()
    a.step(BreakerEvent.follow(0), 10)
    a.request(1000)
    a.step(BreakerEvent.peerRecovered(), 1100)
    expect(a.snapshot).toMatchObject({ state: 'closed', reason: 'peer-recovered', trips: 0 })
    // Still in the fleet's hands, waiting for its word in the next episode.
    expect(a.state).toMatchObject({ phase: { follow: { ratePpm: 0, credit: 0 } } })
    const b = opened()
    b.step(BreakerEvent.follow(0.5), 10)
    b.request(1000)
    b.step(BreakerEvent.peerTripped(), 1100)
    expect(b.snapshot).toMatchObject({ state: 'open', reason: 'peer-tripped', trips: 2 })
    // A new episode: the share goes back to 0 until the fleet's leader offers one again.
    expect(b.state).toMatchObject({ phase: { follow: { ratePpm: 0, credit: 0 } } })
  })

  it('recovers by itself from a fresh start when told to stop following; calls in flight count nowhere', () => {
    const h = opened()
    h.step(BreakerEvent.follow(1), 10)
    const follower = h.request(1000) as Admitted
    expect(follower._tag).toBe('Admitted')
    h.step(BreakerEvent.follow(null), 1001)
    expect(h.snapshot.recovery).toMatchObject({ kind: 'classic' })
    // The follower's call still flies and blocks own probes until it settles, then counts nowhere.
    expect(h.request(1002)).toMatchObject({ _tag: 'Rejected', reason: 'half-open-full' })
    h.settle(follower, 'failure', 1003)
    expect(h.snapshot.state).toBe('half-open')
    h.call(1004, 'success')
    h.call(1005, 'success')
    expect(h.snapshot).toMatchObject({ state: 'closed', reason: 'recovered' })
  })

  it('a replica probing on its own that is told to follow stops probing; its probes in flight count nowhere', () => {
    const h = opened()
    const probe = h.request(1000) as Admitted
    h.step(BreakerEvent.follow(0), 1001)
    h.settle(probe, 'failure', 1002)
    expect(h.snapshot.state).toBe('half-open') // the failed probe did not reopen it
  })

  it('is a standing instruction: stored while closed, carried through a trip with its share reset, and a bad rate never reaches a breaker', () => {
    const h = new Harness(strategy as never)
    expect(h.step(BreakerEvent.follow(0.5), 0)).toEqual({ _tag: 'Recorded' })
    h.call(0, 'success') // closed: admitted as ever
    h.call(0, 'failure')
    h.call(0, 'failure')
    expect(h.state).toMatchObject({ phase: { state: 'open', follow: { ratePpm: 0, credit: 0 } } })
    expect(h.request(2000)._tag).toBe('Rejected') // half-open, waiting for the leader's share
    h.step(BreakerEvent.forcedOpen(), 2001)
    expect(h.step(BreakerEvent.peerRecovered(), 2002)).toEqual({ _tag: 'Ignored', reason: 'illegal-transition' })
    expect(h.step({ _tag: 'RecoveryFollowed', rate: 2 } as never, 4)).toEqual({ _tag: 'Ignored', reason: 'invalid-event' })
    expect(() => BreakerEvent.follow(Number.NaN)).toThrow(InvalidEventError)
    expect(() => BreakerEvent.follow(1.5)).toThrow(/rate: expected a share in \[0, 1\] or null, got 1.5/)
  })

  it('round-trips through the codec; a snapshot from before fleet mode decodes; a malformed share does not', () => {
    const h = opened()
    h.step(BreakerEvent.follow(0.3), 10)
    for (let i = 0; i < 5; i++) h.request(1000 + i)
    const encoded = JSON.parse(JSON.stringify(strategy.codec.encode(h.state as CircuitData)))
    expect(encoded.phase.follow).toEqual({ ratePpm: 300_000, credit: 500_000 })
    const decoded = strategy.codec.decode(encoded)
    expect(decoded._tag === 'Right' && decoded.right).toEqual(h.state)
    const old = JSON.parse(JSON.stringify(strategy.codec.encode(strategy.initial(0))))
    delete old.phase.follow
    expect(strategy.codec.decode(old)._tag).toBe('Right')
    expect(strategy.codec.decode({ ...old, phase: { ...old.phase, follow: { ratePpm: 1, credit: 0 } } })._tag).toBe('Right')
    expect(strategy.codec.decode({ ...old, phase: { ...old.phase, follow: { ratePpm: 2_000_000, credit: 0 } } })._tag).toBe('Left')
  })
})

describe('a follower', () => {
  it('never closes or reopens on its own recovery clock, however long it waits', () => {
    // A recovery of your own that closes on the first tick: while following, it must not run.
    const closesOnTick: Recovery<number> = {
      kind: 'closes-on-tick',
      config: { kind: 'closes-on-tick' },
      key: 'closes-on-tick',
      start: () => 0,
      request: (s) => ({ state: s, admitted: true }),
      outcome: (s) => s,
      cancel: (s) => s,
      tick: () => 'close',
      admitRate: () => 1,
      measure: (_s, inFlight) => ({ kind: 'closes-on-tick', admitRate: 1, inFlight }),
      codec: { validate: (u, c) => (typeof u === 'number' ? t.success(u) : t.failure(u, c)), encode: (s) => s },
    }
    const strategy = circuitOf({ detector: consecutiveFailures({ threshold: 1 }), recovery: closesOnTick, openFor: constantOpenFor(100) })
    const h = new Harness(strategy as never)
    h.step(BreakerEvent.follow(0), -2)
    h.call(-1, 'failure')
    h.request(100) // half-open, following at share 0
    for (let i = 0; i < 20; i++) h.step(BreakerEvent.ticked(), 200 + i * 1000)
    expect(h.snapshot).toMatchObject({ state: 'half-open', recovery: { kind: 'following' } })
    h.step(BreakerEvent.follow(null), 30_000) // alone again: its own recovery runs
    h.step(BreakerEvent.ticked(), 30_001)
    expect(h.snapshot).toMatchObject({ state: 'closed', reason: 'recovered' })
  })
})

describe('the share a leader offers its followers', () => {
  it('is the ramp for gradual recovery, and absent (0) for classic', () => {
    const gradual = circuit({
      trip: { kind: 'consecutive-failures', threshold: 1 },
      openFor: { kind: 'constant', ms: 100 },
      recovery: { kind: 'gradual', initialRate: 0.1 },
    })
    const g = new Harness(gradual as never)
    g.call(-1, 'failure')
    g.request(100)
    expect(g.snapshot.recovery).toMatchObject({ kind: 'gradual', admitRate: 0.1, fleetRate: 0.1 })
    const h = opened()
    h.request(1000)
    expect(h.snapshot.recovery?.fleetRate).toBeUndefined()
  })
})
