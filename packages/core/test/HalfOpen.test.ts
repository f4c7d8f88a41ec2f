/**
 * Half-open can never wedge, and operators can move the circuit (core issue, section 3).
 */
import { BreakerEvent, circuit, type Decision, restore } from '@datapunk/breaker'
import { describe, expect, it } from 'vitest'
import { admitted, Harness } from './harness.js'

const classic = circuit({
  trip: { kind: 'consecutive-failures', threshold: 1 },
  recovery: { kind: 'classic', probes: 1 },
  openFor: { kind: 'constant', ms: 1000 },
  probeTimeoutMs: 5000,
})

const tripped = (h: Harness<unknown>, at = 0) => h.call(at, 'failure', 0)

/** A circuit whose recovery would admit every request: only the probe limit holds half-open back. */
const admittingAll = (maxProbesInFlight?: number) =>
  circuit({
    trip: { kind: 'consecutive-failures', threshold: 1 },
    recovery: { kind: 'gradual', initialRate: 1 },
    openFor: { kind: 'constant', ms: 10 },
    ...(maxProbesInFlight === undefined ? {} : { maxProbesInFlight }),
  })

describe('probe timeouts', () => {
  it('a hung probe counts as failed after probeTimeoutMs: the circuit reopens instead of rejecting half-open-full forever', () => {
    const h = new Harness(classic)
    tripped(h)
    admitted(h.request(1000)) // the probe hangs
    expect(h.request(5999)).toEqual({ _tag: 'Rejected', reason: 'half-open-full', retryAfterMs: null })
    const afterTimeout = h.request(6000)
    expect(h.snapshot).toMatchObject({ state: 'open', reason: 'recovery-failed', openUntil: 7000 })
    expect(afterTimeout).toEqual({ _tag: 'Rejected', reason: 'open', retryAfterMs: 1000 })
    expect(h.request(7000)._tag).toBe('Admitted') // a new probe
  })

  it('a tick expires probes without traffic', () => {
    const h = new Harness(classic)
    tripped(h)
    admitted(h.request(1000))
    h.step(BreakerEvent.ticked(), 6000)
    expect(h.snapshot).toMatchObject({ state: 'open', reason: 'recovery-failed' })
  })

  it('the outcome of a probe that expired is ignored (the phase it belonged to is over)', () => {
    const h = new Harness(circuit({ ...classic.config, recovery: { kind: 'classic', probes: 2 } } as never))
    tripped(h)
    const first = admitted(h.request(1000))
    admitted(h.request(3000))
    h.step(BreakerEvent.ticked(), 6000) // the first expires (a failure: 1 of 2 >= 0.5 reopens)
    expect(h.snapshot.state).toBe('open')
    expect(h.settle(first, 'success', 6001)).toEqual({ _tag: 'Ignored', reason: 'stale' })
  })

  it('a half-open snapshot restored with a probe in flight does not reject a whole day', () => {
    const h = new Harness(classic)
    tripped(h)
    admitted(h.request(1000))
    const saved = JSON.parse(JSON.stringify(classic.codec.encode(h.state))) as unknown
    const restored = restore(classic, saved)
    if (restored._tag === 'Left') throw restored.left
    const r = new Harness(classic)
    r.state = restored.right
    let rejectedFull = 0
    let admittedCount = 0
    for (let t = 1000; t < 86_400_000; t += 60_000) {
      const d = r.request(t)
      if (d._tag === 'Rejected' && d.reason === 'half-open-full') rejectedFull++
      if (d._tag === 'Admitted') {
        admittedCount++
        r.settle(d, 'success', t + 1)
      }
    }
    expect(rejectedFull).toBe(1) // only the first request, before the timeout
    expect(admittedCount).toBeGreaterThan(1000)
    expect(r.snapshot.state).toBe('closed')
  })

  it('at most maxProbesInFlight probes, whatever the recovery would admit', () => {
    const h = new Harness(admittingAll(3))
    tripped(h)
    const decisions = [10, 11, 12, 13].map((t) => h.request(t)._tag)
    expect(decisions).toEqual(['Admitted', 'Admitted', 'Admitted', 'Rejected'])
  })

  describe("a learned probe limit (the default, 'learned')", () => {
    const learned = admittingAll()

    it('is twice the most calls carried at once while closed, and at least 100', () => {
      expect(learned.maxProbesInFlight).toBe('learned')
      expect(learned.config.maxProbesInFlight).toBe('learned')
      const probesAfter = (carried: number): number => {
        const h = new Harness(learned)
        const closed = Array.from({ length: carried }, (_, i) => h.request(i))
        for (const d of closed) if (d._tag === 'Admitted') h.settle(d, 'success', carried)
        expect(h.state.phase.peakInFlight).toBe(carried)
        tripped(h, carried + 1)
        let admitted = 0
        for (let i = 0; i < 1_000; i++) if (h.request(carried + 20 + i)._tag === 'Admitted') admitted++
        return admitted
      }
      expect(probesAfter(30)).toBe(100)
      expect(probesAfter(300)).toBe(600)
    })

    it('doubles when a probe succeeds at the limit, once a round trip (slow start), where the circuit never saw the upstream healthy', () => {
      const h = new Harness(learned)
      tripped(h)
      const first = Array.from({ length: 101 }, (_, i) => h.request(10 + i))
      expect(first.filter((d) => d._tag === 'Admitted')).toHaveLength(100)
      const admittedOf = (d: Decision | undefined) => {
        if (d === undefined) throw new Error('expected a decision')
        return admitted(d)
      }
      // A success at the limit frees its slot and doubles the limit: room for 200, 101 more.
      h.settle(admittedOf(first[0]), 'success', 200)
      const second = Array.from({ length: 102 }, (_, i) => h.request(201 + i))
      expect(second.filter((d) => d._tag === 'Admitted')).toHaveLength(101)
      expect(h.state.phase.peakInFlight).toBe(100)
      // Another probe of the same round (admitted before the doubling) succeeds at the new limit: no
      // second doubling until a probe admitted after it comes back.
      h.settle(admittedOf(first[1]), 'success', 310)
      expect([h.request(311)._tag, h.request(312)._tag]).toEqual(['Admitted', 'Rejected'])
      expect(h.state.phase.peakInFlight).toBe(100)
      // A failure at the limit does not raise it, even of the new round.
      h.settle(admittedOf(second[0]), 'failure', 320)
      expect(h.request(321)._tag).toBe('Admitted')
      expect(h.state.phase.peakInFlight).toBe(100)
      // A success of the new round at the limit doubles it again.
      h.settle(admittedOf(second[1]), 'success', 330)
      expect(h.state.phase.peakInFlight).toBe(200)
      // 199 in flight, room for 400.
      const third = Array.from({ length: 202 }, (_, i) => h.request(331 + i))
      expect(third.filter((d) => d._tag === 'Admitted')).toHaveLength(201)
    })

    it('a snapshot keeps the round: growsFrom round-trips, and is refused past issued or outside half-open', () => {
      const h = new Harness(learned)
      tripped(h)
      const first = Array.from({ length: 100 }, (_, i) => h.request(10 + i))
      const probe = first[0]
      if (probe === undefined) throw new Error('expected a decision')
      h.settle(admitted(probe), 'success', 200)
      expect(h.state.phase.growsFrom).toBe(100)
      const codec = learned.codec
      const snapshot = JSON.parse(JSON.stringify(codec.encode(h.state)))
      const decoded = codec.decode(snapshot)
      expect(decoded._tag === 'Right' && decoded.right.phase.growsFrom).toBe(100)
      expect(codec.decode({ ...snapshot, phase: { ...snapshot.phase, growsFrom: snapshot.issued + 1 } })._tag).toBe('Left')
      const closed = new Harness(learned)
      closed.request(0)
      const shut = JSON.parse(JSON.stringify(codec.encode(closed.state)))
      expect([shut.phase.state, shut.issued]).toEqual(['closed', 1])
      expect(codec.decode({ ...shut, phase: { ...shut.phase, growsFrom: 1 } })._tag).toBe('Left')
    })

    it('a number is a hard cap, whatever the circuit carried while closed', () => {
      const h = new Harness(admittingAll(2))
      const closed = [0, 1, 2, 3, 4].map((t) => h.request(t))
      for (const d of closed) if (d._tag === 'Admitted') h.settle(d, 'success', 5)
      tripped(h, 6)
      const probe = h.request(20)
      expect(h.request(21)._tag).toBe('Admitted')
      if (probe._tag === 'Admitted') h.settle(probe, 'success', 22)
      expect([h.request(23)._tag, h.request(24)._tag]).toEqual(['Admitted', 'Rejected'])
    })

    it('refuses anything but a number in range or "learned", naming the field', () => {
      expect(() =>
        circuit({
          trip: { kind: 'consecutive-failures', threshold: 1 },
          maxProbesInFlight: 'lots' as unknown as number,
        }),
      ).toThrow(/maxProbesInFlight/)
    })
  })
})

