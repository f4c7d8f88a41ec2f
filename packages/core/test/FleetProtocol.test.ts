import {
  absorbRound,
  BreakerEvent,
  circuit,
  compareTallies,
  type Evidence,
  type FleetMember,
  fleetMember,
  fleetPolicy,
  hearPeer,
  type LocalView,
  leaveFleet,
  type PeerReport,
  planRound,
  recentTallies,
  type Strategy,
} from '@datapunk/breaker'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'

const KEY = 'k'
const window = (buckets: ReadonlyArray<readonly [number, number, number, number]>): Evidence[] => [
  { key: KEY, bucketMs: 1000, span: 10, buckets },
]
const strategy = circuit({
  trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 20, window: { kind: 'time', durationMs: 10_000, buckets: 10 } },
  openFor: { kind: 'constant', ms: 5000 },
}) as Strategy<unknown>
const closed = strategy.inspect(strategy.initial(0))
const openState = strategy.step(strategy.initial(0), BreakerEvent.forcedOpen(), 0)[0]
const view = (share: Evidence[], requests = 1, snapshot = closed): LocalView => ({ snapshot, share, requests })
const peer = (replica: string, evidence: Evidence[], active = true, fleetOpened = false, at = 9_500): PeerReport => ({
  replica,
  evidence,
  status: { active, fleetOpened, at },
})
const policy = fleetPolicy()
const tags = (events: ReadonlyArray<BreakerEvent>) => events.map((e) => e._tag)

describe('the agreement test', () => {
  it('counts only the newest fifth of a window (two buckets at least)', () => {
    const tallies = recentTallies(
      window([
        [1, 100, 0, 0],
        [8, 10, 4, 1],
        [9, 5, 5, 0],
        [10, 7, 0, 0],
      ]),
      9_999,
    )
    expect(tallies.get(KEY)).toEqual({ calls: 15, failures: 9, slow: 1 })
  })

  it('tells a sick replica from a healthy one, and calls small samples agreeing', () => {
    const bad = new Map([[KEY, { calls: 40, failures: 40, slow: 0 }]])
    const good = new Map([[KEY, { calls: 120, failures: 1, slow: 0 }]])
    expect(compareTallies(bad, good, 0.001)).toBe('sicker')
    expect(compareTallies(good, bad, 0.001)).toBe('healthier')
    expect(compareTallies(good, good, 0.001)).toBe('agrees')
    expect(compareTallies(new Map([[KEY, { calls: 0, failures: 0, slow: 0 }]]), bad, 0.001)).toBe('agrees')
    // Slow calls count as well as failures.
    const slow = new Map([[KEY, { calls: 100, failures: 0, slow: 90 }]])
    expect(compareTallies(slow, good, 0.001)).toBe('sicker')
    // Keys only one side has are not compared.
    expect(compareTallies(new Map([['other', { calls: 50, failures: 50, slow: 0 }]]), good, 0.001)).toBe('agrees')
  })

  it('calls two replicas of one healthy upstream different about as often as its significance says', () => {
    // 2,000 pairs of replicas, 200 calls each at 5% errors: a 0.01 test should say "different"
    // (in one direction) about 1% of the time, and certainly well under 5%.
    let state = 7
    const random = () => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0
      return state / 2 ** 32
    }
    const draw = () => {
      let failures = 0
      for (let i = 0; i < 200; i++) if (random() < 0.05) failures++
      return new Map([[KEY, { calls: 200, failures, slow: 0 }]])
    }
    let differ = 0
    for (let i = 0; i < 2000; i++) if (compareTallies(draw(), draw(), 0.01) !== 'agrees') differ++
    expect(differ / 2000).toBeLessThan(0.05)
  })
})

