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
 * Layout in Redis (every key of a breaker shares the hash tag `{name}`, so it lives in one slot;
 * a keyed group's breaker is named `name/key` there, its circuit's name and its group key):
 * - `<prefix>{<name>}:<detector>:<epoch>`: a hash per bucket of a detector's window, one field per
 *   replica holding `"calls,failures,slow"`, written as absolute values (a retry or a resync
 *   writes the same thing again; nothing double counts), expiring one window after its bucket.
 * - `<prefix>{<name>}:replicas`: a hash, one field per replica, `"active,fleetOpened,at"` (see
 *   `PeerStatus` in the core), expiring four leases after its last write.
 * - `<prefix>{<name>}:lead` (the leading replica's id) and `<prefix>{<name>}:share` (the share it
 *   offers), both expiring unless the leader renews them.
 * - `<prefix>events`: the channel trips and recoveries are published on, as JSON
 *   `{ v: 1, event: 'tripped' | 'recovered', breaker, replica, evidence?, tally? }` (a trip carries the
 *   windows or counts it tripped on).
 */
import { hostname } from 'node:os'
import {
  type Evidence,
  type FleetPolicy,
  fleetMember,
  fleetPolicy,
  hearPeer,
  isEvidence,
  leaveFleet,
  type PeerMessage,
  type Tally,
} from '@datapunk/breaker'
import {
  type Breaker,
  type BreakerSource,
  type Clock,
  type EventStream,
  monotonicClock,
  type Unsubscribable,
  watchBreakers,
} from '@datapunk/breaker-runtime'
import { checkSource, kindOf } from '@datapunk/breaker-runtime/internal'
import { Redis, type RedisOptions } from 'ioredis'
import { INBOX_MAX, Inbox } from './inbox.js'
import type { FleetAttachment, FleetEvent, FleetHealth, FleetLogger, FleetOptions } from './model.js'
import { message, Reporter } from './reporter.js'
import { baseOf, type RoundContext, runRound, viewOf, type Watched } from './round.js'
import { isTally, RELEASE } from './wire.js'

// ---- helpers -----------------------------------------------------------------------------

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
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`fleetMode: expected options with redis (a URL, ioredis options or a client), got ${kindOf(options)}`)
  const redis: unknown = options.redis
  // Anything else would reach ioredis as options and connect to its default, 127.0.0.1:6379, without a word.
  if (typeof redis !== 'string' && (typeof redis !== 'object' || redis === null || Array.isArray(redis)))
    throw new TypeError(`fleetMode: redis must be a redis:// URL, ioredis options or an ioredis client, got ${kindOf(redis)}`)
  const clock: unknown = options.clock
  if (
    clock !== undefined &&
    (typeof (clock as Partial<Clock> | null)?.now !== 'function' || typeof (clock as Partial<Clock>).schedule !== 'function')
  )
    throw new TypeError('fleetMode: clock must have now() and schedule(work, delayMs)')
  if (options.logger !== undefined && typeof (options.logger as Partial<FleetLogger> | null)?.error !== 'function')
    throw new TypeError('fleetMode: logger must have error(details, message) (a pino logger is one)')
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

/** Options of fleet mode's own connections: fail fast while disconnected, reconnect with jittered backoff. */
const clientOptionsOf = ({ syncMs, minMs, maxMs }: Checked): RedisOptions => ({
  // A command never queues behind a dead connection.
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: Math.max(1000, syncMs * 4),
  commandTimeout: Math.max(500, syncMs * 4),
  autoResubscribe: false,
  retryStrategy: (times) => Math.min(maxMs, minMs * 2 ** Math.min(times - 1, 20)) * (0.75 + Math.random() * 0.5),
})

// ---- the attachment ----------------------------------------------------------------------

class Fleet<K> implements FleetAttachment {
  readonly replicaId: string
  private readonly policy: FleetPolicy
  private readonly reporter: Reporter
  private readonly clock: Clock
  /** The caller's client, if given (left open on detach). */
  private readonly given: Redis | undefined
  private readonly redis: Redis
  private readonly subscriber: Redis | undefined
  private readonly inbox: Inbox
  private readonly context: RoundContext
  private readonly watched = new Map<Breaker, Watched>()
  private readonly byName = new Map<string, Watched>()
  private readonly pending: Array<Promise<unknown>> = []
  private readonly timer: ReturnType<typeof setInterval>
  private readonly watching: Unsubscribable
  private lastSyncAt: number | null = null
  private running: Promise<void> | undefined
  /** The round to run once the running one is done, for callers who asked while it ran. */
  private next: Promise<void> | undefined
  private detached = false
  private readonly onReady = (): void => {
    // A (re)connected Redis may have lost everything: write the whole window again.
    for (const w of this.watched.values()) w.written.clear()
  }

