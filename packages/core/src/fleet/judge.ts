/**
 * How the fleet protocol judges peers: which peers' counts a replica takes in (a pool that agrees
 * with its window), and whether a peer's trip opens it (its own recent calls must back the trip).
 * See the rules in `protocol.ts`.
 */
import type { Evidence } from '../Evidence.js'
import { normalQuantile } from '../statistics.js'
import { addTallies, compareTallies, recentTallies, type Tally, windowTallies } from './agreement.js'
import type { FleetMember, FleetPolicy, LocalView, PeerReport, PendingTrip } from './model.js'

export type TripDecision = 'follow' | 'healthier' | 'capped'

/**
 * Whether this replica's recent failure share is below half the rate its circuit trips at, or
 * significantly below that rate (`null`: it trips on no rate): then the upstream is not failing
 * for it, whatever a peer saw. (A healthy fleet with background errors has noise trips; its other
 * replicas must not follow one.)
 */
export const belowThreshold = (local: ReadonlyMap<string, Tally>, threshold: number | null, significance: number): boolean => {
  if (threshold === null || !(threshold > 0 && threshold < 1)) return false
  const z = normalQuantile(1 - significance)
  for (const t of local.values()) {
    if (t.calls === 0) continue
    const share = t.failures / t.calls
    if (share < threshold / 2) return true
    if ((share - threshold) / Math.sqrt((threshold * (1 - threshold)) / t.calls) <= -z) return true
  }
  return false
}

/**
 * Whether this replica's own recent calls back a fault: two failed (or slow) ones, or one when it
 * is all of them. (One failure among a few good calls is what a healthy upstream's background
 * errors look like on a thin replica.)
 */
export const supported = (local: ReadonlyMap<string, Tally>): boolean => {
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
export const decideTrip = (policy: FleetPolicy, member: FleetMember, trip: PendingTrip, view: LocalView, now: number): TripDecision => {
  // Nothing shared to compare (a strategy without time windows, or evidence not shared): follow.
  if (!policy.shareEvidence || view.share.length === 0) return 'follow'
  const local = recentTallies(view.share, now)
  // The peer's last recent calls before its trip (or, without its windows, its counts at the
  // trip), against this replica's now.
  const theirs =
    trip.evidence.length > 0 || trip.tally === null
      ? recentTallies(trip.evidence, newestOf(trip.evidence, trip.at))
      : new Map([...local.keys()].map((key) => [key, trip.tally as Tally] as const))
  if (compareTallies(local, theirs, policy.significance) === 'healthier') return 'healthier'
  if (supported(local)) return belowThreshold(local, view.snapshot.failureRateThreshold, policy.significance) ? 'healthier' : 'follow'
  // Calls in its window and not enough of them failed: the upstream works for this replica.
  for (const e of view.share) for (const b of e.buckets) if (b[1] > 0) return 'healthier'
  // No call in its window to tell: capped.
  const fresh = member.peers.filter((p) => p.status !== null && now - p.status.at <= policy.leaseMs * 2)
  const active = 1 + fresh.filter((p) => p.status?.active === true).length
  const opened = fresh.filter((p) => p.status?.fleetOpened === true).length
  return opened < Math.floor(policy.maxFleetOpened * active) ? 'follow' : 'capped'
}

/** The share of a replica's recent calls that failed or were slow (its first key), or 0. */
const badShare = (tallies: ReadonlyMap<string, Tally>): number => {
  for (const t of tallies.values()) return t.calls === 0 ? 0 : Math.max(t.failures, t.slow) / t.calls
  return 0
}

/**
 * The peers whose evidence this replica takes in: built greedily, closest failure share first, a
 * peer joining only if this replica's window still agrees with the whole pool's windows (what it
 * would take in). Peers one by one may each be too thin to tell from this replica; a hundred thin
 * healthy peers together are not, and must not dilute a replica that fails alone.
 */
export const agreeingPool = (policy: FleetPolicy, local: ReadonlyMap<string, Tally>, peers: ReadonlyArray<PeerReport>): PeerReport[] => {
  const mine = badShare(local)
  const candidates = peers
    .filter((p) => p.evidence.length > 0)
    .map((p) => ({ peer: p, tallies: windowTallies(p.evidence) }))
    .map((c) => ({ ...c, distance: Math.abs(badShare(c.tallies) - mine) }))
    .sort((a, b) => a.distance - b.distance || (a.peer.replica < b.peer.replica ? -1 : 1))
  const pool: PeerReport[] = []
  let pooled = new Map<string, Tally>()
  for (const c of candidates) {
    const next = addTallies(pooled, c.tallies)
    // The first peer that breaks the agreement ends the pool: skipping it and going on would let
    // in peers on both sides whose mix averages out to this replica's share.
    if (compareTallies(local, next, policy.significance) !== 'agrees') break
    pool.push(c.peer)
    pooled = next
  }
  return pool
}
