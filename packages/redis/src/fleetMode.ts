/**
 * Fleet mode: the replicas of a service share what their breakers see through Redis, and each
 * still decides alone. Nothing here is on the call path: a timer (every `syncMs`) runs one
 * pipelined round trip per round, which
 * - writes this replica's window counts and reads the rest of the fleet's, handed to each breaker
 *   as an event (`BreakerEvent.evidence`);
 * - publishes the trips and recoveries seen since the last round (the other replicas get
 *   `BreakerEvent.peerTripped()` / `peerRecovered()`);
 * - elects, per breaker that is not closed, one replica to lead the recovery (a lease with expiry):
 *   the leader probes by its own recovery policy, the others follow (`BreakerEvent.follow`) at the
 *   share the leader offers: none for classic half-open, the ramp for gradual recovery.
 * When Redis is slow, down or holds junk, calls never notice: breakers fall back to local
 * evidence and local recovery until Redis is back.
 *
 * Layout in Redis (every key of a breaker shares the hash tag `{name}`, so it lives in one slot):
 * - `<prefix>{<name>}:<detector>:<epoch>`: a hash per bucket of a detector's window, one field per
 *   replica holding `"calls,failures,slow"`, written as absolute values (a retry or a resync
 *   writes the same thing again; nothing double counts), expiring one window after its bucket.
 * - `<prefix>{<name>}:lead` (the leading replica's id) and `<prefix>{<name>}:share` (the share it
 *   offers), both expiring unless the leader renews them.
 * - `<prefix>events`: the channel trips and recoveries are published on, as JSON
 *   `{ v: 1, event: 'tripped' | 'recovered', breaker, replica }`.
 */
import { hostname } from 'node:os'
import { BreakerEvent, type Evidence, type EvidenceBucket, type Snapshot } from '@datapunk/breaker'
import {
  type Breaker,
  type BreakerSource,
  Channel,
  type Clock,
  type EventStream,
  monotonicClock,
  watchBreakers,
} from '@datapunk/breaker-runtime'
import { type ChainableCommander, Redis, type RedisOptions } from 'ioredis'

// ---- model -------------------------------------------------------------------------------

/** Where errors go (a pino logger fits: `error(object, message)`). */
export interface FleetLogger {
  error(details: object, message: string): void
}

/** Options of {@link fleetMode}. */
export interface FleetOptions {
  /** How to reach Redis: a `redis://` URL or ioredis options (fleet mode makes its own two connections). */
  readonly redis: string | RedisOptions
  /** Prefix of every key and of the channel. Default `'breaker:'`. */
  readonly prefix?: string
  /** This replica's name in Redis (unique in the fleet). Default `<hostname>:<pid>:<random>`. */
  readonly replicaId?: string
  /** How often a round runs, in ms: 10 to 60,000. Default 250. */
  readonly syncMs?: number
  /** Share window counts (default `true`). */
  readonly shareEvidence?: boolean
  /** Publish trips and recoveries, and follow the others' (default `true`). */
  readonly shareTrips?: boolean
  /** One replica leads each recovery, the others follow it (default `true`). */
  readonly shareRecovery?: boolean
  /** Reconnect backoff: doubling from `minMs` (default 100) up to `maxMs` (default 5000), with jitter. */
  readonly reconnect?: { readonly minMs?: number; readonly maxMs?: number }
  /** Where errors (Redis down, bad data) are logged. Default: `console.error`. */
  readonly logger?: FleetLogger
  /**
   * The clock of the attachment's own times (events' `at`, `lastSyncAt`, how often junk is
   * logged). Default: the breakers' default clock. Buckets are numbered on each breaker's own.
   */
  readonly clock?: Clock
}

