import { BreakerEvent, type Snapshot, type Strategy } from '@datapunk/breaker'
import { Breaker } from './Breaker.js'
import { type Clock, monotonicClock } from './Clock.js'
import { Channel, type EventStream } from './EventStream.js'

/** Options of {@link breakerGroup}. */
export interface BreakerGroupConfig<K, S> {
  /** The strategy of the breaker for `key` (called once per key, when its breaker is created). */
  readonly strategyFor: (key: K) => Strategy<S>
  /**
   * Name of the breaker for `key`, in errors, metrics and logs. Default: its strategy's name (the
   * circuit's `name`): a group's breakers share it, and adapters tell them apart by their key
   * (Prometheus and OpenTelemetry label it `key`, fleet mode names them `name/key`).
   */
  readonly nameFor?: (key: K) => string
  /**
   * A breaker unused for this long (clock time) is dropped the next time the group is used (there
   * is no timer per breaker): a closed one, or an open one whose open time has passed (its trip is
   * remembered: a breaker made again for the key starts open until then). Default 10 min.
   */
  readonly idleEvictMs?: number
  /**
   * How many breakers the group aims to hold (and how many dropped trips it remembers). Past it,
   * closed breakers that hold no evidence (no failure or slow call counted) are dropped first,
   * least recently used first, then stale open ones, and only then one counting failures (reported
   * as `Evicted` with `evidence: 'lost'`). An open or half-open breaker still in its time is never
   * dropped (it still protects its upstream, and a fresh closed one would let the traffic through):
   * if every breaker held is one, the group grows past `maxKeys` and reports `OverCapacity` on
   * `events$`. Default 10,000.
   */
  readonly maxKeys?: number
  /** The clock of every breaker in the group. Default `monotonicClock`. */
  readonly clock?: Clock
  /** Called with each breaker as it is created (to subscribe logging or metrics to it). */
  readonly onCreate?: (breaker: Breaker, key: K) => void
}

/** What the group did with its breakers: creations, evictions, and the choices its limits forced. */
export type GroupEvent<K> =
  | { readonly _tag: 'Created'; readonly key: K; readonly breaker: Breaker; readonly at: number }
  | {
      readonly _tag: 'Evicted'
      readonly key: K
      readonly breaker: Breaker
      /**
       * `idle`: unused for `idleEvictMs` (closed, or open past its time: its trip is remembered);
       * `capacity`: dropped to stay within `maxKeys`.
       */
      readonly reason: 'idle' | 'capacity'
      /**
       * What it held that is now lost or kept: `none` (no failures counted, or never used),
       * `remembered` (it had tripped: the group remembers until when it was open, and a breaker
       * made again for the key starts open until then), or `lost`: it was counting failures and
       * `maxKeys` forced the group to drop them (only when every breaker it could drop held some).
       */
      readonly evidence: 'none' | 'remembered' | 'lost'
      readonly at: number
    }
  | {
      readonly _tag: 'Forgotten'
      /** A key whose trip the group remembered, forgotten to keep the memory within `maxKeys` entries (oldest first). */
      readonly key: K
      readonly at: number
    }
  | {
      readonly _tag: 'OverCapacity'
      /** The key whose new breaker took the group past `maxKeys`. */
      readonly key: K
      readonly size: number
      readonly maxKeys: number
      readonly at: number
    }

/** Breakers by key (host, route, tenant), created on first use, evicted when idle, capped in number. */
export interface BreakerGroup<K> {
  /** The breaker for `key`, created if needed; marks it used now. O(1) amortised. */
  get(key: K): Breaker
  /** The breaker for `key` if held, without creating it or marking it used. */
  peek(key: K): Breaker | undefined
  /** Number of breakers held. */
  readonly size: number
  /** Keys held: closed breakers least recently used first, then the open and half-open ones. */
  keys(): IterableIterator<K>
  /** The breakers held, with their keys (for adapters that attach to a group already in use). */
  entries(): IterableIterator<readonly [K, Breaker]>
  /**
   * Keys whose breaker was dropped while open (idle past its open time): the group remembers until
   * when, so a breaker made again for the key starts open until then. At most `maxKeys`.
   */
  readonly remembered: number
  /**
   * Drops the idle breakers now: closed ones, and open ones past their open time (their trips
   * remembered). Also done, a few at a time, on every `get` of a new key. Returns how many were dropped.
   */
  evictIdle(): number
  /** Creations, evictions and growth past `maxKeys`, as they happen. Hot. */
  readonly events$: EventStream<GroupEvent<K>>
}

/**
 * A group's breaker, with when it was last handed out (whole ms since the group began): one object
 * per key, not a breaker and an entry (an idle key is a few fields and a map slot).
 */
class Entry extends Breaker {
  lastUsed = 0
}

/** How many of the least recently used breakers a new key's room is looked for among, before one holding evidence is dropped. */
const SCAN = 8

