/**
 * Fleet mode: the replicas of a service share what their breakers see through Redis, and each
 * still decides alone. Redis is the transport; the protocol is the core's (`planRound`,
 * `absorbRound`, `hearPeer`, `leaveFleet`), the one the simulator runs. Nothing here is on the
 * call path: a timer (every `syncMs`) runs one pipelined round trip per round (see `round.ts`),
 * which writes this replica's window counts and status and reads the fleet's, publishes the trips
 * and recoveries seen since the last round, and takes, watches or gives back each recovery's
 * lease. Published messages arrive on a subscriber connection and are handled in bounded slices.
 * When Redis is slow, down or holds junk, calls never notice: breakers fall back to local
 * evidence and local recovery until Redis is back.
 *
 * Layout in Redis (every key of a breaker shares the hash tag `{name}`, so it lives in one slot):
 * - `<prefix>{<name>}:<detector>:<epoch>`: a hash per bucket of a detector's window, one field per
 *   replica holding `"calls,failures,slow"`, written as absolute values (a retry or a resync
 *   writes the same thing again; nothing double counts), expiring one window after its bucket.
 * - `<prefix>{<name>}:replicas`: a hash, one field per replica, `"active,fleetOpened,at"` (see
 *   `PeerStatus` in the core), expiring four leases after its last write.
 * - `<prefix>{<name>}:lead` (the leading replica's id) and `<prefix>{<name>}:share` (the share it
 *   offers), both expiring unless the leader renews them.
 * - `<prefix>events`: the channel trips and recoveries are published on, as JSON
 *   `{ v: 1, event: 'tripped' | 'recovered', breaker, replica }`.
 */
import { hostname } from 'node:os'
import { type FleetNote, type FleetPolicy, fleetMember, fleetPolicy, hearPeer, leaveFleet } from '@datapunk/breaker'
import {
  type Breaker,
  type BreakerSource,
  Channel,
  type Clock,
  type EventStream,
  monotonicClock,
  watchBreakers,
} from '@datapunk/breaker-runtime'
import { Redis, type RedisOptions } from 'ioredis'
import { baseOf, type RoundContext, runRound, viewOf, type Watched } from './round.js'
import { RELEASE } from './wire.js'

// ---- model -------------------------------------------------------------------------------

/** Where errors go (a pino logger fits: `error(object, message)`). */
export interface FleetLogger {
  error(details: object, message: string): void
}

