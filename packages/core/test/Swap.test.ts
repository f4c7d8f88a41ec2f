import { adaptiveThrottle, BreakerEvent, circuit, handoffOf, restore, swapStrategy } from '@datapunk/breaker'
import { describe, expect, it } from 'vitest'
import { admitted, Harness } from './harness.js'

const rate = { kind: 'failure-rate', threshold: 0.5, minimumCalls: 4, window: { kind: 'count', size: 10 } } as const

describe('swapStrategy', () => {
  it('keeps an open breaker open until the same time', () => {
    const from = circuit({ trip: { kind: 'consecutive-failures', threshold: 1 }, openFor: { kind: 'constant', ms: 1000 } })
    const to = circuit({ trip: rate, recovery: { kind: 'gradual' }, openFor: { kind: 'constant', ms: 50 } })
    const h = new Harness(from)
    h.call(0, 'failure', 0)
    const swapped = swapStrategy(from, h.state, to, 10)
    expect(to.inspect(swapped)).toMatchObject({ state: 'open', openUntil: 1000, generation: h.snapshot.generation, reason: 'swapped' })
    expect(restore(to, JSON.parse(JSON.stringify(to.codec.encode(swapped))))._tag).toBe('Right')
    expect(to.step(swapped, BreakerEvent.requested(), 999)[1]).toMatchObject({ _tag: 'Rejected', reason: 'open' })
    // From then on the new recovery runs.
    const [halfOpen] = to.step(swapped, BreakerEvent.requested(), 1000)
    expect(to.inspect(halfOpen).recovery?.kind).toBe('gradual')
  })

  it('carries counts when the detector counts the same way, and calls in flight still count', () => {
    const from = circuit({ trip: rate, openFor: { kind: 'constant', ms: 1000 } })
    const to = circuit({ trip: rate, recovery: { kind: 'gradual' }, openFor: { kind: 'exponential', initialMs: 10, maxMs: 100 } })
    const h = new Harness(from)
    h.call(0, 'failure', 0)
    h.call(0, 'success', 0)
    const inFlight = admitted(h.request(0))
    const moved = new Harness(to)
    moved.state = swapStrategy(from, h.state, to, 1)
    expect(moved.snapshot).toMatchObject({ calls: 2, failures: 1 })
    moved.settle(inFlight, 'failure', 2)
    moved.call(3, 'success', 0) // 2 / 4 = 0.5: trips under the new strategy
    expect(moved.snapshot.state).toBe('open')
    expect(moved.snapshot.openUntil).toBe(13)
  })

  it('starts a detector that counts differently from empty', () => {
    const from = circuit({ trip: rate })
    const to = circuit({ trip: { ...rate, window: { kind: 'count', size: 20 } } })
    const h = new Harness(from)
    h.call(0, 'failure', 0)
    expect(to.inspect(swapStrategy(from, h.state, to, 1)).calls).toBe(0)
  })

  it('matches any-of members by config', () => {
    const consecutive = { kind: 'consecutive-failures', threshold: 5 } as const
    const from = circuit({ trip: consecutive })
    const to = circuit({ trip: { kind: 'any-of', detectors: [rate, consecutive] } })
    const h = new Harness(from)
    h.call(0, 'failure', 0)
    h.call(0, 'failure', 0)
    const swapped = to.inspect(swapStrategy(from, h.state, to, 1))
    expect(swapped.detectors.map((d) => [d.kind, d.calls, d.consecutiveFailures])).toEqual([
      ['failure-rate', 0, null],
      ['consecutive-failures', null, 2],
    ])
    // And back: the consecutive member's run is kept.
    const back = swapStrategy(to, swapStrategy(from, h.state, to, 1), from, 2)
    expect(from.inspect(back).consecutiveFailures).toBe(2)
  })

  it('in half-open with a different recovery, restarts recovery; the old probes block new ones until they settle, counted nowhere', () => {
    const from = circuit({
      trip: { kind: 'consecutive-failures', threshold: 1 },
      recovery: { kind: 'classic', probes: 2 },
      openFor: { kind: 'constant', ms: 10 },
    })
    const to = circuit({
      trip: { kind: 'consecutive-failures', threshold: 1 },
      recovery: { kind: 'gradual', initialRate: 0.5 },
      openFor: { kind: 'constant', ms: 10 },
    })
    const h = new Harness(from)
    h.call(0, 'failure', 0)
    const probe = admitted(h.request(10))
    const moved = new Harness(to)
    moved.state = swapStrategy(from, h.state, to, 11)
    expect(moved.snapshot).toMatchObject({
      state: 'half-open',
      reason: 'swapped',
      inFlight: 1,
      // Nothing is admitted while the old probe flies; the new recovery has no probes of its own yet.
      admitRate: 0,
      recovery: { kind: 'gradual', admitRate: 0.5, inFlight: 0 },
    })
    expect(moved.request(11)).toEqual({ _tag: 'Rejected', reason: 'half-open-full', retryAfterMs: null })
    expect(moved.settle(probe, 'failure', 12)).toEqual({ _tag: 'Recorded' })
    // The old probe's failure counted nowhere: the new recovery is still running, now admitting.
    expect(moved.snapshot).toMatchObject({ state: 'half-open', inFlight: 0 })
    expect(moved.request(13)._tag).toBe('Admitted')
  })

  it('carries more probes than the new policy allows: the state round-trips, reports admitting nothing, and says so when they settle', () => {
    const trip = { kind: 'consecutive-failures', threshold: 1 } as const
    const openFor = { kind: 'constant', ms: 10 } as const
    const from = circuit({ trip, recovery: { kind: 'classic', probes: 3 }, maxProbesInFlight: 3, openFor })
    const to = circuit({ trip, recovery: { kind: 'classic', probes: 1 }, maxProbesInFlight: 1, openFor })
    const h = new Harness(from)
    h.call(0, 'failure', 0)
    const probes = [admitted(h.request(10)), admitted(h.request(10)), admitted(h.request(10))]
    const moved = new Harness(to)
    moved.state = swapStrategy(from, h.state, to, 11)
    expect(moved.snapshot).toMatchObject({ inFlight: 3, admitRate: 0, recovery: { kind: 'classic', inFlight: 0, probes: 1 } })
    expect(restore(to, JSON.parse(JSON.stringify(to.codec.encode(moved.state))))).toEqual({ _tag: 'Right', right: moved.state })
    moved.settle(probes[0] as (typeof probes)[0], 'success', 12)
    moved.settle(probes[1] as (typeof probes)[0], 'success', 12)
    const before = moved.state
    moved.settle(probes[2] as (typeof probes)[0], 'success', 13)
    // The last carried probe leaves: admission reopens with no other change a handle could see.
    expect(to.transitioned?.(before, moved.state)).toBe(true)
    expect(moved.snapshot).toMatchObject({ state: 'half-open', inFlight: 0, admitRate: 1 })
    expect(moved.request(14)._tag).toBe('Admitted')
  })

  it('flapping the recovery config while half-open never multiplies the probes in flight', () => {
    const one = circuit({
      trip: { kind: 'consecutive-failures', threshold: 1 },
      recovery: { kind: 'classic', probes: 1 },
      openFor: { kind: 'constant', ms: 10 },
    })
    const two = circuit({
      trip: { kind: 'consecutive-failures', threshold: 1 },
      recovery: { kind: 'classic', probes: 2 },
      openFor: { kind: 'constant', ms: 10 },
    })
    const h = new Harness(one)
    h.call(0, 'failure', 0)
    // The upstream hangs: nothing settles, so every admission is a probe still in the upstream.
    let admissions = 0
    for (let t = 10; t < 1000; t++) {
      if (h.request(t)._tag === 'Admitted') admissions++
      h.swap(h.strategy === one ? two : one, t)
    }
    expect(admissions).toBeLessThanOrEqual(2)
  })

  it('in half-open with the same recovery, keeps the probes counting', () => {
    const base = { trip: { kind: 'consecutive-failures', threshold: 1 }, recovery: { kind: 'classic', probes: 1 } } as const
    const from = circuit({ ...base, openFor: { kind: 'constant', ms: 10 } })
    const to = circuit({ ...base, openFor: { kind: 'constant', ms: 99 } })
    const h = new Harness(from)
    h.call(0, 'failure', 0)
    const probe = admitted(h.request(10))
    const moved = new Harness(to)
    moved.state = swapStrategy(from, h.state, to, 11)
    moved.settle(probe, 'success', 12)
    expect(moved.snapshot.state).toBe('closed')
  })
})