  constructor(source: BreakerSource<K>, options: FleetOptions) {
    checkSource('fleetMode', source)
    const checked = check(options)
    const { prefix, replicaId, policy } = checked
    this.replicaId = replicaId
    this.policy = policy
    this.clock = options.clock ?? monotonicClock
    this.reporter = new Reporter(replicaId, () => this.clock.now(), options.logger)
    const clientOptions = clientOptionsOf(checked)
    this.given = isClient(options.redis) ? options.redis : undefined
    // (Cast: ioredis 6 declares `replyMapping?: ReplyMappingMode` in a way that `exactOptionalPropertyTypes` rejects.)
    const connect = (): Redis =>
      this.given !== undefined
        ? this.given.duplicate(clientOptions as never)
        : typeof options.redis === 'string'
          ? new Redis(options.redis, clientOptions as never)
          : new Redis({ ...(options.redis as RedisOptions), ...clientOptions } as never)
    this.redis = this.given ?? connect()
    this.subscriber = policy.shareTrips ? connect() : undefined
    const channel = `${prefix}events`
    const reporter = this.reporter
    this.context = {
      redis: this.redis,
      prefix,
      replicaId,
      policy,
      channel,
      bad: (key, text) => reporter.bad(key, text),
      noted: (watch, notes) => reporter.noted(watch.id, notes),
    }
    this.inbox = new Inbox(
      (text) => this.handle(channel, text),
      () => {
        if (reporter.counters.dropped++ % INBOX_MAX === 0)
          reporter.bad(channel, `a flood of messages: more than ${INBOX_MAX} waiting, the rest dropped`)
      },
    )
    this.listen(channel)
    this.timer = setInterval(() => void this.sync(), checked.syncMs)
    this.timer.unref?.()
    this.watching = watchBreakers(source, { added: (b, key) => this.added(b, key), removed: (b) => this.removed(b) })
  }

  /** Connection listeners, and the subscription to published messages. */
  private listen(channel: string): void {
    // Connection errors are reported through health; without a listener ioredis would raise them as
    // unhandled 'error' events and crash the process. (A client of the caller's has the caller's listeners.)
    if (this.given === undefined) this.redis.on('error', () => {})
    this.redis.on('ready', this.onReady)
    const subscriber = this.subscriber
    if (subscriber === undefined) return
    subscriber.on('error', () => {})
    subscriber.on('ready', () => {
      subscriber.subscribe(channel).catch((error: unknown) => this.reporter.log({ error: message(error) }, 'could not subscribe'))
    })
    subscriber.on('message', (_channel: string, text: string) => this.inbox.push(text))
  }

