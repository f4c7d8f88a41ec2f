/**
 * One round of fleet mode over Redis: for every breaker in use, the core's `planRound` says what
 * to write and ask; everything goes on one pipeline; the replies become each breaker's
 * `RoundReply` for `absorbRound`. Redis is the transport here; the protocol is the core's.
 */
import {
  absorbRound,
  type Evidence,
  type EvidenceBucket,
  type FleetMember,
  type FleetNote,
  type FleetPolicy,
  type LeaseReply,
  type LocalView,
  type PeerReport,
  type PeerStatus,
  planRound,
  type RoundPlan,
} from '@datapunk/breaker'
import type { Breaker } from '@datapunk/breaker-runtime'
import type { ChainableCommander, Redis } from 'ioredis'
import { formatStatus, parseCounts, parseLease, parseShare, parseStatus, RELEASE, shortHash, TAKE, WATCH } from './wire.js'

/** What fleet mode keeps per breaker. */
export interface Watched {
  readonly breaker: Breaker
  /**
   * The breaker's name in the fleet, the same on every replica: its name, and for a keyed group's
   * breaker its key too (`name/key`), since a group's breakers share their circuit's name.
   */
  readonly id: string
  /** By key base: what this replica wrote of each detector's window, by epoch. */
  readonly written: Map<string, { readonly key: string; readonly epochs: Map<number, string> }>
  member: FleetMember
}

/** What a round needs from its attachment. */
export interface RoundContext {
  readonly redis: Redis
  readonly prefix: string
  readonly replicaId: string
  readonly policy: FleetPolicy
  readonly channel: string
  /** Records a value in Redis that was not fleet mode's (counted, reported, logged). */
  bad(key: string, text: string): void
  /** Hands a breaker's outcome notes to the attachment. */
  noted(watch: Watched, notes: ReadonlyArray<FleetNote>): void
}

/** What a round reports. */
export interface RoundResult {
  readonly breakers: number
  readonly fleetCalls: number
}

/** The hash-tagged base of a breaker's keys (one Redis Cluster slot per breaker). */
export const baseOf = (prefix: string, name: string): string => `${prefix}{${encodeURIComponent(name)}}`

/** The local view the protocol reads of a breaker. */
export const viewOf = (breaker: Breaker): LocalView => ({
  snapshot: breaker.snapshot(),
  share: breaker.strategy.share?.(breaker.state) ?? [],
  requests: breaker.lastCall,
})

/** A pipeline that remembers which key each command touched, by position. */
class Batch {
  readonly pipeline: ChainableCommander
  readonly touched: string[] = []
  constructor(redis: Redis) {
    this.pipeline = redis.pipeline()
  }
  queue(key: string, add: (p: ChainableCommander) => void): number {
    add(this.pipeline)
    this.touched.push(key)
    return this.touched.length - 1
  }
}

interface Reads {
  readonly watch: Watched
  readonly plan: RoundPlan
  readonly member: FleetMember
  readonly status: number
  readonly lease: number | null
  readonly buckets: ReadonlyArray<{ readonly evidence: Evidence; readonly key: string; readonly epoch: number; readonly at: number }>
  readonly commit: Array<() => void>
}

/** Queues this replica's window writes (what changed) and every bucket's read, for one breaker. */
const queueWindows = (
  ctx: RoundContext,
  batch: Batch,
  watch: Watched,
  windows: ReadonlyArray<Evidence>,
  base: string,
  now: number,
  commit: Array<() => void>,
): Reads['buckets'] => {
  const buckets: Array<{ evidence: Evidence; key: string; epoch: number; at: number }> = []
  const seen = new Set<string>()
  for (const e of windows) {
    const keyBase = `${base}:${shortHash(e.key)}:${e.bucketMs}x${e.span}`
    seen.add(keyBase)
    let written = watch.written.get(keyBase)
    if (written === undefined) {
      written = { key: keyBase, epochs: new Map() }
      watch.written.set(keyBase, written)
    }
    const w = written
    const newest = Math.floor(now / e.bucketMs)
    const mine = new Map(e.buckets.map((b) => [b[0], b] as const))
    const ttl = (e.span + 1) * e.bucketMs
    for (let epoch = newest - e.span + 1; epoch <= newest; epoch++) {
      const key = `${keyBase}:${epoch}`
      const b = mine.get(epoch)
      const value = b === undefined || b[1] === 0 ? undefined : `${b[1]},${b[2]},${b[3]}`
      const before = w.epochs.get(epoch)
      if (value !== undefined && value !== before) {
        batch.queue(key, (p) => p.hset(key, ctx.replicaId, value))
        batch.queue(key, (p) => p.pexpire(key, ttl))
        commit.push(() => w.epochs.set(epoch, value))
      } else if (value === undefined && before !== undefined) {
        batch.queue(key, (p) => p.hdel(key, ctx.replicaId))
        commit.push(() => w.epochs.delete(epoch))
      }
      buckets.push({ evidence: e, key, epoch, at: batch.queue(key, (p) => p.hgetall(key)) })
    }
    // Epochs that left the window need no delete: their keys expire.
    for (const epoch of w.epochs.keys()) if (epoch <= newest - e.span) w.epochs.delete(epoch)
  }
  // A detector that stopped sharing (the circuit left closed): withdraw its counts.
  for (const [keyBase, written] of watch.written)
    if (!seen.has(keyBase)) {
      for (const epoch of written.epochs.keys()) batch.queue(`${keyBase}:${epoch}`, (p) => p.hdel(`${keyBase}:${epoch}`, ctx.replicaId))
      watch.written.delete(keyBase)
    }
  return buckets
}