describe('hand-off as data', () => {
  const from = () => circuit({ trip: rate, openFor: { kind: 'constant', ms: 1000 } })
  const to = () => circuit({ trip: rate, recovery: { kind: 'gradual' } })
  const counted = (strategy: ReturnType<typeof from>) => {
    const h = new Harness(strategy)
    h.call(0, 'failure', 0)
    h.call(0, 'success', 0)
    h.call(0, 'failure', 0)
    return h.state
  }

  it('a wrapper made by spreading a strategy swaps as the strategy itself: its counts are kept', () => {
    const inner = from()
    let stepped = 0
    const wrapped = {
      ...inner,
      step: (s: Parameters<typeof inner.step>[0], e: BreakerEvent, now: number) => {
        stepped++
        return inner.step(s, e, now)
      },
    }
    const h = new Harness(wrapped)
    h.call(0, 'failure', 0)
    h.call(0, 'success', 0)
    const next = to()
    expect(next.inspect(swapStrategy(wrapped, h.state, next, 5))).toMatchObject({ calls: 2, failures: 1 })
    expect(stepped).toBeGreaterThan(0)
    // And the other way: a wrapper adopts as the strategy it spreads.
    const back = { ...next, step: next.step }
    expect(back.inspect(swapStrategy(inner, counted(inner), back, 5))).toMatchObject({ calls: 3, failures: 2 })
  })

  it('is plain data: a hand-off through JSON is adopted exactly as the one in memory', () => {
    const a = from()
    const b = to()
    const state = counted(a)
    const handoff = handoffOf(a, state, 5)
    const revived = JSON.parse(JSON.stringify(handoff)) as typeof handoff
    expect(b.adopt(revived, 5)).toEqual(b.adopt(handoff, 5))
    expect(b.inspect(b.adopt(revived, 5))).toMatchObject({ calls: 3, failures: 2, state: 'closed' })
  })

  it('reaches a circuit wrapped by a throttle (inner), both ways, and keeps the window between throttles alike', () => {
    const plain = from()
    const throttled = adaptiveThrottle(from(), {})
    const h = new Harness(throttled)
    h.call(0, 'failure', 0)
    h.call(0, 'success', 0)
    const next = to()
    expect(next.inspect(swapStrategy(throttled, h.state, next, 5))).toMatchObject({ calls: 2, failures: 1 })
    const into = adaptiveThrottle(to(), {})
    const adopted = swapStrategy(plain, counted(plain), into, 5)
    expect(into.inspect(adopted)).toMatchObject({ calls: 3, failures: 2 })
    const same = adaptiveThrottle(to(), {})
    expect(swapStrategy(throttled, h.state, same, 5).throttle).toBe(h.state.throttle)
    const otherWindow = adaptiveThrottle(to(), { windowMs: 10_000 })
    expect(swapStrategy(throttled, h.state, otherWindow, 5).throttle).not.toBe(h.state.throttle)
  })

  it('from a strategy without a hand-off: its snapshot (phase, open-until) under kind "snapshot"', () => {
    const a = from()
    const h = new Harness(a)
    for (let i = 0; i < 4; i++) h.call(0, 'failure', 0)
    const bare = { name: 'bare', initial: a.initial, step: a.step, inspect: a.inspect, codec: a.codec }
    const handoff = handoffOf(bare, h.state, 10)
    expect(handoff).toEqual({ kind: 'snapshot', snapshot: a.inspect(h.state) })
    const b = to()
    expect(b.inspect(b.adopt(handoff, 10))).toMatchObject({ state: 'open', openUntil: 1000, calls: 0 })
  })
})