describe('the fleet protocol', () => {
  it('checks its policy', () => {
    expect(() => fleetPolicy({ significance: 0 })).toThrow(/significance must be a number in \(0, 0.5\), got 0/)
    expect(() => fleetPolicy({ maxFleetOpened: 2 })).toThrow(/maxFleetOpened must be a number in \[0, 1\], got 2/)
    expect(() => fleetPolicy({ leaseMs: 0.5 })).toThrow(/leaseMs must be an integer/)
    expect(() => fleetPolicy({ shareTrips: 'yes' as never })).toThrow(/shareTrips must be a boolean/)
  })

  it('plans a round: active with recent requests, a trip to publish once, the lease of a recovery', () => {
    const member = fleetMember(null)
    const first = planRound(policy, member, view([], 5), 1000)
    expect(first.plan).toMatchObject({ publish: null, lease: null, status: { active: true, fleetOpened: false, at: 1000 } })
    const open = { ...closed, state: 'open' as const, reason: 'tripped' as const, generation: 1, openUntil: 6000 }
    const planned = planRound(policy, first.member, view([], 6, open), 1100)
    expect(planned.plan.publish).toBe('tripped')
    expect(planned.plan.lease).toEqual({ kind: 'take', share: 0 })
    // Published once: the next round (after the reply committed the generation) has nothing to publish.
    const absorbed = absorbRound(policy, planned.member, planned.plan, { peers: [], lease: { holder: 'self' } }, view([], 6, open), 1100)
    expect(absorbed.notes).toEqual([
      { _tag: 'Published', event: 'tripped' },
      { _tag: 'LeadChanged', leading: true },
    ])
    const again = planRound(policy, absorbed.member, view([], 7, open), 1200)
    expect(again.plan.publish).toBeNull()
    // No request for a lease: the leader gives it back; afterwards it only watches.
    const quiet = planRound(policy, again.member, view([], 7, open), 1200 + policy.leaseMs)
    expect(quiet.plan.lease).toEqual({ kind: 'release' })
    const released = absorbRound(policy, quiet.member, quiet.plan, { peers: [], lease: { holder: 'none' } }, view([], 7, open), 2300)
    expect(released.member.leading).toBe(false)
    expect(planRound(policy, released.member, view([], 7, open), 2400).plan.lease).toEqual({ kind: 'watch' })
  })

  it('follows the leader: its share while another leads, alone when nobody does, 0 between recoveries', () => {
    const open = { ...closed, state: 'open' as const, reason: 'peer-tripped' as const, generation: 1, openUntil: 6000 }
    const { member, plan } = planRound(policy, fleetMember(null), view([], 1, open), 1000)
    const other = absorbRound(policy, member, plan, { peers: [], lease: { holder: 'other', share: 0.25 } }, view([], 1, open), 1000)
    expect(other.events).toEqual([BreakerEvent.follow(0.25)])
    const none = absorbRound(policy, other.member, plan, { peers: [], lease: { holder: 'none' } }, view([], 1, open), 1000)
    expect(none.events).toEqual([BreakerEvent.follow(null)])
    const between = planRound(policy, none.member, view([], 2), 1100)
    expect(absorbRound(policy, between.member, between.plan, { peers: [], lease: null }, view([], 2), 1100).events).toEqual([
      BreakerEvent.follow(0),
    ])
  })

  it('takes in the evidence of the peers that agree, not of those that differ, and only with failures of its own', () => {
    const mine = window([
      [8, 20, 6, 0],
      [9, 20, 7, 0],
    ])
    const like = peer('b', window([[9, 30, 12, 0]]))
    const healthy = peer('c', window([[9, 200, 0, 0]]))
    const { member, plan } = planRound(policy, fleetMember(null), view(mine), 9_500)
    const out = absorbRound(policy, member, plan, { peers: [like, healthy], lease: null }, view(mine), 9_500)
    const evidenceOf = (events: ReadonlyArray<BreakerEvent>) => events.filter((e) => e._tag === 'EvidenceReceived')
    expect(evidenceOf(out.events)).toEqual([BreakerEvent.evidence(like.evidence)])
    expect(out.disagreeing).toBe(1)
    expect(out.member.absorbed).toBe(true)
    // No failure of its own: nothing taken in (the evidence already absorbed is withdrawn).
    const fine = window([[9, 20, 0, 0]])
    const after = absorbRound(policy, out.member, plan, { peers: [like], lease: null }, view(fine), 9_600)
    expect(evidenceOf(after.events)).toEqual([BreakerEvent.evidence([])])
    expect(after.member.absorbed).toBe(false)
  })

  it('follows a peer trip its own calls back, declines one they contradict, caps one with nothing to tell', () => {
    const failing = peer('a', window([[9, 40, 40, 0]]))
    const base: FleetMember = { ...fleetMember(null), peers: [failing] }
    const message = { replica: 'a', event: 'tripped' } as const
    // Failing too: followed.
    expect(tags(hearPeer(policy, base, message, view(window([[9, 5, 5, 0]])), 9_500).events)).toEqual(['PeerTripped'])
    // Healthy: declined for good.
    const healthy = hearPeer(policy, base, message, view(window([[9, 50, 0, 0]])), 9_500)
    expect(healthy.events).toEqual([])
    expect(healthy.notes).toEqual([{ _tag: 'PeerDeclined', replica: 'a', why: 'healthier' }])
    expect(healthy.member.pending).toEqual([])
    // One failure among a few good calls is background noise, not support.
    expect(hearPeer(policy, base, message, view(window([[9, 4, 1, 0]])), 9_500).events).toEqual([])
    // No call in its window: by default it waits for its own calls; with a cap (half of the active
    // replicas) it opens while under it...
    const crowd = ['b', 'c', 'd'].map((r) => peer(r, [], true, false))
    const quiet = { ...base, peers: [failing, ...crowd] }
    expect(hearPeer(policy, quiet, message, view(window([])), 9_500).notes).toEqual([{ _tag: 'PeerDeclined', replica: 'a', why: 'capped' }])
    const half = fleetPolicy({ maxFleetOpened: 0.5 })
    expect(tags(hearPeer(half, quiet, message, view(window([])), 9_500).events)).toEqual(['PeerTripped'])
    // ...and keeps waiting once the cap is reached, then follows when its own calls back it.
    const opened = ['b', 'c', 'd'].map((r) => peer(r, [], true, true))
    const full = { ...base, peers: [failing, ...opened] }
    const capped = hearPeer(half, full, message, view(window([])), 9_500)
    expect(capped.events).toEqual([])
    expect(capped.notes).toEqual([{ _tag: 'PeerDeclined', replica: 'a', why: 'capped' }])
    expect(capped.member.pending).toHaveLength(1)
    const later = planRound(policy, capped.member, view(window([[9, 2, 2, 0]])), 9_700)
    const round = absorbRound(policy, later.member, later.plan, { peers: opened, lease: null }, view(window([[9, 2, 2, 0]])), 9_700)
    expect(tags(round.events)).toContain('PeerTripped')
    expect(round.member.pending).toEqual([])
    // A strategy that shares nothing cannot be compared: trips are followed as they come.
    expect(tags(hearPeer(policy, base, message, view([]), 9_500).events)).toEqual(['PeerTripped'])
    // A peer's recovery is always passed on.
    expect(tags(hearPeer(policy, base, { replica: 'a', event: 'recovered' }, view([]), 9_500).events)).toEqual(['PeerRecovered'])
  })

  it('falls back to deciding alone', () => {
    const out = leaveFleet({ ...fleetMember(null), absorbed: true, following: 0.5, leading: true, peers: [peer('b', [])] })
    expect(out.events).toEqual([BreakerEvent.follow(null), BreakerEvent.evidence([])])
    expect(out.notes).toEqual([{ _tag: 'LeadChanged', leading: false }])
    expect(out.member).toMatchObject({ absorbed: false, following: null, leading: false, peers: [], pending: [] })
  })

  it('never throws, and hands the breaker only well-formed events, on any replies and messages', () => {
    const bucket = fc
      .tuple(fc.integer({ min: 0, max: 12 }), fc.nat(50), fc.nat(50), fc.nat(50))
      .map(([epoch, calls, f, s]) => [epoch, calls, Math.min(f, calls), Math.min(s, calls)] as const)
    const evidence = fc
      .array(bucket, { maxLength: 6 })
      .map((bs) => window([...new Map(bs.map((b) => [b[0], b])).values()].sort((x, y) => x[0] - y[0])))
    const report = fc.record({
      replica: fc.constantFrom('b', 'c', 'd'),
      evidence,
      status: fc.option(fc.record({ active: fc.boolean(), fleetOpened: fc.boolean(), at: fc.nat(20_000) }), { nil: null }),
    })
    const lease = fc.option(
      fc.oneof(
        fc.constant({ holder: 'self' as const }),
        fc.constant({ holder: 'none' as const }),
        fc.double({ min: 0, max: 1, noNaN: true }).map((share) => ({ holder: 'other' as const, share })),
      ),
      { nil: null },
    )
    const step = fc.oneof(
      fc.record({ kind: fc.constant('round' as const), peers: fc.array(report, { maxLength: 3 }), lease }),
      fc.record({ kind: fc.constant('hear' as const), replica: fc.constantFrom('b', 'c'), event: fc.constantFrom('tripped', 'recovered') }),
      fc.record({ kind: fc.constant('leave' as const) }),
    )
    fc.assert(
      fc.property(fc.array(fc.tuple(step, evidence, fc.nat(2_000), fc.boolean()), { maxLength: 20 }), (steps) => {
        let member = fleetMember(null)
        let now = 0
        for (const [s, share, dt, open] of steps) {
          now += dt
          const local = view(share, Math.floor(now / 100), open ? strategy.inspect(openState) : closed)
          const out =
            s.kind === 'round'
              ? (() => {
                  const planned = planRound(policy, member, local, now)
                  return absorbRound(policy, planned.member, planned.plan, { peers: s.peers, lease: s.lease }, local, now)
                })()
              : s.kind === 'hear'
                ? hearPeer(policy, member, { replica: s.replica, event: s.event }, local, now)
                : leaveFleet(member)
          member = out.member
          for (const e of out.events) {
            if (e._tag === 'RecoveryFollowed') expect(e.rate === null || (e.rate >= 0 && e.rate <= 1)).toBe(true)
            if (e._tag === 'EvidenceReceived') expect(() => BreakerEvent.evidence(e.evidence)).not.toThrow()
            // The breaker takes every event the protocol hands it.
            expect(() => strategy.step(strategy.initial(0), e, now)).not.toThrow()
          }
          expect(member.pending.length).toBeLessThanOrEqual(16)
        }
      }),
      { numRuns: 300 },
    )
  })
})