/** What fleet mode reports, as it happens. */
export type FleetEvent =
  /** Rounds started or stopped reaching Redis (`error` says why). Unhealthy, breakers decide and recover locally. */
  | { readonly _tag: 'SyncHealthChanged'; readonly at: number; readonly healthy: boolean; readonly error?: string }
  /** A round finished: `breakers` synced, `fleetCalls` the other replicas' calls absorbed in all windows. */
  | { readonly _tag: 'Synced'; readonly at: number; readonly breakers: number; readonly fleetCalls: number; readonly durationMs: number }
  /** A value in Redis was not ours to read (corrupt, foreign, of another type): ignored. */
  | { readonly _tag: 'BadData'; readonly at: number; readonly key: string; readonly message: string }
  /** This replica published a trip or a recovery of one of its breakers. */
  | { readonly _tag: 'Published'; readonly at: number; readonly breaker: string; readonly event: 'tripped' | 'recovered' }
  /** Another replica tripped or recovered: this replica's breaker of the same name was told. */
  | {
      readonly _tag: 'PeerEvent'
      readonly at: number
      readonly breaker: string
      readonly replica: string
      readonly event: 'tripped' | 'recovered'
    }
  /** This replica started or stopped leading the recovery of a breaker. */
  | { readonly _tag: 'LeadChanged'; readonly at: number; readonly breaker: string; readonly leading: boolean }

/** Counters of one attachment, for health checks and tests. */
export interface FleetHealth {
  /** Whether the last round reached Redis (`false` before the first one does). */
  readonly healthy: boolean
  readonly syncs: number
  readonly failedSyncs: number
  /** When the last round succeeded (on the attachment's `clock`), or `null`. */
  readonly lastSyncAt: number | null
  /** Values in Redis ignored as bad data. */
  readonly badData: number
  /** Trips and recoveries this replica published. */
  readonly published: number
  /** Trips and recoveries of other replicas this replica's breakers were told of. */
  readonly peerEvents: number
  /** Breakers whose recovery this replica leads now. */
  readonly leading: number
}

/** An attachment: `detach()` stops syncing, withdraws this replica's evidence and leases (best effort) and closes its connections. */
export interface FleetAttachment {
  readonly replicaId: string
  readonly events$: EventStream<FleetEvent>
  health(): FleetHealth
  /** Runs one round that starts after this call (after the one under way, if any; the timer runs them anyway); resolves when it is done, never rejects. */
  sync(): Promise<void>
  detach(): Promise<void>
}

// ---- helpers -----------------------------------------------------------------------------

const TRIP_REASONS = new Set(['tripped', 'recovery-failed'])

/** Take or renew the lead of a recovery: `[1, share]` for the leader, else `[0, the leader's share]`. */
const LEAD = `local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
  return {1, ARGV[3]}
end
return {0, redis.call('GET', KEYS[2]) or '0'}`

/** Give the lead back, if it is still ours. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1], KEYS[2]) end
return 0`

/** A short stable name for a detector key (FNV-1a, 32 bits, hex). */
const shortHash = (text: string): string => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0).toString(16).padStart(8, '0')
}

const COUNTS = /^(\d{1,15}),(\d{1,15}),(\d{1,15})$/

/** Parses `"calls,failures,slow"`; `undefined` for anything else. */
const parseCounts = (value: unknown): readonly [number, number, number] | undefined => {
  if (typeof value !== 'string') return undefined
  const m = COUNTS.exec(value)
  if (m === null) return undefined
  const calls = Number(m[1])
  const failures = Number(m[2])
  const slow = Number(m[3])
  return failures <= calls && slow <= calls ? [calls, failures, slow] : undefined
}

