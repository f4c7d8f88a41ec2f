/**
 * The fleet protocol, pure: what one replica does with one breaker in fleet mode. A transport
 * (Redis in `@datapunk/breaker-redis`, memory in the simulator) runs rounds and carries messages;
 * this module decides, with time as an argument:
 *
 * - a round's plan from the breaker's snapshot and shared windows (`planRound`): the trip or
 *   recovery to publish, the recovery lease to take, watch or give back, this replica's status and
 *   the evidence to write;
 * - what the round's reply means for the breaker (`absorbRound`): the events to dispatch (the
 *   evidence of the peers that agree with this replica, the share of the recovery to follow, peer
 *   trips that were waiting) and what to report;
 * - what a peer's published trip or recovery means (`hearPeer`);
 * - falling back to deciding alone (`leaveFleet`).
 *
 * Three rules keep a local fault local:
 * - **Agreement.** Evidence counts only from peers whose windows, pooled, agree with this
 *   replica's window (see `compareTallies`; the pool is built closest peer first), and only while
 *   its own recent calls include failed or slow ones: a
 *   replica that fails alone decides on its own counts (it trips as fast as it would alone), and
 *   a healthy replica never takes in the failures of a broken one.
 * - **Support.** A peer's trip opens this replica at once when its own recent calls agree with the
 *   peer's last recent calls and include failures (or slow calls): two, or one if it was the only
 *   call, and a failure share at least half the rate its own circuit trips at and not
 *   significantly below it (so a noise trip in a healthy fleet is not followed). When they are significantly healthier, or too
 *   few of them failed, the trip is declined
 *   for good: a replica the fault reaches later trips on its own window and on the evidence of the
 *   peers it then agrees with.
 * - **Cap.** A peer's trip may open a replica with no call in its window (nothing to tell) only
 *   while fewer than `maxFleetOpened` of the active replicas stand open on peer trips (none by
 *   default), as outlier ejection caps the share of ejected hosts; until then it waits, a window
 *   at most, and is followed as soon as this replica's own calls back it.
 *
 * Recovery is led by one replica with recent traffic (a lease the transport keeps): a leader that
 * stops seeing requests gives the lease back at its next round, so a replica that does see them
 * takes over within one lease.
 */
import { BreakerEvent } from '../BreakerEvent.js'
import { type Evidence, mergeEvidence } from '../Evidence.js'
import type { Snapshot } from '../Strategy.js'
import { recentTallies, windowTallies } from './agreement.js'
import { agreeingPool, decideTrip, supported } from './judge.js'
import type {
  FleetMember,
  FleetNote,
  FleetOutcome,
  FleetPolicy,
  LeaseRequest,
  LocalView,
  PeerMessage,
  PendingTrip,
  RoundPlan,
  RoundReply,
} from './model.js'

export * from './model.js'

// ---- helpers -----------------------------------------------------------------------------

const TRIP_REASONS: ReadonlySet<string> = new Set(['tripped', 'recovery-failed'])

/** A recovery this replica may take part in: open for a duration, or half-open, in mode normal. */
const recovering = (s: Snapshot): boolean =>
  s.mode === 'normal' && (s.state === 'half-open' || (s.state === 'open' && s.openUntil !== null))

const isActive = (policy: FleetPolicy, member: FleetMember, now: number): boolean =>
  member.activeAt !== null && now - member.activeAt < policy.leaseMs

/** How long a capped peer trip waits: the longest shared window, or four leases. */
const pendingMs = (policy: FleetPolicy, share: ReadonlyArray<Evidence>): number =>
  Math.max(policy.leaseMs * 4, ...share.map((e) => e.bucketMs * e.span))

/** Adds a `follow` event when the share to follow changes (a share is told every round; alone only once). */
const follow = (member: FleetMember, share: number | null, events: BreakerEvent[]): FleetMember => {
  if (share === null && member.following === null) return member
  events.push(BreakerEvent.follow(share))
  return { ...member, following: share }
}

const lead = (member: FleetMember, leading: boolean, notes: FleetNote[]): FleetMember => {
  if (member.leading === leading) return member
  notes.push({ _tag: 'LeadChanged', leading })
  return { ...member, leading }
}

// ---- steps -------------------------------------------------------------------------------

/**
 * Plans one round for one breaker.
 *
 * @example
 * import { circuit, fleetMember, fleetPolicy, planRound } from '@datapunk/breaker'
 * const strategy = circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } })
 * const snapshot = strategy.inspect(strategy.initial(0))
 * const { plan } = planRound(fleetPolicy(), fleetMember(null), { snapshot, share: [], requests: 3 }, 1000)
 * plan.status // { active: true, fleetOpened: false, at: 1000 }
 * plan.lease // null (closed: no recovery to lead)
 */
