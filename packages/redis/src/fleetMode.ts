/**
 * Fleet mode: the replicas of a service share what their breakers see through Redis, and each
 * still decides alone. Nothing here is on the call path: a timer (every `syncMs`) writes this
 * replica's window counts and reads the rest of the fleet's in one pipelined round trip, and hands
 * them to each breaker as an event (`BreakerEvent.evidence`); a trip is published on a channel and
 * reaches the other replicas as `BreakerEvent.peerTripped()`. When Redis is slow, down or holds
 * junk, calls never notice: a breaker falls back to its own evidence until Redis is back.
 *
 * Layout in Redis (all keys of a breaker share the hash tag `{name}`, so they live in one cluster slot):
 * - `<prefix>{<name>}:<detector>:<epoch>`: a hash per bucket of a detector's window, one field per
 *   replica holding `"calls,failures,slow"`, written as absolute values (a retry or a resync
 *   writes the same thing again; nothing double counts), expiring one window after its bucket.
 * - `<prefix>trips`: the channel trips are published on, as JSON `{ v: 1, breaker, replica, reason }`.
 */
import { hostname } from 'node:os'
import { BreakerEvent, type Evidence, type EvidenceBucket } from '@datapunk/breaker'
import { type Breaker, type BreakerSource, watchBreakers } from '@datapunk/breaker-rxjs'
import { Redis, type RedisOptions } from 'ioredis'
import { type Observable, Subject, Subscription } from 'rxjs'

// ---- model -------------------------------------------------------------------------------

/** Where errors go (a pino logger fits: `error(object, message)`). */
export interface FleetLogger {
  error(details: object, message: string): void
}

/** Options of {@link fleetMode}. */
export interface FleetOptions {
  /** How to reach Redis: a `redis://` URL or ioredis options (fleet mode makes its own two connections). */
  readonly redis: string | RedisOptions
  /** Prefix of every key and of the trip channel. Default `'breaker:'`. */
  readonly prefix?: string
  /** This replica's name in Redis (unique in the fleet). Default `<hostname>:<pid>:<random>`. */
  readonly replicaId?: string
  /** How often evidence is written and read, in ms: 10 to 60,000. Default 250. */
  readonly syncMs?: number
  /** Share window counts (default `true`). */
  readonly shareEvidence?: boolean
  /** Publish trips and open on the others' (default `true`). */
  readonly shareTrips?: boolean
  /** Reconnect backoff: doubling from `minMs` (default 100) up to `maxMs` (default 5000), with jitter. */
  readonly reconnect?: { readonly minMs?: number; readonly maxMs?: number }
  /** Where errors (Redis down, bad data) are logged. Default: `console.error`. */
  readonly logger?: FleetLogger
}

/** What fleet mode reports, as it happens. */
export type FleetEvent =
  /** Sync started or stopped working (`error` says why it stopped). Breakers decide on local evidence while unhealthy. */
  | { readonly _tag: 'SyncHealthChanged'; readonly at: number; readonly healthy: boolean; readonly error?: string }
  /** One sync round finished: `breakers` synced, `fleetCalls` the other replicas' calls absorbed in all windows. */
  | { readonly _tag: 'Synced'; readonly at: number; readonly breakers: number; readonly fleetCalls: number; readonly durationMs: number }
  /** A value in Redis was not evidence (corrupt, foreign, or of another type): ignored. */
  | { readonly _tag: 'BadData'; readonly at: number; readonly key: string; readonly message: string }
  /** This replica published a trip. */
  | { readonly _tag: 'TripPublished'; readonly at: number; readonly breaker: string }
  /** Another replica tripped: this replica's breaker of the same name was told. */
  | { readonly _tag: 'PeerTripped'; readonly at: number; readonly breaker: string; readonly replica: string }

/** Counters of one attachment, for health checks and tests. */
export interface FleetHealth {
  /** Whether the last sync reached Redis (`false` before the first one does). */
  readonly healthy: boolean
  readonly syncs: number
  readonly failedSyncs: number
  /** When the last sync succeeded (`Date.now()`), or `null`. */
  readonly lastSyncAt: number | null
  /** Values in Redis ignored as bad data. */
  readonly badData: number
  readonly tripsPublished: number
  readonly peerTrips: number
}

