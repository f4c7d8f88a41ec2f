/**
 * The fleet protocol's model: its policy, what a replica knows of a breaker between rounds, and
 * what rounds, replies and messages carry. Plain data throughout. See `protocol.ts`.
 */

import type { BreakerEvent } from '../BreakerEvent.js'
import type { Evidence } from '../Evidence.js'
import type { Snapshot } from '../Strategy.js'
import type { Tally } from './agreement.js'

// ---- model -------------------------------------------------------------------------------

/** How a replica takes part in the fleet (one policy for all its breakers). */
export interface FleetPolicy {
  /** How long a recovery lease lasts unless renewed, and how long a replica counts as active after its last request, in ms. */
  readonly leaseMs: number
  /**
   * The chance of calling two replicas of one upstream different (see `compareTallies`). Calling
   * them different only costs sharing (a replica then decides on its own counts, as alone), while
   * calling different replicas alike lets one's fault into the other: so the default is liberal, 0.05.
   */
  readonly significance: number
  /**
   * The share of active replicas a peer's trip may open while they have no call of their own to
   * judge it by. Default 0: such a replica waits for its own first calls (one failed call backs
   * the trip). Opening it saves at most that one call in a shared fault, and costs every good call
   * it then rejects in a local one (measured in the simulator: see `@datapunk/breaker-redis`'s README).
   */
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
  significance: 0.05,
  maxFleetOpened: 0,
  shareEvidence: true,
  shareTrips: true,
  shareRecovery: true,
}

/**
 * A fleet policy from partial input, checked: throws a `RangeError` naming the first bad field.
 *
 * @example
 * import { fleetPolicy } from '@datapunk/breaker'
 * fleetPolicy({ leaseMs: 2000 }).significance // 0.05
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
  /** The peer's id. */
  readonly replica: string
  /** Its windows (absolute counts). */
  readonly evidence: ReadonlyArray<Evidence>
  /** What it said of itself, or `null`. */
  readonly status: PeerStatus | null
}

/** A peer's trip waiting for the cap (see the module's rules), with the peer's windows as last read before it. */
export interface PendingTrip {
  /** The peer that tripped. */
  readonly replica: string
  /** When this replica heard of it. */
  readonly at: number
  /** The peer's windows as last read before the trip. */
  readonly evidence: ReadonlyArray<Evidence>
  /** The peer's counts when it tripped, or `null`. */
  readonly tally: Tally | null
}

/** What one replica knows of one breaker between rounds. Plain data. */
export interface FleetMember {
  /** The breaker's generation at the last published look (trips and recoveries after it are published). */
  readonly generation: number
  /** The breaker's request count at the last round (see `LocalView.requests`). */
  readonly requests: number
  /** When this replica last saw a request for the breaker, or `null`. */
  readonly activeAt: number | null
  /** Whether this replica leads the breaker's recovery for the fleet. */
  readonly leading: boolean
  /** The share of the recovery last told to the breaker (`null`: it recovers by itself, alone or leading). */
  readonly following: number | null
  /** Whether the breaker holds fleet evidence (falling back must take it back). */
  readonly absorbed: boolean
  /** The peers as the last round read them. */
  readonly peers: ReadonlyArray<PeerReport>
  /** Peers' trips waiting for the cap. */
  readonly pending: ReadonlyArray<PendingTrip>
  /** The breaker's shared windows at the last round they were not empty (a trip is published with them). */
  readonly lastShare: ReadonlyArray<Evidence>
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
  lastShare: [],
})

/** What the protocol reads of the breaker. */
export interface LocalView {
  /** The breaker's snapshot now. */
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
  /** A trip or recovery to publish, or `null`. */
  readonly publish: 'tripped' | 'recovered' | null
  /** The generation looked at (committed by `absorbRound`: a trip is not lost to a failed round). */
  readonly generation: number
  /** What to ask of the recovery lease, or `null`. */
  readonly lease: LeaseRequest | null
  /** What this replica says of itself. */
  readonly status: PeerStatus
  /** This replica's windows to write (absolute counts). */
  readonly evidence: ReadonlyArray<Evidence>
  /**
   * With a trip to publish: the windows the breaker tripped on (as of its last round before the
   * trip), sent with the message so the others judge the trip on them (an open breaker shares none).
   */
  readonly tripEvidence: ReadonlyArray<Evidence>
  /** With a trip to publish: the breaker's counts when it tripped (its first detector's, from the snapshot), or `null`. */
  readonly tripTally: Tally | null
}

/** Who holds the lease after the round: this replica, another (offering `share`), or nobody. */
export type LeaseReply = { readonly holder: 'self' } | { readonly holder: 'other'; readonly share: number } | { readonly holder: 'none' }

/** What the transport read for one breaker. */
export interface RoundReply {
  /** The peers as Redis holds them. */
  readonly peers: ReadonlyArray<PeerReport>
  /** `null` when the plan asked nothing of the lease. */
  readonly lease: LeaseReply | null
}

/** A peer's published message. */
export interface PeerMessage {
  /** The peer that sent it. */
  readonly replica: string
  /** What happened to it: `tripped` or `recovered`. */
  readonly event: 'tripped' | 'recovered'
  /** A trip's windows (`RoundPlan.tripEvidence`); without them, the peer's windows as the last round read them. */
  readonly evidence?: ReadonlyArray<Evidence>
  /** A trip's counts (`RoundPlan.tripTally`): what it is judged on when there are no windows to read. */
  readonly tally?: Tally | null
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
  /** What this replica knows after the round. */
  readonly member: FleetMember
  /** Events to dispatch to the breaker (peers' trips, evidence, recovery shares). */
  readonly events: ReadonlyArray<BreakerEvent>
  /** What happened, for the attachment's `events$`. */
  readonly notes: ReadonlyArray<FleetNote>
  /** Peers whose evidence this round left out because they disagree with this replica. */
  readonly disagreeing: number
}