  /** One published message: another replica's trip or recovery, for the breaker of that name. */
  private handle(channel: string, text: string): void {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      this.reporter.bad(channel, `a message that is not JSON: ${text.slice(0, 80)}`)
      return
    }
    const { breaker: name, replica, event, evidence, tally } = (parsed ?? {}) as Record<string, unknown>
    if (typeof name !== 'string' || typeof replica !== 'string' || (event !== 'tripped' && event !== 'recovered')) {
      this.reporter.bad(channel, `a message without breaker, replica and event: ${text.slice(0, 80)}`)
      return
    }
    if ((evidence !== undefined && !(Array.isArray(evidence) && evidence.every(isEvidence))) || (tally !== undefined && !isTally(tally))) {
      this.reporter.bad(channel, `a message whose evidence or tally is not well formed: ${text.slice(0, 80)}`)
      return
    }
    const watch = this.byName.get(name)
    if (replica === this.replicaId || watch === undefined) return
    const { breaker } = watch
    const message: PeerMessage = {
      replica,
      event: event === 'tripped' ? 'tripped' : 'recovered',
      ...(evidence === undefined ? {} : { evidence: evidence as ReadonlyArray<Evidence> }),
      ...(tally === undefined ? {} : { tally: tally as Tally }),
    }
    const outcome = hearPeer(this.policy, watch.member, message, viewOf(breaker), breaker.clock.now())
    watch.member = outcome.member
    for (const e of outcome.events) breaker.dispatch(e)
    this.reporter.noted(name, outcome.notes)
  }

  /** Back to local evidence and local recovery: the fleet's view is no longer current. */
  private fallBack(): void {
    for (const watch of this.watched.values()) {
      watch.written.clear()
      const outcome = leaveFleet(watch.member)
      watch.member = outcome.member
      for (const e of outcome.events) watch.breaker.dispatch(e)
      this.reporter.noted(watch.id, outcome.notes)
    }
  }

  sync(): Promise<void> {
    // A round under way may have read the breakers before the caller's change: one more round
    // after it, shared by every caller who asked meanwhile, so a resolved sync() wrote what it saw.
    if (this.running !== undefined) {
      this.next ??= this.running.then(() => {
        this.next = undefined
        return this.sync()
      })
      return this.next
    }
    if (this.detached) return Promise.resolve()
    const { reporter } = this
    const started = this.clock.now()
    this.running = runRound(this.context, this.watched.values())
      .then(({ breakers, fleetCalls }) => {
        reporter.counters.syncs++
        const at = this.clock.now()
        this.lastSyncAt = at
        reporter.emit({ _tag: 'Synced', at, breakers, fleetCalls, durationMs: at - started })
        reporter.setHealthy(true)
      })
      .catch((error: unknown) => {
        reporter.counters.failedSyncs++
        reporter.setHealthy(false, error)
        this.fallBack()
      })
      .finally(() => {
        this.running = undefined
      })
    return this.running
  }

  private added(breaker: Breaker, key: unknown): void {
    // A breaker restored from a snapshot starts where it is (nothing to publish); a pristine one
    // has seen no phase yet, so its first trip is published.
    const id = key === undefined ? breaker.name : `${breaker.name}/${String(key)}`
    const watch: Watched = { breaker, id, written: new Map(), member: fleetMember(breaker.pristine ? null : breaker.snapshot()) }
    this.watched.set(breaker, watch)
    this.byName.set(id, watch)
  }

  private removed(breaker: Breaker): void {
    const watch = this.watched.get(breaker)
    if (watch === undefined) return
    this.watched.delete(breaker)
    if (this.byName.get(watch.id) === watch) this.byName.delete(watch.id)
    this.pending.push(...this.withdraw(watch))
    // Detached from the fleet, it recovers by itself on its own evidence.
    for (const e of leaveFleet(watch.member).events) breaker.dispatch(e)
  }

  /** Withdraws what this replica holds in Redis for a breaker (best effort: it expires anyway). */
  private withdraw(watch: Watched): Array<Promise<unknown>> {
    if (!this.reporter.healthy) return []
    const { redis, replicaId } = this
    const out: Array<Promise<unknown>> = []
    for (const written of watch.written.values())
      for (const epoch of written.epochs.keys()) out.push(redis.hdel(`${written.key}:${epoch}`, replicaId).catch(() => 0))
    const base = baseOf(this.context.prefix, watch.id)
    out.push(redis.hdel(`${base}:replicas`, replicaId).catch(() => 0))
    if (watch.member.leading) out.push(redis.eval(RELEASE, 2, `${base}:lead`, `${base}:share`, replicaId).catch(() => 0))
    return out
  }

  get events$(): EventStream<FleetEvent> {
    return this.reporter.events$
  }

  health(): FleetHealth {
    return {
      healthy: this.reporter.healthy,
      ...this.reporter.counters,
      lastSyncAt: this.lastSyncAt,
      leading: [...this.watched.values()].filter((w) => w.member.leading).length,
    }
  }

  async detach(): Promise<void> {
    if (this.detached) return
    clearInterval(this.timer)
    await this.running
    this.detached = true
    this.watching.unsubscribe() // withdraws every breaker's evidence and leads
    this.inbox.close()
    await Promise.all(this.pending)
    this.reporter.complete()
    this.redis.off('ready', this.onReady)
    if (this.given === undefined) this.redis.disconnect()
    this.subscriber?.disconnect()
  }
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
export const fleetMode = <K>(source: BreakerSource<K>, options: FleetOptions): FleetAttachment => new Fleet(source, options)