/** Queues one breaker's writes and reads. */
const queueBreaker = (ctx: RoundContext, batch: Batch, watch: Watched): Reads => {
  const { breaker } = watch
  const now = breaker.clock.now()
  const { member, plan } = planRound(ctx.policy, watch.member, viewOf(breaker), now)
  const base = baseOf(ctx.prefix, watch.id)
  const commit: Array<() => void> = []
  if (plan.publish !== null) {
    // A trip carries the windows (or counts) it tripped on: the others judge it on them.
    const text = JSON.stringify({
      v: 1,
      event: plan.publish,
      breaker: watch.id,
      replica: ctx.replicaId,
      ...(plan.tripEvidence.length > 0 ? { evidence: plan.tripEvidence } : {}),
      ...(plan.tripTally === null ? {} : { tally: plan.tripTally }),
    })
    batch.queue(ctx.channel, (p) => p.publish(ctx.channel, text))
  }
  const replicas = `${base}:replicas`
  batch.queue(replicas, (p) => p.hset(replicas, ctx.replicaId, formatStatus(plan.status)))
  batch.queue(replicas, (p) => p.pexpire(replicas, ctx.policy.leaseMs * 4))
  const status = batch.queue(replicas, (p) => p.hgetall(replicas))
  let lease: number | null = null
  if (plan.lease !== null) {
    const keys = [`${base}:lead`, `${base}:share`, replicas] as const
    const request = plan.lease
    const lease_ = String(ctx.policy.leaseMs)
    lease =
      request.kind === 'release'
        ? batch.queue(keys[0], (p) => p.eval(RELEASE, 2, keys[0], keys[1], ctx.replicaId))
        : batch.queue(keys[0], (p) =>
            p.eval(
              request.kind === 'take' ? TAKE : WATCH,
              3,
              ...keys,
              ctx.replicaId,
              lease_,
              request.kind === 'take' ? request.share.toFixed(6) : '0',
            ),
          )
  }
  const buckets = queueWindows(ctx, batch, watch, plan.evidence, base, now, commit)
  return { watch, plan, member, status, lease, buckets, commit }
}

type Results = ReadonlyArray<[Error | null, unknown]>

/** The lease reply, or `null` (none asked, or a reply that is not ours: reported as bad data). */
const leaseOf = (ctx: RoundContext, r: Reads, results: Results, touched: ReadonlyArray<string>): LeaseReply | null => {
  if (r.lease === null) return null
  const [error, reply] = results[r.lease] ?? [new Error('no reply'), null]
  const key = touched[r.lease] ?? '?'
  if (r.plan.lease?.kind === 'release') return error === null ? { holder: 'none' } : null
  const parsed = error === null ? parseLease(reply) : undefined
  if (parsed === undefined) {
    ctx.bad(key, error === null ? `an unexpected lease reply: ${JSON.stringify(reply).slice(0, 80)}` : error.message)
    return null
  }
  if (parsed.foreign) ctx.bad(key, 'a lease holder that is not a replica of this fleet (no expiry, too long a one, or no status): ignored')
  if (parsed.code === 1) return { holder: 'self' }
  if (parsed.code === 2) return { holder: 'none' }
  const share = parseShare(parsed.share)
  if (share === undefined)
    ctx.bad(`${key.slice(0, -5)}:share`, `a share that is not in [0, 1]: ${JSON.stringify(parsed.share).slice(0, 40)}`)
  return { holder: 'other', share: share ?? 0 }
}