export const planRound = (
  policy: FleetPolicy,
  member: FleetMember,
  view: LocalView,
  now: number,
): { readonly member: FleetMember; readonly plan: RoundPlan } => {
  const { snapshot } = view
  const fresh = view.requests !== member.requests ? { ...member, requests: view.requests, activeAt: now } : member
  const seen = view.share.length > 0 ? { ...fresh, lastShare: view.share } : fresh
  const active = isActive(policy, seen, now)
  const publish =
    !policy.shareTrips || snapshot.generation === member.generation
      ? null
      : snapshot.state === 'open' && TRIP_REASONS.has(snapshot.reason)
        ? 'tripped'
        : snapshot.state === 'closed' && snapshot.reason === 'recovered'
          ? 'recovered'
          : null
  let lease: LeaseRequest | null = null
  if (policy.shareRecovery) {
    if (recovering(snapshot)) {
      if (active) {
        // Leading (or alone): offer the share its own recovery admits; six decimals (a ramp moves in parts per million).
        const rate = snapshot.state === 'half-open' && seen.following === null ? (snapshot.recovery?.fleetRate ?? 0) : 0
        lease = { kind: 'take', share: Number((rate >= 0 && rate <= 1 ? rate : rate > 1 ? 1 : 0).toFixed(6)) }
      } else lease = seen.leading ? { kind: 'release' } : { kind: 'watch' }
    } else if (seen.leading) lease = { kind: 'release' }
  }
  return {
    member: seen,
    plan: {
      publish,
      generation: snapshot.generation,
      lease,
      status: { active, fleetOpened: snapshot.state === 'open' && snapshot.reason === 'peer-tripped', at: now },
      evidence: policy.shareEvidence ? view.share : [],
      tripEvidence: publish === 'tripped' && policy.shareEvidence ? seen.lastShare : [],
      tripTally:
        publish === 'tripped' && snapshot.calls !== null
          ? { calls: snapshot.calls, failures: snapshot.failures ?? 0, slow: snapshot.slowCalls ?? 0 }
          : null,
    },
  }
}

/**
 * What a round's reply means for the breaker: the peers' evidence that agrees with this
 * replica's, the recovery share to follow, the waiting peer trips that may now be followed.
 */
export const absorbRound = (
  policy: FleetPolicy,
  before: FleetMember,
  plan: RoundPlan,
  reply: RoundReply,
  view: LocalView,
  now: number,
): FleetOutcome => {
  const events: BreakerEvent[] = []
  const notes: FleetNote[] = []
  let member: FleetMember = { ...before, generation: plan.generation, peers: reply.peers }
  if (plan.publish !== null) notes.push({ _tag: 'Published', event: plan.publish })

  // The recovery: lead, follow the leader's share, or (between recoveries) wait for the fleet's word.
  if (policy.shareRecovery) {
    const l = reply.lease
    if (plan.lease === null || plan.lease.kind === 'release') {
      member = lead(member, false, notes)
      // Forced open, isolated or disabled included: the instruction only matters once a recovery starts.
      member = recovering(view.snapshot) ? follow(member, null, events) : follow(member, 0, events)
    } else if (l === null || l.holder === 'none') {
      member = follow(lead(member, false, notes), null, events)
    } else if (l.holder === 'self') {
      member = follow(lead(member, true, notes), null, events)
    } else member = follow(lead(member, false, notes), l.share, events)
  }

  // Evidence: only from the peers that agree with this replica.
  let disagreeing = 0
  if (policy.shareEvidence && view.share.length > 0) {
    const local = recentTallies(view.share, now)
    // Without failed or slow calls of its own, the peers' counts could only trip this replica on
    // their failures: fleet evidence alone, which opens a replica only through the capped peer trip.
    const pool = supported(local) ? agreeingPool(policy, windowTallies(view.share), reply.peers) : []
    const agreeing = pool.flatMap((p) => p.evidence)
    disagreeing = reply.peers.filter((p) => p.evidence.length > 0).length - pool.length
    const keys = new Set(view.share.map((e) => e.key))
    const merged = mergeEvidence(agreeing.filter((e) => keys.has(e.key)))
    if (merged.length > 0 || member.absorbed) {
      events.push(BreakerEvent.evidence(merged))
      member = { ...member, absorbed: merged.length > 0 }
    }
  } else if (member.absorbed) {
    events.push(BreakerEvent.evidence([]))
    member = { ...member, absorbed: false }
  }

  // Peer trips that waited: followed once this replica's own calls back them, dropped when stale.
  if (member.pending.length > 0) {
    const keep: PendingTrip[] = []
    const limit = pendingMs(policy, view.share)
    let followed = false
    for (const trip of member.pending) {
      if (followed || now - trip.at > limit) continue
      const decision = decideTrip(policy, member, trip, view, now)
      if (decision === 'follow') {
        followed = true
        events.push(BreakerEvent.peerTripped())
        notes.push({ _tag: 'PeerFollowed', replica: trip.replica, event: 'tripped' })
      } else if (decision === 'capped') keep.push(trip)
    }
    member = { ...member, pending: followed ? [] : keep }
  }
  return { member, events, notes, disagreeing }
}

