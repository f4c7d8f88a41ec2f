/**
 * The fleet protocol's in-memory transport, for the simulator: what Redis holds for fleet mode
 * (each replica's windows and status, per breaker, and the recovery lease), in a map, with the
 * same semantics as `@datapunk/breaker-redis`'s round: write this replica's plan, read every
 * peer, take, watch or give back the lease. Synchronous and deterministic.
 */
import type { Evidence, PeerReport, PeerStatus, RoundPlan, RoundReply } from '@datapunk/breaker'

interface Lease {
  readonly holder: string
  readonly until: number
  readonly share: number
}

interface Entry {
  readonly evidence: Map<string, ReadonlyArray<Evidence>>
  readonly status: Map<string, PeerStatus>
  lease: Lease | null
}

/** One store shared by every replica of a simulated fleet. */
export class MemoryFleet {
  private readonly breakers = new Map<string, Entry>()

  constructor(private readonly leaseMs: number) {}

  private entry(name: string): Entry {
    let entry = this.breakers.get(name)
    if (entry === undefined) {
      entry = { evidence: new Map(), status: new Map(), lease: null }
      this.breakers.set(name, entry)
    }
    return entry
  }

  /**
   * One replica's round for one breaker: its plan written, the peers and the lease read.
   *
   * @example
   * import { MemoryFleet } from '@datapunk/breaker-sim'
   * const fleet = new MemoryFleet(1000)
   * const plan = { publish: null, generation: 0, lease: { kind: 'take', share: 0 }, status: { active: true, fleetOpened: false, at: 0 }, evidence: [], tripEvidence: [], tripTally: null } as const
   * fleet.round('upstream', 'a', plan, 0).lease // { holder: 'self' }
   * fleet.round('upstream', 'b', plan, 10).lease // { holder: 'other', share: 0 }
   */
  round(name: string, replica: string, plan: RoundPlan, now: number): RoundReply {
    const entry = this.entry(name)
    if (plan.evidence.length === 0) entry.evidence.delete(replica)
    else entry.evidence.set(replica, plan.evidence)
    entry.status.set(replica, plan.status)
    const live = entry.lease !== null && entry.lease.until > now ? entry.lease : null
    let lease: RoundReply['lease'] = null
    const request = plan.lease
    if (request?.kind === 'take') {
      if (live === null || live.holder === replica) {
        entry.lease = { holder: replica, until: now + this.leaseMs, share: request.share }
        lease = { holder: 'self' }
      } else lease = { holder: 'other', share: live.share }
    } else if (request?.kind === 'watch') {
      lease = live === null ? { holder: 'none' } : live.holder === replica ? { holder: 'self' } : { holder: 'other', share: live.share }
    } else if (request?.kind === 'release') {
      if (live?.holder === replica) entry.lease = null
      lease = { holder: 'none' }
    }
    const peers: PeerReport[] = []
    for (const [peer, status] of entry.status)
      if (peer !== replica) peers.push({ replica: peer, evidence: entry.evidence.get(peer) ?? [], status })
    return { peers, lease }
  }

  /** A replica leaves: its windows, status and lease go. */
  leave(name: string, replica: string): void {
    const entry = this.breakers.get(name)
    if (entry === undefined) return
    entry.evidence.delete(replica)
    entry.status.delete(replica)
    if (entry.lease?.holder === replica) entry.lease = null
  }
}