describe('manual transitions', () => {
  const s = circuit({ trip: { kind: 'consecutive-failures', threshold: 5 }, openFor: { kind: 'constant', ms: 1000 } })

  it('opens for a duration or until a time, then recovers as after a trip, keeping the backoff', () => {
    const h = new Harness(s)
    expect(h.step(BreakerEvent.openFor(250), 0)).toEqual({ _tag: 'Recorded' })
    expect(h.snapshot).toMatchObject({ state: 'open', reason: 'opened-manually', openUntil: 250, trips: 0 })
    expect(h.request(100)).toEqual({ _tag: 'Rejected', reason: 'open', retryAfterMs: 150 })
    expect(h.request(250)).toMatchObject({ _tag: 'Admitted', probe: true })
    h.step(BreakerEvent.openUntil(5000), 300)
    expect(h.snapshot).toMatchObject({ state: 'open', openUntil: 5000 })
  })

  it('half-opens from open, closes from open or half-open; illegal moves are ignored with a reason', () => {
    const h = new Harness(s)
    expect(h.step(BreakerEvent.halfOpen(), 0)).toEqual({ _tag: 'Ignored', reason: 'illegal-transition' })
    expect(h.step(BreakerEvent.close(), 0)).toEqual({ _tag: 'Ignored', reason: 'illegal-transition' })
    h.step(BreakerEvent.openFor(10_000), 1)
    expect(h.step(BreakerEvent.halfOpen(), 2)).toEqual({ _tag: 'Recorded' })
    expect(h.snapshot).toMatchObject({ state: 'half-open', reason: 'half-opened-manually' })
    expect(h.step(BreakerEvent.close(), 3)).toEqual({ _tag: 'Recorded' })
    expect(h.snapshot).toMatchObject({ state: 'closed', reason: 'closed-manually' })
    h.step(BreakerEvent.forcedOpen(), 4)
    expect(h.step(BreakerEvent.close(), 5)).toEqual({ _tag: 'Ignored', reason: 'illegal-transition' })
    expect(h.step({ _tag: 'OpenCommanded', forMs: 5, until: 9 }, 6)).toEqual({ _tag: 'Ignored', reason: 'invalid-event' })
  })
})