/** An attachment: `detach()` stops syncing, withdraws this replica's evidence (best effort) and closes its connections. */
export interface FleetAttachment {
  readonly replicaId: string
  readonly events$: Observable<FleetEvent>
  health(): FleetHealth
  /** Runs one sync round now (the timer runs them anyway); resolves when it is done, never rejects. */
  sync(): Promise<void>
  detach(): Promise<void>
}

// ---- constructor -------------------------------------------------------------------------

const TRIP_REASONS = new Set(['tripped', 'recovery-failed'])

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

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const consoleLogger: FleetLogger = {
  // biome-ignore lint/suspicious/noConsole: the logger of last resort, when the user gives none
  error: (details, text) => console.error(`[breaker-redis] ${text}`, details),
}

/** One detector's window as this replica last wrote it. */
interface Written {
  readonly key: string
  readonly epochs: Map<number, string>
}

interface Watched {
  readonly breaker: Breaker
  readonly subscription: Subscription
  /** By detector key hash: what this replica wrote for it. */
  readonly written: Map<string, Written>
  /** Whether the breaker holds fleet evidence (so a failed sync must take it back). */
  absorbed: boolean
}

/**
 * Attaches fleet mode to a breaker or a breaker group: replicas that use the same breaker names
 * and the same Redis share their time-window evidence and their trips. Each replica's breakers
 * still decide alone, on their own counts plus the fleet's (see `Evidence` in the core); only
 * time-window detectors (failure rate, failure count, slow-call rate over `{ kind: 'time' }`) share
 * counts, and any strategy takes trips.
 *
 * Calls never wait on Redis: syncing runs on a timer, with no offline queue (a command fails at
 * once while Redis is down), at most one round in flight, and reconnection with backoff. While
 * Redis is unreachable the breakers fall back to their own evidence; when it returns, the next
 * round writes this replica's whole window again (resync). Bad values in Redis are logged and
 * ignored. The replicas' clocks must agree to well within a bucket (the default clock reads wall
 * time; NTP is enough).
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { createBreaker } from '@datapunk/breaker-rxjs'
 * import { fleetMode } from '@datapunk/breaker-redis'
 * const breaker = createBreaker(
 *   circuit({ name: 'payments', trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 20, window: { kind: 'time', durationMs: 10_000, buckets: 10 } } }),
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
  const logger = options.logger ?? consoleLogger
  const channel = `${prefix}trips`

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

  const events = new Subject<FleetEvent>()
  const watched = new Map<Breaker, Watched>()
  const byName = new Map<string, Breaker>()
  let healthy = false
  let syncs = 0
  let failedSyncs = 0
  let lastSyncAt: number | null = null
  let badData = 0
  let tripsPublished = 0
  let peerTrips = 0
  let running: Promise<void> | undefined
  let detached = false

  const emit = (event: FleetEvent): void => events.next(event)
  const bad = (key: string, text: string): void => {
    badData++
    logger.error({ key, replica: replicaId }, `ignored bad data in Redis: ${text}`)
    emit({ _tag: 'BadData', at: Date.now(), key, message: text })
  }
  const setHealthy = (ok: boolean, error?: unknown): void => {
    if (ok === healthy) return
    healthy = ok
    if (!ok) logger.error({ replica: replicaId, error: message(error) }, 'Redis unreachable: breakers decide on local evidence')
    emit(
      ok
        ? { _tag: 'SyncHealthChanged', at: Date.now(), healthy: true }
        : { _tag: 'SyncHealthChanged', at: Date.now(), healthy: false, error: message(error) },
    )
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
      subscriber.subscribe(channel).catch((error: unknown) => logger.error({ error: message(error) }, 'could not subscribe to trips'))
    })
    subscriber.on('message', (_channel: string, text: string) => {
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch {
        bad(channel, `a trip message that is not JSON: ${text.slice(0, 80)}`)
        return
      }
      const { breaker: name, replica } = (parsed ?? {}) as { breaker?: unknown; replica?: unknown }
      if (typeof name !== 'string' || typeof replica !== 'string') {
        bad(channel, `a trip message without breaker and replica: ${text.slice(0, 80)}`)
        return
      }
      if (replica === replicaId) return
      const breaker = byName.get(name)
      if (breaker === undefined) return
      peerTrips++
      breaker.dispatch(BreakerEvent.peerTripped())
      emit({ _tag: 'PeerTripped', at: Date.now(), breaker: name, replica })
    })
  }

  const publishTrip = (name: string, reason: string): void => {
    if (!healthy) return
    redis
      .publish(channel, JSON.stringify({ v: 1, breaker: name, replica: replicaId, reason }))
      .then(() => {
        tripsPublished++
        emit({ _tag: 'TripPublished', at: Date.now(), breaker: name })
      })
      .catch((error: unknown) => logger.error({ breaker: name, error: message(error) }, 'could not publish a trip'))
  }

  const keyOf = (name: string, e: Evidence): string => `${prefix}{${encodeURIComponent(name)}}:${shortHash(e.key)}:${e.bucketMs}x${e.span}`

  /** One round: write what changed of every breaker's window, read everyone's, hand each breaker the rest of the fleet's. */
  const round = async (): Promise<void> => {
    const started = Date.now()
    const pipeline = redis.pipeline()
    const reads: Array<{
      readonly watch: Watched
      readonly evidence: Evidence
      readonly key: string
      readonly epoch: number
      readonly at: number
    }> = []
    /** The key each queued command touches, by position (results come back in that order). */
    const touched: string[] = []
    const plans: Array<{ readonly watch: Watched; readonly shared: ReadonlyArray<Evidence> }> = []
    const writes: Array<() => void> = []
    for (const watch of watched.values()) {
      const { breaker } = watch
      const shared = shareEvidence ? (breaker.strategy.share?.(breaker.state) ?? []) : []
      const now = breaker.scheduler.now()
      const seen = new Set<string>()
      for (const e of shared) {
        const base = keyOf(breaker.name, e)
        seen.add(base)
        let written = watch.written.get(base)
        if (written === undefined) {
          written = { key: base, epochs: new Map() }
          watch.written.set(base, written)
        }
        const newest = Math.floor(now / e.bucketMs)
        const mine = new Map(e.buckets.map((b) => [b[0], b] as const))
        const ttl = (e.span + 1) * e.bucketMs
        for (let epoch = newest - e.span + 1; epoch <= newest; epoch++) {
          const key = `${base}:${epoch}`
          const b = mine.get(epoch)
          const value = b === undefined || b[1] === 0 ? undefined : `${b[1]},${b[2]},${b[3]}`
          const before = written.epochs.get(epoch)
          if (value !== undefined && value !== before) {
            pipeline.hset(key, replicaId, value).pexpire(key, ttl)
            touched.push(key, key)
            const w = written
            writes.push(() => w.epochs.set(epoch, value))
          } else if (value === undefined && before !== undefined) {
            pipeline.hdel(key, replicaId)
            touched.push(key)
            const w = written
            writes.push(() => w.epochs.delete(epoch))
          }
          reads.push({ watch, evidence: e, key, epoch, at: touched.length })
          pipeline.hgetall(key)
          touched.push(key)
        }
        // Epochs that left the window need no delete: their keys expire.
        for (const epoch of written.epochs.keys()) if (epoch <= newest - e.span) written.epochs.delete(epoch)
      }
      // A detector that stopped sharing (the circuit left closed): withdraw its counts.
      for (const [base, written] of watch.written)
        if (!seen.has(base)) {
          for (const epoch of written.epochs.keys()) {
            pipeline.hdel(`${base}:${epoch}`, replicaId)
            touched.push(`${base}:${epoch}`)
          }
          watch.written.delete(base)
        }
      plans.push({ watch, shared })
    }
    if (plans.length === 0) return
    const results = await pipeline.exec()
    if (results === null) throw new Error('the pipeline was discarded')
    if (results.length > 0 && results.every(([error]) => error !== null)) throw results[0]?.[0]
    const reading = new Set(reads.map((r) => r.at))
    // A write that failed on a key of another type (someone else's data) is bad data, not an outage.
    results.forEach(([error], i) => {
      if (error !== null && !reading.has(i)) bad(touched[i] ?? '?', message(error))
    })
    const sums = new Map<Watched, Map<string, { evidence: Evidence; buckets: Map<number, [number, number, number]> }>>()
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
      let entry = perWatch.get(read.evidence.key)
      if (entry === undefined) {
        entry = { evidence: read.evidence, buckets: new Map() }
        perWatch.set(read.evidence.key, entry)
      }
      for (const [field, text] of Object.entries(value as Record<string, unknown>)) {
        if (field === replicaId) continue
        const counts = parseCounts(text)
        if (counts === undefined) {
          bad(read.key, `field ${JSON.stringify(field).slice(0, 80)} holds ${JSON.stringify(text).slice(0, 80)}, not "calls,failures,slow"`)
          continue
        }
        const sum = entry.buckets.get(read.epoch) ?? [0, 0, 0]
        entry.buckets.set(read.epoch, [sum[0] + counts[0], sum[1] + counts[1], sum[2] + counts[2]])
        fleetCalls += counts[0]
      }
    }
    for (const w of writes) w()
    for (const { watch, shared } of plans) {
      if (!watched.has(watch.breaker) || shared.length === 0) continue
      const perWatch = sums.get(watch)
      const evidence: Evidence[] = []
      for (const e of shared) {
        const entry = perWatch?.get(e.key)
        if (entry === undefined || entry.buckets.size === 0) continue
        const buckets: EvidenceBucket[] = [...entry.buckets]
          .filter(([, c]) => c[0] > 0)
          .map(([epoch, c]) => [epoch, c[0], c[1], c[2]] as const)
          .sort((a, b) => a[0] - b[0])
        evidence.push({ key: e.key, bucketMs: e.bucketMs, span: e.span, buckets })
      }
      if (evidence.length === 0 && !watch.absorbed) continue
      watch.absorbed = evidence.length > 0
      watch.breaker.dispatch(BreakerEvent.evidence(evidence))
    }
    syncs++
    lastSyncAt = Date.now()
    emit({ _tag: 'Synced', at: lastSyncAt, breakers: plans.length, fleetCalls, durationMs: lastSyncAt - started })
  }

  /** Back to local evidence: the fleet's view is no longer current. */
  const fallBack = (): void => {
    for (const watch of watched.values()) {
      watch.written.clear()
      if (!watch.absorbed) continue
      watch.absorbed = false
      watch.breaker.dispatch(BreakerEvent.evidence([]))
    }
  }

  const sync = (): Promise<void> => {
    if (running !== undefined) return running
    if (detached) return Promise.resolve()
    running = round()
      .then(() => setHealthy(true))
      .catch((error: unknown) => {
        failedSyncs++
        setHealthy(false, error)
        // First failure after a good spell, or still failing: either way, decide locally.
        if (!healthy) fallBack()
      })
      .finally(() => {
        running = undefined
      })
    return running
  }

  const timer = setInterval(() => void sync(), syncMs)
  timer.unref?.()

  const watching = watchBreakers(source, {
    added: (breaker) => {
      const subscription = new Subscription()
      if (shareTrips)
        subscription.add(
          breaker.transitions$.subscribe((event) => {
            if (event._tag === 'StateChanged' && event.to === 'open' && TRIP_REASONS.has(event.reason))
              publishTrip(breaker.name, event.reason)
          }),
        )
      watched.set(breaker, { breaker, subscription, written: new Map(), absorbed: false })
      byName.set(breaker.name, breaker)
    },
    removed: (breaker) => {
      const watch = watched.get(breaker)
      if (watch === undefined) return
      watch.subscription.unsubscribe()
      watched.delete(breaker)
      if (byName.get(breaker.name) === breaker) byName.delete(breaker.name)
      // Withdraw its counts, best effort (they expire anyway).
      if (healthy)
        for (const written of watch.written.values())
          for (const epoch of written.epochs.keys()) redis.hdel(`${written.key}:${epoch}`, replicaId).catch(() => {})
    },
  })

  return {
    replicaId,
    events$: events.asObservable(),
    health: () => ({ healthy, syncs, failedSyncs, lastSyncAt, badData, tripsPublished, peerTrips }),
    sync,
    detach: async () => {
      if (detached) return
      clearInterval(timer)
      await running
      detached = true
      const withdrawals: Array<Promise<unknown>> = []
      if (healthy)
        for (const watch of watched.values())
          for (const written of watch.written.values())
            for (const epoch of written.epochs.keys()) withdrawals.push(redis.hdel(`${written.key}:${epoch}`, replicaId).catch(() => 0))
      watching.unsubscribe()
      await Promise.all(withdrawals)
      events.complete()
      redis.disconnect()
      subscriber?.disconnect()
    },
  }
}