/** Every peer's status and windows, from the replies. */
const peersOf = (ctx: RoundContext, r: Reads, results: Results, touched: ReadonlyArray<string>): { peers: PeerReport[]; calls: number } => {
  const statuses = new Map<string, PeerStatus>()
  const [statusError, statusReply] = results[r.status] ?? [new Error('no reply'), null]
  if (statusError !== null || typeof statusReply !== 'object' || statusReply === null)
    ctx.bad(touched[r.status] ?? '?', statusError === null ? 'not a hash' : statusError.message)
  else
    for (const [field, text] of Object.entries(statusReply as Record<string, unknown>)) {
      if (field === ctx.replicaId) continue
      const status = parseStatus(text)
      if (status === undefined)
        ctx.bad(
          touched[r.status] ?? '?',
          `field ${JSON.stringify(field).slice(0, 80)} holds ${JSON.stringify(text).slice(0, 80)}, not a status`,
        )
      else statuses.set(field, status)
    }
  // By replica, by detector key: its buckets.
  const windows = new Map<string, Map<string, { evidence: Evidence; buckets: EvidenceBucket[] }>>()
  let calls = 0
  for (const read of r.buckets) {
    const [error, value] = results[read.at] ?? [new Error('no reply'), null]
    if (error !== null || typeof value !== 'object' || value === null) {
      ctx.bad(read.key, error === null ? 'not a hash' : error.message)
      continue
    }
    for (const [field, text] of Object.entries(value as Record<string, unknown>)) {
      if (field === ctx.replicaId) continue
      const counts = parseCounts(text)
      if (counts === undefined) {
        ctx.bad(
          read.key,
          `field ${JSON.stringify(field).slice(0, 80)} holds ${JSON.stringify(text).slice(0, 80)}, not "calls,failures,slow"`,
        )
        continue
      }
      if (counts[0] === 0) continue
      let byKey = windows.get(field)
      if (byKey === undefined) {
        byKey = new Map()
        windows.set(field, byKey)
      }
      let w = byKey.get(read.evidence.key)
      if (w === undefined) {
        w = { evidence: read.evidence, buckets: [] }
        byKey.set(read.evidence.key, w)
      }
      w.buckets.push([read.epoch, counts[0], counts[1], counts[2]])
      calls += counts[0]
    }
  }
  const peers: PeerReport[] = []
  for (const replica of new Set([...statuses.keys(), ...windows.keys()])) {
    const evidence = [...(windows.get(replica)?.values() ?? [])].map(({ evidence: e, buckets }) => ({
      key: e.key,
      bucketMs: e.bucketMs,
      span: e.span,
      buckets: buckets.sort((a, b) => a[0] - b[0]),
    }))
    peers.push({ replica, evidence, status: statuses.get(replica) ?? null })
  }
  return { peers, calls }
}

/**
 * Runs one round over `watched` (breakers not used yet are left out). Rejects when Redis did not
 * answer at all; a reply that is not fleet mode's is bad data, not a failure.
 */
export const runRound = async (ctx: RoundContext, watched: Iterable<Watched>): Promise<RoundResult> => {
  const batch = new Batch(ctx.redis)
  const all: Reads[] = []
  for (const watch of watched) if (!watch.breaker.pristine) all.push(queueBreaker(ctx, batch, watch))
  // Nothing to write or read (every breaker idle): still find out whether Redis answers.
  if (all.length === 0) {
    await ctx.redis.ping()
    return { breakers: 0, fleetCalls: 0 }
  }
  const results = (await batch.pipeline.exec()) as Results | null
  if (results === null) throw new Error('the pipeline was discarded')
  if (results.every(([error]) => error !== null)) throw results[0]?.[0]
  const replies = new Set(all.flatMap((r) => [r.status, ...(r.lease === null ? [] : [r.lease]), ...r.buckets.map((b) => b.at)]))
  // A write that failed on a key of another type (someone else's data) is bad data, not an outage.
  results.forEach(([error], i) => {
    if (error !== null && !replies.has(i)) ctx.bad(batch.touched[i] ?? '?', error.message)
  })
  let fleetCalls = 0
  for (const r of all) {
    for (const done of r.commit) done()
    const lease = leaseOf(ctx, r, results, batch.touched)
    const { peers, calls } = peersOf(ctx, r, results, batch.touched)
    fleetCalls += calls
    const { breaker } = r.watch
    const outcome = absorbRound(ctx.policy, r.member, r.plan, { peers, lease }, viewOf(breaker), breaker.clock.now())
    r.watch.member = outcome.member
    for (const event of outcome.events) breaker.dispatch(event)
    ctx.noted(r.watch, outcome.notes)
  }
  return { breakers: all.length, fleetCalls }
}