describe('isolation', () => {
  const s = circuit({ trip: { kind: 'consecutive-failures', threshold: 5 } })

  it('is reference-counted: the circuit closes when the last isolation is released', () => {
    const h = new Harness(s)
    const first = h.step(BreakerEvent.isolate(), 0)
    const second = h.step(BreakerEvent.isolate(), 1)
    expect([first, second]).toEqual([
      { _tag: 'Isolated', id: 1 },
      { _tag: 'Isolated', id: 2 },
    ])
    expect(h.snapshot).toMatchObject({ state: 'open', mode: 'isolated', isolations: 2 })
    expect(h.request(2)).toEqual({ _tag: 'Rejected', reason: 'forced-open', retryAfterMs: null })
    expect(h.step(BreakerEvent.release(1), 3)).toEqual({ _tag: 'Recorded' })
    expect(h.step(BreakerEvent.release(1), 4)).toEqual({ _tag: 'Ignored', reason: 'unknown-isolation' })
    expect(h.snapshot).toMatchObject({ state: 'open', isolations: 1 })
    h.step(BreakerEvent.release(2), 5)
    expect(h.snapshot).toMatchObject({ state: 'closed', mode: 'normal', reason: 'released', isolations: 0 })
  })

  it('a forced open outlives its isolations; a reset clears them', () => {
    const h = new Harness(s)
    h.step(BreakerEvent.isolate(), 0)
    h.step(BreakerEvent.forcedOpen(), 1)
    h.step(BreakerEvent.release(1), 2)
    expect(h.snapshot).toMatchObject({ state: 'open', mode: 'forced-open' })
    h.step(BreakerEvent.isolate(), 3)
    h.step(BreakerEvent.reset(), 4)
    expect(h.snapshot).toMatchObject({ state: 'closed', isolations: 0 })
    expect(h.step(BreakerEvent.release(2), 5)).toEqual({ _tag: 'Ignored', reason: 'unknown-isolation' })
  })
})