/** Options of {@link fleetMode}. */
export interface FleetOptions {
  /**
   * How to reach Redis: a `redis://` URL or ioredis options (fleet mode makes its own two
   * connections), or an ioredis client of yours (fleet mode runs its rounds on it, subscribes on a
   * `duplicate()` of it, and leaves it open on `detach`; give it `enableOfflineQueue: false` so a
   * round fails at once while Redis is down instead of waiting for it).
   */
  readonly redis: string | RedisOptions | Redis
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
  /** Where errors (Redis down, bad data) are logged. Default: `console.error`. A logger that throws is ignored. */
  readonly logger?: FleetLogger
  /**
   * The fleet protocol's policy (see `FleetPolicy` in the core): `significance` of the test that
   * tells a local fault from a shared one (default 0.001), `maxFleetOpened` (default 0.5).
   * `leaseMs` defaults to four rounds, at least 1 s; the `share*` options above set the rest.
   */
  readonly policy?: Partial<Pick<FleetPolicy, 'significance' | 'maxFleetOpened' | 'leaseMs'>>
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
  /**
   * Another replica tripped, and this replica's breaker did not follow (yet): its own recent calls
   * are healthier (a fault on the other replica's side), or the cap on replicas opened by the fleet
   * alone is reached.
   */
  | {
      readonly _tag: 'PeerDeclined'
      readonly at: number
      readonly breaker: string
      readonly replica: string
      readonly why: 'healthier' | 'capped'
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
  /** Trips of other replicas this replica's breakers did not follow when heard (see `PeerDeclined`). */
  readonly peerDeclined: number
  /** Published messages dropped unread because more than 10,000 were waiting (a flood). */
  readonly dropped: number
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

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const consoleLogger: FleetLogger = {
  // biome-ignore lint/suspicious/noConsole: the logger of last resort, when the user gives none
  error: (details, text) => console.error(`[breaker-redis] ${text}`, details),
}

/** Published messages waiting to be handled at most; more are dropped (and counted). */
const INBOX_MAX = 10_000
/** Messages handled per turn of the event loop. */
const SLICE = 256

const isClient = (value: unknown): value is Redis =>
  typeof value === 'object' && value !== null && typeof (value as { pipeline?: unknown }).pipeline === 'function'

interface Checked {
  readonly prefix: string
  readonly syncMs: number
  readonly replicaId: string
  readonly minMs: number
  readonly maxMs: number
  readonly policy: FleetPolicy
}

const check = (options: FleetOptions): Checked => {
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
  let policy: FleetPolicy
  try {
    policy = fleetPolicy({
      leaseMs: Math.max(1000, syncMs * 4),
      ...options.policy,
      shareEvidence: options.shareEvidence ?? true,
      shareTrips: options.shareTrips ?? true,
      shareRecovery: options.shareRecovery ?? true,
    })
  } catch (error) {
    throw new RangeError(`fleetMode: ${message(error)}`)
  }
  return { prefix, syncMs, replicaId, minMs, maxMs, policy }
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
  const { prefix, syncMs, replicaId, minMs, maxMs, policy } = check(options)
  const userLogger = options.logger ?? consoleLogger
  // A logger that throws must not take the rounds (or the process) down with it.
  const log = (details: object, text: string): void => {
    try {
      userLogger.error(details, text)
    } catch {
      // ignored: nowhere left to report it
    }
  }
  const channel = `${prefix}events`
  const clock = options.clock ?? monotonicClock
  const now = (): number => clock.now()

  const clientOptions: RedisOptions = {
    // Fail fast while disconnected: a command never queues behind a dead connection.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: Math.max(1000, syncMs * 4),
    commandTimeout: Math.max(500, syncMs * 4),
    autoResubscribe: false,
    retryStrategy: (times) => Math.min(maxMs, minMs * 2 ** Math.min(times - 1, 20)) * (0.75 + Math.random() * 0.5),
  }
  const given = isClient(options.redis) ? options.redis : undefined
  // (Cast: ioredis 6 declares `replyMapping?: ReplyMappingMode` in a way that `exactOptionalPropertyTypes` rejects.)
  const connect = (): Redis =>
    given !== undefined
      ? given.duplicate(clientOptions as never)
      : typeof options.redis === 'string'
        ? new Redis(options.redis, clientOptions as never)
        : new Redis({ ...(options.redis as RedisOptions), ...clientOptions } as never)
  const redis = given ?? connect()
  const subscriber = policy.shareTrips ? connect() : undefined

  const events = new Channel<FleetEvent>()
  const watched = new Map<Breaker, Watched>()
  const byName = new Map<string, Watched>()
  const counters = { syncs: 0, failedSyncs: 0, badData: 0, published: 0, peerEvents: 0, peerDeclined: 0, dropped: 0 }
  let healthy = false
  let lastSyncAt: number | null = null
  let running: Promise<void> | undefined
  /** The round to run once the running one is done, for callers who asked while it ran. */
  let next: Promise<void> | undefined
  let detached = false

  const emit = (event: FleetEvent): void => events.next(event)
  // Junk that stays in Redis is met every round: counted and reported each time, logged once a
  // minute per key (the map forgets keys not logged for a minute, so it stays small).
  const loggedAt = new Map<string, number>()
  const bad = (key: string, text: string): void => {
    counters.badData++
    const at = now()
    emit({ _tag: 'BadData', at, key, message: text })
    if (at - (loggedAt.get(key) ?? Number.NEGATIVE_INFINITY) < 60_000) return
    if (loggedAt.size >= 1000) for (const [k, t] of loggedAt) if (at - t >= 60_000) loggedAt.delete(k)
    loggedAt.set(key, at)
    log({ key, replica: replicaId }, `ignored bad data in Redis: ${text}`)
  }
  const setHealthy = (ok: boolean, error?: unknown): void => {
    if (ok === healthy) return
    healthy = ok
    if (!ok) log({ replica: replicaId, error: message(error) }, 'Redis unreachable: breakers decide and recover on their own')
    emit(
      ok
        ? { _tag: 'SyncHealthChanged', at: now(), healthy: true }
        : { _tag: 'SyncHealthChanged', at: now(), healthy: false, error: message(error) },
    )
  }
  /** Turns the protocol's notes on a breaker into events and counts. */
  const noted = (watch: Watched, notes: ReadonlyArray<FleetNote>): void => {
    const breaker = watch.breaker.name
    for (const note of notes) {
      const at = now()
      if (note._tag === 'Published') {
        counters.published++
        emit({ _tag: 'Published', at, breaker, event: note.event })
      } else if (note._tag === 'LeadChanged') emit({ _tag: 'LeadChanged', at, breaker, leading: note.leading })
      else if (note._tag === 'PeerFollowed') {
        counters.peerEvents++
        emit({ _tag: 'PeerEvent', at, breaker, replica: note.replica, event: note.event })
      } else {
        counters.peerDeclined++
        emit({ _tag: 'PeerDeclined', at, breaker, replica: note.replica, why: note.why })
      }
    }
  }

  const onError = (): void => {}
  // A (re)connected Redis may have lost everything: write the whole window again.
  const onReady = (): void => {
    for (const w of watched.values()) w.written.clear()
  }
  // Connection errors are reported through health; without a listener ioredis would raise them as
  // unhandled 'error' events and crash the process. (A client of the user's has the user's listeners.)
  if (given === undefined) redis.on('error', onError)
  redis.on('ready', onReady)

  // Published messages: queued, then handled in slices so a flood never holds the event loop.
  const inbox: string[] = []
  let draining = false
  const handle = (text: string): void => {
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
    const watch = byName.get(name)
    if (watch === undefined) return
    const { breaker } = watch
    const outcome = hearPeer(policy, watch.member, { replica, event }, viewOf(breaker), breaker.clock.now())
    watch.member = outcome.member
    for (const e of outcome.events) breaker.dispatch(e)
    noted(watch, outcome.notes)
  }
  const drain = (): void => {
    const slice = inbox.splice(0, SLICE)
    for (const text of slice) handle(text)
    if (inbox.length > 0 && !detached) setImmediate(drain)
    else draining = false
  }
  if (subscriber !== undefined) {
    subscriber.on('error', onError)
    subscriber.on('ready', () => {
      subscriber.subscribe(channel).catch((error: unknown) => log({ error: message(error) }, 'could not subscribe'))
    })
    subscriber.on('message', (_channel: string, text: string) => {
      if (inbox.length >= INBOX_MAX) {
        if (counters.dropped++ % INBOX_MAX === 0) bad(channel, `a flood of messages: more than ${INBOX_MAX} waiting, the rest dropped`)
        return
      }
      inbox.push(text)
      if (!draining) {
        draining = true
        setImmediate(drain)
      }
    })
  }

  const context: RoundContext = { redis, prefix, replicaId, policy, channel, bad, noted }

  /** Back to local evidence and local recovery: the fleet's view is no longer current. */
  const fallBack = (): void => {
    for (const watch of watched.values()) {
      watch.written.clear()
      const outcome = leaveFleet(watch.member)
      watch.member = outcome.member
      for (const e of outcome.events) watch.breaker.dispatch(e)
      noted(watch, outcome.notes)
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
    const started = now()
    running = runRound(context, watched.values())
      .then(({ breakers, fleetCalls }) => {
        counters.syncs++
        lastSyncAt = now()
        emit({ _tag: 'Synced', at: lastSyncAt, breakers, fleetCalls, durationMs: lastSyncAt - started })
        setHealthy(true)
      })
      .catch((error: unknown) => {
        counters.failedSyncs++
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
    const base = baseOf(prefix, watch.breaker.name)
    out.push(redis.hdel(`${base}:replicas`, replicaId).catch(() => 0))
    if (watch.member.leading) out.push(redis.eval(RELEASE, 2, `${base}:lead`, `${base}:share`, replicaId).catch(() => 0))
    return out
  }

  const pending: Array<Promise<unknown>> = []
  const watching = watchBreakers(source, {
    added: (breaker) => {
      // A breaker restored from a snapshot starts where it is (nothing to publish); a pristine one
      // has seen no phase yet, so its first trip is published.
      const watch: Watched = { breaker, written: new Map(), member: fleetMember(breaker.pristine ? null : breaker.snapshot()) }
      watched.set(breaker, watch)
      byName.set(breaker.name, watch)
    },
    removed: (breaker) => {
      const watch = watched.get(breaker)
      if (watch === undefined) return
      watched.delete(breaker)
      if (byName.get(breaker.name) === watch) byName.delete(breaker.name)
      pending.push(...withdraw(watch))
      // Detached from the fleet, it recovers by itself.
      const outcome = leaveFleet(watch.member)
      for (const e of outcome.events) breaker.dispatch(e)
    },
  })

  return {
    replicaId,
    events$: events.stream,
    health: () => ({
      healthy,
      ...counters,
      lastSyncAt,
      leading: [...watched.values()].filter((w) => w.member.leading).length,
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
      redis.off('ready', onReady)
      if (given === undefined) redis.disconnect()
      subscriber?.disconnect()
    },
  }
}