/**
 * What a peer's published trip or recovery means for the breaker: a recovery is passed on; a
 * trip is passed on when this replica's own calls back it (see the module's rules), else kept
 * waiting for a later round.
 *
 * @example
 * import { fleetMember, fleetPolicy, hearPeer } from '@datapunk/breaker'
 * import { circuit } from '@datapunk/breaker'
 * const strategy = circuit({ trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 20, window: { kind: 'time', durationMs: 10_000, buckets: 10 } } })
 * const snapshot = strategy.inspect(strategy.initial(0))
 * // This replica made 200 calls in the last two seconds, none failed: a peer's trip is not its fault.
 * const share = [{ key: 'k', bucketMs: 1000, span: 10, buckets: [[8, 100, 0, 0], [9, 100, 0, 0]] as const }]
 * const peerEvidence = [{ key: 'k', bucketMs: 1000, span: 10, buckets: [[9, 40, 40, 0]] as const }]
 * const member = { ...fleetMember(null), peers: [{ replica: 'b', evidence: peerEvidence, status: null }] }
 * const heard = hearPeer(fleetPolicy(), member, { replica: 'b', event: 'tripped' }, { snapshot, share, requests: 200 }, 9_500)
 * heard.events // []
 * heard.notes // [{ _tag: 'PeerDeclined', replica: 'b', why: 'healthier' }]
 */
export const hearPeer = (policy: FleetPolicy, member: FleetMember, message: PeerMessage, view: LocalView, now: number): FleetOutcome => {
  if (message.event === 'recovered')
    return {
      member: { ...member, pending: member.pending.filter((p) => p.replica !== message.replica) },
      events: [BreakerEvent.peerRecovered()],
      notes: [{ _tag: 'PeerFollowed', replica: message.replica, event: 'recovered' }],
      disagreeing: 0,
    }
  // The peer's windows as the last round read them: a tripped peer withdraws its own at its next round.
  const carried = message.evidence ?? []
  const trip: PendingTrip = {
    replica: message.replica,
    at: now,
    evidence: carried.length > 0 ? carried : (member.peers.find((p) => p.replica === message.replica)?.evidence ?? []),
    tally: message.tally ?? null,
  }
  const decision = decideTrip(policy, member, trip, view, now)
  if (decision === 'follow')
    return {
      member: { ...member, pending: [] },
      events: [BreakerEvent.peerTripped()],
      notes: [{ _tag: 'PeerFollowed', replica: message.replica, event: 'tripped' }],
      disagreeing: 0,
    }
  // Healthier: declined for good (tested again every round, small samples would agree by chance
  // sooner or later; a replica the fault reaches later trips on its own window and on the
  // evidence of the peers it then agrees with). Capped: kept (one per peer, the latest, bounded by
  // the fleet's size) until its own calls back it or the cap frees.
  const others = member.pending.filter((p) => p.replica !== message.replica)
  const pending = decision === 'capped' ? [...others, trip] : others
  return {
    member: { ...member, pending: pending.slice(-Math.max(16, member.peers.length + 1)) },
    events: [],
    notes: [{ _tag: 'PeerDeclined', replica: message.replica, why: decision }],
    disagreeing: 0,
  }
}

/**
 * Back to deciding alone (the transport failed, or the breaker leaves the fleet): the breaker
 * recovers by itself and drops the fleet's evidence.
 *
 * @example
 * import { fleetMember, leaveFleet } from '@datapunk/breaker'
 * leaveFleet({ ...fleetMember(null), absorbed: true, following: 0 }).events.map((e) => e._tag) // ['RecoveryFollowed', 'EvidenceReceived']
 */
export const leaveFleet = (member: FleetMember): FleetOutcome => {
  const events: BreakerEvent[] = []
  const notes: FleetNote[] = []
  let next = follow(lead(member, false, notes), null, events)
  if (next.absorbed) {
    events.push(BreakerEvent.evidence([]))
    next = { ...next, absorbed: false }
  }
  return { member: { ...next, peers: [], pending: [], lastShare: [] }, events, notes, disagreeing: 0 }
}