/** Whether a closed breaker holds evidence: failures or slow calls it counted (a pristine one holds none). */
const holdsEvidence = (breaker: Breaker, snapshot?: Snapshot): boolean => {
  if (breaker.pristine || snapshot === PRISTINE) return false
  const s = snapshot ?? breaker.snapshot()
  return (s.failures ?? 0) > 0 || (s.slowCalls ?? 0) > 0 || (s.consecutiveFailures ?? 0) > 0
}

/** A breaker never used is closed and holds nothing: its snapshot would make its first state for nothing. */
const PRISTINE = { state: 'closed' } as Snapshot
const look = (breaker: Breaker): Snapshot => (breaker.pristine ? PRISTINE : breaker.snapshot())

/** A breaker group (see {@link breakerGroup}): breakers by key, in least-recently-used order. */
class KeyedGroup<K, S> implements BreakerGroup<K> {
  private readonly clock: Clock
  // Use times are whole ms since the group began: small integers, stored inline (no number box per key).
  private readonly epoch: number
  // Map iteration order is insertion order: re-inserting on use keeps it least recently used first.
  private readonly recent = new Map<K, Entry>()
  // Breakers a scan found open or half-open: kept aside, out of the scans, until they close or go stale.
  private readonly aside = new Map<K, Entry>()
  // Keys whose breaker was dropped open (idle past its open time): until when it was open. Oldest first.
  private readonly memory = new Map<K, number>()
  private readonly events = new Channel<GroupEvent<K>>()

  constructor(
    private readonly config: BreakerGroupConfig<K, S>,
    private readonly idleEvictMs: number,
    private readonly maxKeys: number,
  ) {
    this.clock = config.clock ?? monotonicClock
    this.epoch = this.clock.now()
  }

  get events$(): EventStream<GroupEvent<K>> {
    return this.events.stream
  }

  get size(): number {
    return this.recent.size + this.aside.size
  }

  get remembered(): number {
    return this.memory.size
  }

  get(key: K): Breaker {
    const now = this.clock.now()
    const found = this.recent.get(key) ?? this.aside.get(key)
    if (found !== undefined) {
      this.recent.delete(key)
      this.aside.delete(key)
      found.lastUsed = this.usedAt(now)
      this.recent.set(key, found)
      return found
    }
    this.revisit(2, now)
    this.dropIdle(now, false)
    const roomy = this.makeRoom(now)
    const breaker = this.create(key, now)
    breaker.lastUsed = this.usedAt(now)
    this.recent.set(key, breaker)
    const events = this.events
    if (!roomy && events.observed) events.next({ _tag: 'OverCapacity', key, size: this.size, maxKeys: this.maxKeys, at: now })
    this.config.onCreate?.(breaker, key)
    if (events.observed) events.next({ _tag: 'Created', key, breaker, at: now })
    return breaker
  }

  peek(key: K): Breaker | undefined {
    return this.recent.get(key) ?? this.aside.get(key)
  }

  *keys(): IterableIterator<K> {
    yield* this.recent.keys()
    yield* this.aside.keys()
  }

  *entries(): IterableIterator<readonly [K, Breaker]> {
    for (const [key, entry] of this.recent) yield [key, entry] as const
    for (const [key, entry] of this.aside) yield [key, entry] as const
  }

  evictIdle(): number {
    const now = this.clock.now()
    return this.revisit(Number.POSITIVE_INFINITY, now) + this.dropIdle(now, true)
  }

  private usedAt(now: number): number {
    return Math.floor(now - this.epoch)
  }

  private idle(entry: Entry, now: number): boolean {
    return this.usedAt(now) - entry.lastUsed >= this.idleEvictMs
  }

  private evicted(key: K, entry: Entry, reason: 'idle' | 'capacity', evidence: 'none' | 'remembered' | 'lost', at: number): void {
    if (this.events.observed) this.events.next({ _tag: 'Evicted', key, breaker: entry, reason, evidence, at })
  }

  /**
   * An open breaker idle for `idleEvictMs` and past its open time: its verdict is stale, so it is
   * dropped and its trip remembered (a number per key, at most `maxKeys` of them). Forced-open and
   * isolated breakers (no open time) and half-open ones are never stale.
   */
  private dropIfStale(key: K, entry: Entry, now: number, s: Snapshot): boolean {
    if (!this.idle(entry, now) || s.state !== 'open' || s.openUntil === null || s.openUntil > now) return false
    this.recent.delete(key)
    this.aside.delete(key)
    const memory = this.memory
    memory.delete(key)
    memory.set(key, s.openUntil)
    while (memory.size > this.maxKeys) {
      const oldest = memory.keys().next()
      if (oldest.done === true) break
      memory.delete(oldest.value)
      if (this.events.observed) this.events.next({ _tag: 'Forgotten', key: oldest.value, at: now })
    }
    this.evicted(key, entry, 'idle', 'remembered', now)
    return true
  }

  /** Looks at `count` breakers set aside (all: `Infinity`): closed ones go back among the recent, stale ones are dropped. */
  private revisit(count: number, now: number): number {
    let seen = 0
    let dropped = 0
    for (const [key, entry] of this.aside) {
      if (seen++ >= count) break
      this.aside.delete(key)
      const snapshot = look(entry)
      if (snapshot.state === 'closed') this.recent.set(key, entry)
      else if (this.dropIfStale(key, entry, now, snapshot)) dropped++
      else this.aside.set(key, entry) // to the back of the line
    }
    return dropped
  }