/** A share as Redis holds it: a number in [0, 1], or `undefined`. */
const parseShare = (value: unknown): number | undefined => {
  const n = typeof value === 'string' && /^(0|1|0?\.\d{1,9}|1\.0+)$/.test(value) ? Number(value) : Number.NaN
  return n >= 0 && n <= 1 ? n : undefined
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const consoleLogger: FleetLogger = {
  // biome-ignore lint/suspicious/noConsole: the logger of last resort, when the user gives none
  error: (details, text) => console.error(`[breaker-redis] ${text}`, details),
}

/** A recovery this replica may take part in: open for a duration, or half-open, in mode normal. */
const recovering = (s: Snapshot): boolean =>
  s.mode === 'normal' && (s.state === 'half-open' || (s.state === 'open' && s.openUntil !== null))

/** One detector's window as this replica last wrote it. */
interface Written {
  readonly key: string
  readonly epochs: Map<number, string>
}

interface Watched {
  readonly breaker: Breaker
  /** By key base: what this replica wrote of each detector's window. */
  readonly written: Map<string, Written>
  /** Whether the breaker holds fleet evidence (a failed round must take it back). */
  absorbed: boolean
  /** The generation last looked at (phases entered since are published). */
  generation: number
  /** The share last told to the breaker (`null`: it recovers by itself, alone or leading). */
  following: number | null
  leading: boolean
}

// ---- constructor -------------------------------------------------------------------------

/**
 * Attaches fleet mode to a breaker or a breaker group: replicas that use the same breaker names
 * and the same Redis share their time-window evidence, their trips and their recoveries. Each
 * replica's breakers still decide alone, on their own counts plus the fleet's (see `Evidence` in
 * the core); only time-window detectors (failure rate, failure count, slow-call rate over
 * `{ kind: 'time' }`) share counts, and any strategy shares trips. While Redis is healthy, one
 * replica leads each recovery and the others follow it, so the fleet sends the probes of one
 * replica (classic) or ramps as one (gradual).
 *
 * Calls never wait on Redis: rounds run on a timer, with no offline queue (a command fails at once
 * while Redis is down), at most one round in flight, and reconnection with backoff. While Redis is
 * unreachable the breakers fall back to their own evidence and their own recovery; when it returns,
 * the next round writes this replica's whole window again (resync). Bad values in Redis are logged
 * and ignored. The replicas' clocks must agree to well within a bucket (the default clock reads
 * wall time; NTP is enough). Trips reach the other replicas within a round (`syncMs`) and the
 * network's latency.
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { createBreaker } from '@datapunk/breaker-runtime'
 * import { fleetMode } from '@datapunk/breaker-redis'
 * const breaker = createBreaker(
 *   circuit({ trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 20, window: { kind: 'time', durationMs: 10_000, buckets: 10 } } }),
 *   { name: 'payments' },
 * )
 * const fleet = fleetMode(breaker, { redis: 'redis://127.0.0.1:1', reconnect: { minMs: 1000 }, logger: { error: () => {} } })
 * await fleet.sync() // Redis is not there: the breaker keeps deciding on its own evidence
 * const healthy = fleet.health().healthy
 * await fleet.detach()
 * healthy // false
 */
export const fleetMode = <K>(source: BreakerSource<K>, options: FleetOptions): FleetAttachment => {
  const prefix = options.prefix ?? 'breaker:'
  const syncMs = options.syncMs ?? 250
  if (!(Number.isInteger(syncMs) && syncMs >= 10 && syncMs <= 60_000))
    throw new RangeError(`fleetMode: syncMs must be an integer from 10 to 60000, got ${String(syncMs)}`)
  if (typeof prefix !== 'string') throw new TypeError(`fleetMode: prefix must be a string, got ${typeof prefix}`)
  const replicaId = options.replicaId ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`
  if (typeof replicaId !== 'string' || replicaId.length === 0) throw new TypeError('fleetMode: replicaId must be a non-empty string')
  const minMs = options.reconnect?.minMs ?? 100
  const maxMs = options.reconnect?.maxMs ?? 5000
  if (!(minMs >= 1 && maxMs >= minMs))
    throw new RangeError(`fleetMode: reconnect needs 1 <= minMs <= maxMs, got minMs ${minMs}, maxMs ${maxMs}`)
  const shareEvidence = options.shareEvidence ?? true
  const shareTrips = options.shareTrips ?? true
  const shareRecovery = options.shareRecovery ?? true
  const logger = options.logger ?? consoleLogger
  const channel = `${prefix}events`
  const clock = options.clock ?? monotonicClock
  const now = (): number => clock.now()
  // A lead outlives a few missed rounds of its holder, and no more.
  const leaseMs = Math.max(1000, syncMs * 4)

  const clientOptions: RedisOptions = {
    // Fail fast while disconnected: a command never queues behind a dead connection.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: Math.max(1000, syncMs * 4),
    commandTimeout: Math.max(500, syncMs * 4),
    autoResubscribe: false,
    retryStrategy: (times) => Math.min(maxMs, minMs * 2 ** Math.min(times - 1, 20)) * (0.75 + Math.random() * 0.5),
  }
  // (Cast: ioredis 6 declares `replyMapping?: ReplyMappingMode` in a way that `exactOptionalPropertyTypes` rejects.)
  const connect = (): Redis =>
    typeof options.redis === 'string'
      ? new Redis(options.redis, clientOptions as never)
      : new Redis({ ...options.redis, ...clientOptions } as never)
  const redis = connect()
  const subscriber = shareTrips ? connect() : undefined

  const events = new Channel<FleetEvent>()
  const watched = new Map<Breaker, Watched>()
  const byName = new Map<string, Breaker>()
  let healthy = false
  let syncs = 0
  let failedSyncs = 0
  let lastSyncAt: number | null = null
  let badData = 0
  let published = 0
  let peerEvents = 0
  let running: Promise<void> | undefined
  /** The round to run once the running one is done, for callers who asked while it ran. */
  let next: Promise<void> | undefined
  let detached = false

  const emit = (event: FleetEvent): void => events.next(event)
  // Junk that stays in Redis is met every round: counted and reported each time, logged once a
  // minute per key (the map forgets keys not logged for a minute, so it stays small).
  const loggedAt = new Map<string, number>()
  const bad = (key: string, text: string): void => {
    badData++
    const at = now()
    emit({ _tag: 'BadData', at, key, message: text })
    if (at - (loggedAt.get(key) ?? Number.NEGATIVE_INFINITY) < 60_000) return
    if (loggedAt.size >= 1000) for (const [k, t] of loggedAt) if (at - t >= 60_000) loggedAt.delete(k)
    loggedAt.set(key, at)
    logger.error({ key, replica: replicaId }, `ignored bad data in Redis: ${text}`)
  }
  const setHealthy = (ok: boolean, error?: unknown): void => {
    if (ok === healthy) return
    healthy = ok
    if (!ok) logger.error({ replica: replicaId, error: message(error) }, 'Redis unreachable: breakers decide and recover on their own')
    emit(
      ok
        ? { _tag: 'SyncHealthChanged', at: now(), healthy: true }
        : { _tag: 'SyncHealthChanged', at: now(), healthy: false, error: message(error) },
    )
  }
  // A share is told every round (the breaker ignores a repeat, and resets the share to 0 itself on
  // entering open or closed, so no cached value could be trusted); recovering alone only once.
  const follow = (watch: Watched, share: number | null): void => {
    if (share === null && watch.following === null) return
    watch.following = share
    watch.breaker.dispatch(BreakerEvent.follow(share))
  }
  const setLeading = (watch: Watched, leading: boolean): void => {
    if (watch.leading === leading) return
    watch.leading = leading
    emit({ _tag: 'LeadChanged', at: now(), breaker: watch.breaker.name, leading })
  }

  // Connection errors are reported through health; without a listener ioredis would raise them as
  // unhandled 'error' events and crash the process.
  redis.on('error', () => {})
  // A (re)connected Redis may have lost everything: write the whole window again.
  redis.on('ready', () => {
    for (const w of watched.values()) w.written.clear()
  })
  if (subscriber !== undefined) {
    subscriber.on('error', () => {})
    subscriber.on('ready', () => {
      subscriber.subscribe(channel).catch((error: unknown) => logger.error({ error: message(error) }, 'could not subscribe'))
    })
    subscriber.on('message', (_channel: string, text: string) => {
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch {
        bad(channel, `a message that is not JSON: ${text.slice(0, 80)}`)
        return
      }
      const { breaker: name, replica, event } = (parsed ?? {}) as { breaker?: unknown; replica?: unknown; event?: unknown }
      if (typeof name !== 'string' || typeof replica !== 'string' || (event !== 'tripped' && event !== 'recovered')) {
        bad(channel, `a message without breaker, replica and event: ${text.slice(0, 80)}`)
        return
      }
      if (replica === replicaId) return
      const breaker = byName.get(name)
      if (breaker === undefined) return
      peerEvents++
      breaker.dispatch(event === 'tripped' ? BreakerEvent.peerTripped() : BreakerEvent.peerRecovered())
      emit({ _tag: 'PeerEvent', at: now(), breaker: name, replica, event })
    })
  }

  const base = (name: string): string => `${prefix}{${encodeURIComponent(name)}}`

  /** One round: everything queued on one pipeline, then the replies handed out. */
  const round = async (): Promise<void> => {
    const started = now()
    const pipeline = redis.pipeline()
    /** The key each queued command touches, by position (replies come back in that order). */
    const touched: string[] = []
    const queue = (key: string, add: (p: ChainableCommander) => void): number => {
      add(pipeline)
      touched.push(key)
      return touched.length - 1
    }
    const reads: Array<{
      readonly watch: Watched
      readonly evidence: Evidence
      readonly key: string
      readonly epoch: number
      readonly at: number
    }> = []
    const leads: Array<{ readonly watch: Watched; readonly at: number }> = []
    const afterwards: Array<() => void> = []
    const plans: Array<{ readonly watch: Watched; readonly shared: ReadonlyArray<Evidence> }> = []

    for (const watch of watched.values()) {
      const { breaker } = watch
      // A breaker nobody has used yet has nothing to share and nothing to recover: leave it light.
      if (breaker.pristine) continue
      const name = breaker.name
      const snapshot = breaker.snapshot()

      // Trips and recoveries since the last round.
      if (snapshot.generation !== watch.generation) {
        // Marked as seen only once the round got through: a trip is not lost to a Redis outage.
        const generation = snapshot.generation
        afterwards.push(() => {
          watch.generation = generation
        })
        const event =
          snapshot.state === 'open' && TRIP_REASONS.has(snapshot.reason)
            ? 'tripped'
            : snapshot.state === 'closed' && snapshot.reason === 'recovered'
              ? 'recovered'
              : undefined
        if (shareTrips && event !== undefined) {
          queue(channel, (p) => p.publish(channel, JSON.stringify({ v: 1, event, breaker: name, replica: replicaId })))
          afterwards.push(() => {
            published++
            emit({ _tag: 'Published', at: now(), breaker: name, event })
          })
        }
      }

      // Who leads the recovery: take or renew the lead, or learn the leader's share.
      if (shareRecovery) {
        if (recovering(snapshot)) {
          const rate = snapshot.state === 'half-open' && watch.following === null ? (snapshot.recovery?.fleetRate ?? 0) : 0
          // Six decimals: a ramp moves in parts per million; anything else a recovery reports is clamped.
          const offered = (rate >= 0 && rate <= 1 ? rate : rate > 1 ? 1 : 0).toFixed(6)
          const lead = `${base(name)}:lead`
          leads.push({
            watch,
            at: queue(lead, (p) => p.eval(LEAD, 2, lead, `${base(name)}:share`, replicaId, String(leaseMs), offered)),
          })
        } else {
          if (watch.leading) {
            const lead = `${base(name)}:lead`
            queue(lead, (p) => p.eval(RELEASE, 2, lead, `${base(name)}:share`, replicaId))
            setLeading(watch, false)
          }
          // Between recoveries every breaker waits for the fleet's word (forced open, isolated or
          // disabled included: the instruction only matters once a recovery starts).
          afterwards.push(() => follow(watch, 0))
        }
      }

      // Evidence: write what changed of this replica's windows, read everyone's.
      const shared = shareEvidence ? (breaker.strategy.share?.(breaker.state) ?? []) : []
      const breakerNow = breaker.clock.now()
      const seen = new Set<string>()
      for (const e of shared) {
        const keyBase = `${base(name)}:${shortHash(e.key)}:${e.bucketMs}x${e.span}`
        seen.add(keyBase)
        let written = watch.written.get(keyBase)
        if (written === undefined) {
          written = { key: keyBase, epochs: new Map() }
          watch.written.set(keyBase, written)
        }
        const w = written
        const newest = Math.floor(breakerNow / e.bucketMs)
        const mine = new Map(e.buckets.map((b) => [b[0], b] as const))
        const ttl = (e.span + 1) * e.bucketMs
        for (let epoch = newest - e.span + 1; epoch <= newest; epoch++) {
          const key = `${keyBase}:${epoch}`
          const b = mine.get(epoch)
          const value = b === undefined || b[1] === 0 ? undefined : `${b[1]},${b[2]},${b[3]}`
          const before = w.epochs.get(epoch)
          if (value !== undefined && value !== before) {
            queue(key, (p) => p.hset(key, replicaId, value))
            queue(key, (p) => p.pexpire(key, ttl))
            afterwards.push(() => w.epochs.set(epoch, value))
          } else if (value === undefined && before !== undefined) {
            queue(key, (p) => p.hdel(key, replicaId))
            afterwards.push(() => w.epochs.delete(epoch))
          }
          reads.push({ watch, evidence: e, key, epoch, at: queue(key, (p) => p.hgetall(key)) })
        }
        // Epochs that left the window need no delete: their keys expire.
        for (const epoch of w.epochs.keys()) if (epoch <= newest - e.span) w.epochs.delete(epoch)
      }
      // A detector that stopped sharing (the circuit left closed): withdraw its counts.
      for (const [keyBase, written] of watch.written)
        if (!seen.has(keyBase)) {
          for (const epoch of written.epochs.keys()) queue(`${keyBase}:${epoch}`, (p) => p.hdel(`${keyBase}:${epoch}`, replicaId))
          watch.written.delete(keyBase)
        }
      plans.push({ watch, shared })
    }
    // Nothing to write or read (every breaker idle): still find out whether Redis answers.
    if (touched.length === 0) {
      await redis.ping()
      return
    }
    const results = await pipeline.exec()
    if (results === null) throw new Error('the pipeline was discarded')
    if (results.every(([error]) => error !== null)) throw results[0]?.[0]
    const replyAt = new Set([...reads.map((r) => r.at), ...leads.map((l) => l.at)])
    // A write that failed on a key of another type (someone else's data) is bad data, not an outage.
    results.forEach(([error], i) => {
      if (error !== null && !replyAt.has(i)) bad(touched[i] ?? '?', message(error))
    })
    for (const done of afterwards) done()

    for (const { watch, at } of leads) {
      const [error, reply] = results[at] ?? [new Error('no reply'), null]
      const [leading, share] = Array.isArray(reply) ? reply : []
      if (error !== null || (leading !== 0 && leading !== 1)) {
        bad(touched[at] ?? '?', error === null ? `an unexpected lead reply: ${JSON.stringify(reply)}` : message(error))
        continue
      }
      setLeading(watch, leading === 1)
      if (leading === 1) follow(watch, null)
      else {
        const parsed = parseShare(share)
        if (parsed === undefined) bad(touched[at] ?? '?', `a share that is not in [0, 1]: ${JSON.stringify(share).slice(0, 40)}`)
        follow(watch, parsed ?? 0)
      }
    }

    const sums = new Map<Watched, Map<string, Map<number, [number, number, number]>>>()
    let fleetCalls = 0
    for (const read of reads) {
      const [error, value] = results[read.at] ?? [new Error('no reply'), null]
      if (error !== null || typeof value !== 'object' || value === null) {
        bad(read.key, error === null ? 'not a hash' : message(error))
        continue
      }
      let perWatch = sums.get(read.watch)
      if (perWatch === undefined) {
        perWatch = new Map()
        sums.set(read.watch, perWatch)
      }
      let buckets = perWatch.get(read.evidence.key)
      if (buckets === undefined) {
        buckets = new Map()
        perWatch.set(read.evidence.key, buckets)
      }
      for (const [field, text] of Object.entries(value as Record<string, unknown>)) {
        if (field === replicaId) continue
        const counts = parseCounts(text)
        if (counts === undefined) {
          bad(read.key, `field ${JSON.stringify(field).slice(0, 80)} holds ${JSON.stringify(text).slice(0, 80)}, not "calls,failures,slow"`)
          continue
        }
        const sum = buckets.get(read.epoch) ?? [0, 0, 0]
        buckets.set(read.epoch, [sum[0] + counts[0], sum[1] + counts[1], sum[2] + counts[2]])
        fleetCalls += counts[0]
      }
    }
    for (const { watch, shared } of plans) {
      if (!watched.has(watch.breaker) || shared.length === 0) continue
      const perWatch = sums.get(watch)
      const evidence: Evidence[] = []
      for (const e of shared) {
        const buckets = perWatch?.get(e.key)
        if (buckets === undefined || buckets.size === 0) continue
        const list: EvidenceBucket[] = [...buckets]
          .filter(([, c]) => c[0] > 0)
          .map(([epoch, c]) => [epoch, c[0], c[1], c[2]] as const)
          .sort((a, b) => a[0] - b[0])
        evidence.push({ key: e.key, bucketMs: e.bucketMs, span: e.span, buckets: list })
      }
      if (evidence.length === 0 && !watch.absorbed) continue
      watch.absorbed = evidence.length > 0
      watch.breaker.dispatch(BreakerEvent.evidence(evidence))
    }
    syncs++
    lastSyncAt = now()
    emit({ _tag: 'Synced', at: lastSyncAt, breakers: plans.length, fleetCalls, durationMs: lastSyncAt - started })
  }

  /** Back to local evidence and local recovery: the fleet's view is no longer current. */
  const fallBack = (): void => {
    for (const watch of watched.values()) {
      watch.written.clear()
      setLeading(watch, false)
      follow(watch, null)
      if (!watch.absorbed) continue
      watch.absorbed = false
      watch.breaker.dispatch(BreakerEvent.evidence([]))
    }
  }

  const sync = (): Promise<void> => {
    // A round under way may have read the breakers before the caller's change: one more round
    // after it, shared by every caller who asked meanwhile, so a resolved sync() wrote what it saw.
    if (running !== undefined) {
      next ??= running.then(() => {
        next = undefined
        return sync()
      })
      return next
    }
    if (detached) return Promise.resolve()
    running = round()
      .then(() => setHealthy(true))
      .catch((error: unknown) => {
        failedSyncs++
        setHealthy(false, error)
        fallBack()
      })
      .finally(() => {
        running = undefined
      })
    return running
  }

  const timer = setInterval(() => void sync(), syncMs)
  timer.unref?.()

  /** Withdraws what this replica holds in Redis for a breaker (best effort: it expires anyway). */
  const withdraw = (watch: Watched): Array<Promise<unknown>> => {
    if (!healthy) return []
    const out: Array<Promise<unknown>> = []
    for (const written of watch.written.values())
      for (const epoch of written.epochs.keys()) out.push(redis.hdel(`${written.key}:${epoch}`, replicaId).catch(() => 0))
    if (watch.leading) {
      const lead = `${base(watch.breaker.name)}:lead`
      out.push(redis.eval(RELEASE, 2, lead, `${base(watch.breaker.name)}:share`, replicaId).catch(() => 0))
    }
    return out
  }

  const pending: Array<Promise<unknown>> = []
  const watching = watchBreakers(source, {
    added: (breaker) => {
      watched.set(breaker, {
        breaker,
        written: new Map(),
        absorbed: false,
        // A breaker restored from a snapshot starts where it is (nothing to publish); a pristine one
        // has seen no phase yet, so its first trip is published.
        generation: breaker.pristine ? -1 : breaker.snapshot().generation,
        following: null,
        leading: false,
      })
      byName.set(breaker.name, breaker)
    },
    removed: (breaker) => {
      const watch = watched.get(breaker)
      if (watch === undefined) return
      watched.delete(breaker)
      if (byName.get(breaker.name) === breaker) byName.delete(breaker.name)
      pending.push(...withdraw(watch))
      // Detached from the fleet, it recovers by itself.
      follow(watch, null)
    },
  })

  return {
    replicaId,
    events$: events.stream,
    health: () => ({
      healthy,
      syncs,
      failedSyncs,
      lastSyncAt,
      badData,
      published,
      peerEvents,
      leading: [...watched.values()].filter((w) => w.leading).length,
    }),
    sync,
    detach: async () => {
      if (detached) return
      clearInterval(timer)
      await running
      detached = true
      watching.unsubscribe() // withdraws every breaker's evidence and leads
      await Promise.all(pending)
      events.complete()
      redis.disconnect()
      subscriber?.disconnect()
    },
  }
}
