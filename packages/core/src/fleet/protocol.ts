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
 * - **Agreement.** Evidence counts only from peers whose recent calls agree with this replica's
 *   (see `compareTallies`), and only while its own recent calls include failed or slow ones: a
 *   replica that fails alone decides on its own counts (it trips as fast as it would alone), and
 *   a healthy replica never takes in the failures of a broken one.
 * - **Support.** A peer's trip opens this replica at once when its own recent calls agree with the
 *   peer's last recent calls and include failures (or slow calls): two, or one if it was the only
 *   call. When they are significantly healthier, or too few of them failed, the trip is declined
 *   for good: a replica the fault reaches later trips on its own window and on the evidence of the
 *   peers it then agrees with.
 * - **Cap.** A peer's trip may open a replica with no call in its window (nothing to tell) only
 *   while fewer than `maxFleetOpened` of the active replicas stand open on peer trips (at least
 *   one may), as outlier ejection caps the share of ejected hosts; until then it waits, a window
 *   at most, and is followed as soon as this replica's own calls back it.
 *
 * Recovery is led by one replica with recent traffic (a lease the transport keeps): a leader that
 * stops seeing requests gives the lease back at its next round, so a replica that does see them
 * takes over within one lease.
 */
import { BreakerEvent } from '../BreakerEvent.js'
import { type Evidence, mergeEvidence } from '../Evidence.js'
import type { Snapshot } from '../Strategy.js'
import { compareTallies, recentTallies, type Tally } from './agreement.js'

// ---- model -------------------------------------------------------------------------------

/** How a replica takes part in the fleet (one policy for all its breakers). */
export interface FleetPolicy {
  /** How long a recovery lease lasts unless renewed, and how long a replica counts as active after its last request, in ms. */
  readonly leaseMs: number
  /** The chance of calling two replicas of one healthy upstream different (see `compareTallies`). */
  readonly significance: number
  /** The share of active replicas a peer's trip may open while their own calls show no failure (at least one). */
  readonly maxFleetOpened: number
  /** Share window counts. */
  readonly shareEvidence: boolean
  /** Publish trips and recoveries, and hear the others'. */
  readonly shareTrips: boolean
  /** One replica leads each recovery, the others follow. */
  readonly shareRecovery: boolean
}

/** The policy's defaults (`leaseMs` is usually derived from the round period: 4 rounds, at least 1 s). */
export const DEFAULT_FLEET_POLICY: FleetPolicy = {
  leaseMs: 1000,
  significance: 0.001,
  maxFleetOpened: 0.5,
  shareEvidence: true,
  shareTrips: true,
  shareRecovery: true,
}

/**
 * A fleet policy from partial input, checked: throws a `RangeError` naming the first bad field.
 *
 * @example
 * import { fleetPolicy } from '@datapunk/breaker'
 * fleetPolicy({ leaseMs: 2000 }).significance // 0.001
 * try { fleetPolicy({ significance: 2 }) } catch (e) { e.message } // 'fleet policy: significance must be a number in (0, 0.5), got 2'
 */
export const fleetPolicy = (input: Partial<FleetPolicy> = {}): FleetPolicy => {
  const policy = { ...DEFAULT_FLEET_POLICY, ...input }
  const fail = (field: string, must: string, got: unknown): never => {
    throw new RangeError(`fleet policy: ${field} must be ${must}, got ${String(got)}`)
  }
  if (!(Number.isInteger(policy.leaseMs) && policy.leaseMs >= 1 && policy.leaseMs <= 2_147_483_647))
    fail('leaseMs', 'an integer from 1 to 2147483647', policy.leaseMs)
  if (!(policy.significance > 0 && policy.significance < 0.5)) fail('significance', 'a number in (0, 0.5)', policy.significance)
  if (!(policy.maxFleetOpened >= 0 && policy.maxFleetOpened <= 1)) fail('maxFleetOpened', 'a number in [0, 1]', policy.maxFleetOpened)
  for (const flag of ['shareEvidence', 'shareTrips', 'shareRecovery'] as const)
    if (typeof policy[flag] !== 'boolean') fail(flag, 'a boolean', policy[flag])
  return policy
}