  /**
   * Drops idle breakers from the least recently used end: closed ones, and open ones past their
   * time (remembered); `all`: every one held is looked at, not just up to the first in use.
   */
  private dropIdle(now: number, all: boolean): number {
    let dropped = 0
    for (const [key, entry] of this.recent) {
      if (!this.idle(entry, now)) {
        // The rest were used more recently (but for breakers back from aside, appended as they closed).
        if (all) continue
        break
      }
      const snapshot = look(entry)
      if (snapshot.state === 'closed') {
        this.recent.delete(key)
        this.evicted(key, entry, 'idle', holdsEvidence(entry, snapshot) ? 'lost' : 'none', now)
        dropped++
      } else if (this.dropIfStale(key, entry, now, snapshot)) dropped++
      else {
        this.recent.delete(key)
        this.aside.set(key, entry)
      }
    }
    return dropped
  }

  /**
   * One step of making room: among the `SCAN` least recently used, a closed breaker that holds no
   * evidence is dropped (open ones met are set aside, stale ones dropped): `'made'`; else the
   * least recently used closed one met, if any, for `makeRoom` to fall back on.
   */
  private scanForRoom(now: number): 'made' | K | undefined {
    let scanned = 0
    let oldestClosed: K | undefined
    for (const [key, entry] of this.recent) {
      if (scanned++ >= SCAN) break
      const snapshot = look(entry)
      if (snapshot.state !== 'closed') {
        if (this.dropIfStale(key, entry, now, snapshot)) return 'made'
        this.recent.delete(key)
        this.aside.set(key, entry)
      } else if (!holdsEvidence(entry, snapshot)) {
        this.recent.delete(key)
        this.evicted(key, entry, 'capacity', 'none', now)
        return 'made'
      } else oldestClosed ??= key
    }
    return oldestClosed
  }

  /**
   * Makes room for one more breaker under `maxKeys`: a closed breaker holding no evidence among the
   * least recently used, then stale breakers set aside, and only then the least recently used
   * closed one, its evidence lost (and said so). `false` if only open or half-open breakers are held.
   */
  private makeRoom(now: number): boolean {
    while (this.size >= this.maxKeys) {
      const scanned = this.scanForRoom(now)
      if (scanned === 'made') continue
      const before = this.aside.size
      this.revisit(SCAN, now)
      if (this.aside.size < before && this.size < this.maxKeys) continue
      const key = scanned ?? this.recent.keys().next().value
      const entry = key === undefined ? undefined : this.recent.get(key)
      if (key === undefined || entry === undefined) return false
      this.recent.delete(key)
      if (look(entry).state !== 'closed') this.aside.set(key, entry)
      else this.evicted(key, entry, 'capacity', holdsEvidence(entry) ? 'lost' : 'none', now)
    }
    return true
  }

  private create(key: K, now: number): Entry {
    const strategy = this.config.strategyFor(key) as Strategy<unknown>
    const nameFor = this.config.nameFor
    const breaker = new Entry(strategy, { name: nameFor === undefined ? strategy.name : nameFor(key), clock: this.clock })
    const openUntil = this.memory.get(key)
    if (openUntil !== undefined) {
      this.memory.delete(key)
      // It tripped and was dropped while open: it comes back open until then (at the earliest now:
      // its first request probes), as the breaker dropped would have been.
      breaker.dispatch(BreakerEvent.openUntil(Math.max(openUntil, now)))
    }
    return breaker
  }
}

/**
 * One breaker per key, with bounded memory. Breakers are kept in least-recently-used order;
 * closed ones are dropped lazily when idle or when the group is over `maxKeys`. Open and
 * half-open breakers are never dropped: a scan that meets one sets it aside (so no later scan
 * looks at it again), and breakers set aside are re-examined a few at a time, so `get` stays
 * O(1) amortised however many breakers are open.
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { breakerGroup } from '@datapunk/breaker-runtime'
 * const byHost = breakerGroup<string>({
 *   strategyFor: (host) => circuit({ name: host, trip: { kind: 'consecutive-failures', threshold: 5 } }),
 *   maxKeys: 1000,
 * })
 * byHost.get('api.example.test').name // 'api.example.test' (the circuit's name)
 * byHost.size // 1
 */
export const breakerGroup = <K, S = unknown>(config: BreakerGroupConfig<K, S>): BreakerGroup<K> => {
  const idleEvictMs = config.idleEvictMs ?? 600_000
  const maxKeys = config.maxKeys ?? 10_000
  if (!(idleEvictMs >= 0) || !(maxKeys >= 1) || !Number.isSafeInteger(maxKeys)) {
    throw new RangeError(`breakerGroup: expected idleEvictMs >= 0 and maxKeys an integer >= 1, got ${idleEvictMs} and ${maxKeys}`)
  }
  return new KeyedGroup(config, idleEvictMs, maxKeys)
}