/** What a replica says of itself each round (the transport keeps it for the others to read). */
export interface PeerStatus {
  /** It saw a request for this breaker within the last `leaseMs`. */
  readonly active: boolean
  /** It stands open on a peer's trip. */
  readonly fleetOpened: boolean
  /** When it said so, on its breaker's clock. */
  readonly at: number
}

/** One peer as a round read it: its shared windows (all of them, by detector key) and its status. */
export interface PeerReport {
  readonly replica: string
  readonly evidence: ReadonlyArray<Evidence>
  readonly status: PeerStatus | null
}

/** A peer's trip waiting for the cap (see the module's rules), with the peer's windows as last read before it. */
export interface PendingTrip {
  readonly replica: string
  readonly at: number
  readonly evidence: ReadonlyArray<Evidence>
}

/** What one replica knows of one breaker between rounds. Plain data. */
export interface FleetMember {
  /** The breaker's generation at the last published look (trips and recoveries after it are published). */
  readonly generation: number
  /** The breaker's request count at the last round (see `LocalView.requests`). */
  readonly requests: number
  /** When this replica last saw a request for the breaker, or `null`. */
  readonly activeAt: number | null
  readonly leading: boolean
  /** The share of the recovery last told to the breaker (`null`: it recovers by itself, alone or leading). */
  readonly following: number | null
  /** Whether the breaker holds fleet evidence (falling back must take it back). */
  readonly absorbed: boolean
  /** The peers as the last round read them. */
  readonly peers: ReadonlyArray<PeerReport>
  readonly pending: ReadonlyArray<PendingTrip>
}

/**
 * A member for a breaker joining the fleet: a breaker restored from a snapshot starts where it is
 * (nothing to publish); a new one (`null`) publishes its first trip.
 */
export const fleetMember = (snapshot: Snapshot | null): FleetMember => ({
  generation: snapshot === null ? -1 : snapshot.generation,
  requests: 0,
  activeAt: null,
  leading: false,
  following: null,
  absorbed: false,
  peers: [],
  pending: [],
})

/** What the protocol reads of the breaker. */
export interface LocalView {
  readonly snapshot: Snapshot
  /** Its strategy's shared windows (`strategy.share(state)`). */
  readonly share: ReadonlyArray<Evidence>
  /** Requests it has been asked about so far (the runtime's `breaker.lastCall`): traffic, admitted or not. */
  readonly requests: number
}

/** The recovery lease: take (or renew) it offering `share`, only learn who holds it, or give it back. */
export type LeaseRequest = { readonly kind: 'take'; readonly share: number } | { readonly kind: 'watch' } | { readonly kind: 'release' }

/** What a round asks of the transport for one breaker. */
export interface RoundPlan {
  readonly publish: 'tripped' | 'recovered' | null
  /** The generation looked at (committed by `absorbRound`: a trip is not lost to a failed round). */
  readonly generation: number
  readonly lease: LeaseRequest | null
  readonly status: PeerStatus
  /** This replica's windows to write (absolute counts). */
  readonly evidence: ReadonlyArray<Evidence>
}

/** Who holds the lease after the round: this replica, another (offering `share`), or nobody. */
export type LeaseReply = { readonly holder: 'self' } | { readonly holder: 'other'; readonly share: number } | { readonly holder: 'none' }

/** What the transport read for one breaker. */
export interface RoundReply {
  readonly peers: ReadonlyArray<PeerReport>
  /** `null` when the plan asked nothing of the lease. */
  readonly lease: LeaseReply | null
}

/** A peer's published message. */
export interface PeerMessage {
  readonly replica: string
  readonly event: 'tripped' | 'recovered'
}

/** What the protocol reports (the transport turns these into its own events and logs). */
export type FleetNote =
  | { readonly _tag: 'Published'; readonly event: 'tripped' | 'recovered' }
  | { readonly _tag: 'LeadChanged'; readonly leading: boolean }
  /** A peer's trip or recovery was passed to the breaker. */
  | { readonly _tag: 'PeerFollowed'; readonly replica: string; readonly event: 'tripped' | 'recovered' }
  /** A peer's trip was not followed (yet): this replica's calls are healthier, or the cap is reached. */
  | { readonly _tag: 'PeerDeclined'; readonly replica: string; readonly why: 'healthier' | 'capped' }

/** A step's result: the member after it, the events to dispatch to the breaker (in order), the notes. */
export interface FleetOutcome {
  readonly member: FleetMember
  readonly events: ReadonlyArray<BreakerEvent>
  readonly notes: ReadonlyArray<FleetNote>
  /** Peers whose evidence this round left out because they disagree with this replica. */
  readonly disagreeing: number
}

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

type TripDecision = 'follow' | 'healthier' | 'capped'

/**
 * Whether this replica's own recent calls back a fault: two failed (or slow) ones, or one when it
 * is all of them. (One failure among a few good calls is what a healthy upstream's background
 * errors look like on a thin replica.)
 */
const supported = (local: ReadonlyMap<string, Tally>): boolean => {
  for (const t of local.values()) {
    const bad = Math.max(t.failures, t.slow)
    if (bad >= 2 || (bad === 1 && t.calls === 1)) return true
  }
  return false
}

/** A time in the newest bucket a peer wrote (its windows end there), or `fallback` if it wrote none. */
const newestOf = (evidence: ReadonlyArray<Evidence>, fallback: number): number => {
  let at = Number.NEGATIVE_INFINITY
  for (const e of evidence) {
    const last = e.buckets[e.buckets.length - 1]
    if (last !== undefined) at = Math.max(at, last[0] * e.bucketMs)
  }
  return at === Number.NEGATIVE_INFINITY ? fallback : at
}

/** Whether a peer's trip opens this replica now (see the module's rules). */
const decideTrip = (policy: FleetPolicy, member: FleetMember, trip: PendingTrip, view: LocalView, now: number): TripDecision => {
  // Nothing shared to compare (a strategy without time windows, or evidence not shared): follow.
  if (!policy.shareEvidence || view.share.length === 0) return 'follow'
  const local = recentTallies(view.share, now)
  // The peer's last recent calls before its trip, against this replica's now.
  if (compareTallies(local, recentTallies(trip.evidence, newestOf(trip.evidence, trip.at)), policy.significance) === 'healthier')
    return 'healthier'
  if (supported(local)) return 'follow'
  // Calls in its window and not enough of them failed: the upstream works for this replica.
  for (const e of view.share) for (const b of e.buckets) if (b[1] > 0) return 'healthier'
  // No call in its window to tell: capped.
  const fresh = member.peers.filter((p) => p.status !== null && now - p.status.at <= policy.leaseMs * 2)
  const active = 1 + fresh.filter((p) => p.status?.active === true).length
  const opened = fresh.filter((p) => p.status?.fleetOpened === true).length
  return opened < Math.max(1, Math.floor(policy.maxFleetOpened * active)) ? 'follow' : 'capped'
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
  const seen = view.requests !== member.requests ? { ...member, requests: view.requests, activeAt: now } : member
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
    const agreeing: Evidence[] = []
    // Without failed or slow calls of its own, the peers' counts could only trip this replica on
    // their failures: fleet evidence alone, which opens a replica only through the capped peer trip.
    const backed = supported(local)
    for (const peer of reply.peers) {
      if (peer.evidence.length === 0) continue
      if (backed && compareTallies(local, recentTallies(peer.evidence, now), policy.significance) === 'agrees')
        agreeing.push(...peer.evidence)
      else disagreeing++
    }
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
  const trip: PendingTrip = {
    replica: message.replica,
    at: now,
    evidence: member.peers.find((p) => p.replica === message.replica)?.evidence ?? [],
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
  return { member: { ...next, peers: [], pending: [] }, events, notes, disagreeing: 0 }
}
