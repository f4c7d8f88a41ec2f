import { BreakerEvent, type Snapshot, type Strategy } from '@datapunk/breaker'
import { Breaker } from './Breaker.js'
import { type Clock, monotonicClock } from './Clock.js'
import { checkClock, checkFunction, kindOf } from './checkInput.js'
import { Channel, type EventStream } from './EventStream.js'
import { type Setup, SetupCache } from './Setup.js'

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
 * A group's breaker, with its key, when it was last handed out (whole ms since the group began),
 * and its neighbours in the group's line (`Line`): one object per key, not a breaker and an entry.
 */
class Entry<K> extends Breaker {
  lastUsed = 0
  /** The neighbour used less recently (nearer the head of its line), or none. */
  before: Entry<K> | undefined = undefined
  /** The neighbour used more recently, or none. */
  after: Entry<K> | undefined = undefined
  constructor(
    readonly key: K,
    setup: Setup,
  ) {
    // Their name, clock and strategy come from the setup the group's breakers share.
    super(setup.strategy, setup)
  }
}

/**
 * A group's breaker that `nameFor` names: its own name (each key's differs, so no setup could be
 * shared for it), its setup shared as an unnamed one's is. One field more than `Entry`, where a
 * setup of its own would cost five.
 */
class NamedEntry<K> extends Entry<K> {
  constructor(
    key: K,
    setup: Setup,
    private readonly ownName: string,
  ) {
    super(key, setup)
  }

  override get name(): string {
    return this.ownName
  }
}

/**
 * Breakers in order, the least recently used at the head: a doubly linked list through the
 * entries themselves. Moving a breaker to the tail on use is a few pointer writes; a `Map` kept in
 * use order by delete and re-insert leaves a hole at the front for every use, which every walk from
 * the head then steps over (V8 compacts a map only when it grows): after many uses of held keys,
 * looking at the least recently used took ~150 us at 200,000 keys.
 */
class Line<K> {
  head: Entry<K> | undefined = undefined
  tail: Entry<K> | undefined = undefined
  size = 0

  push(e: Entry<K>): void {
    e.before = this.tail
    e.after = undefined
    if (this.tail === undefined) this.head = e
    else this.tail.after = e
    this.tail = e
    this.size++
  }

  remove(e: Entry<K>): void {
    if (e.before === undefined) this.head = e.after
    else e.before.after = e.after
    if (e.after === undefined) this.tail = e.before
    else e.after.before = e.before
    e.before = undefined
    e.after = undefined
    this.size--
  }

  *entries(): IterableIterator<Entry<K>> {
    for (let e = this.head; e !== undefined; ) {
      const next = e.after
      yield e
      e = next
    }
  }
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

/**
 * A breaker group (see {@link breakerGroup}): breakers by key, on two lines: the recent (least
 * recently used first) and those set aside (open or half-open, in the order they were set aside).
 */
class KeyedGroup<K, S> implements BreakerGroup<K> {
  private readonly clock: Clock
  // Use times are whole ms since the group began: small integers, stored inline (no number box per key).
  private readonly epoch: number
  // Every breaker held, by key.
  private readonly held = new Map<K, Entry<K>>()
  // Least recently used first: the line scans for room and idle breakers walk from its head.
  private readonly recent = new Line<K>()
  // Breakers a scan found open or half-open: kept aside, out of the scans, until they close or go stale.
  private readonly aside = new Line<K>()
  // Which line each breaker is on: the aside ones (a set, since few are).
  private readonly setAside = new Set<Entry<K>>()
  // Keys whose breaker was dropped open (idle past its open time): until when it was open. Oldest first.
  private readonly memory = new Map<K, number>()
  private readonly events = new Channel<GroupEvent<K>>()
  // What its breakers run with, shared by those that run the same strategy (a named one keeps its name beside it).
  private readonly setups: SetupCache

  constructor(
    private readonly config: BreakerGroupConfig<K, S>,
    private readonly idleEvictMs: number,
    private readonly maxKeys: number,
  ) {
    this.clock = config.clock ?? monotonicClock
    this.epoch = this.clock.now()
    this.setups = new SetupCache(this.clock)
  }

  get events$(): EventStream<GroupEvent<K>> {
    return this.events.stream
  }

  get size(): number {
    return this.held.size
  }

  get remembered(): number {
    return this.memory.size
  }

  get(key: K): Breaker {
    const now = this.clock.now()
    const found = this.held.get(key)
    if (found !== undefined) {
      this.takeOut(found)
      found.lastUsed = this.usedAt(now)
      this.recent.push(found)
      return found
    }
    this.revisit(2, now)
    this.dropIdle(now, false)
    const roomy = this.makeRoom(now)
    const breaker = this.create(key, now)
    breaker.lastUsed = this.usedAt(now)
    this.held.set(key, breaker)
    this.recent.push(breaker)
    const events = this.events
    if (!roomy && events.observed) events.next({ _tag: 'OverCapacity', key, size: this.size, maxKeys: this.maxKeys, at: now })
    this.config.onCreate?.(breaker, key)
    if (events.observed) events.next({ _tag: 'Created', key, breaker, at: now })
    return breaker
  }

  peek(key: K): Breaker | undefined {
    return this.held.get(key)
  }

  *keys(): IterableIterator<K> {
    for (const e of this.recent.entries()) yield e.key
    for (const e of this.aside.entries()) yield e.key
  }

  *entries(): IterableIterator<readonly [K, Breaker]> {
    for (const e of this.recent.entries()) yield [e.key, e] as const
    for (const e of this.aside.entries()) yield [e.key, e] as const
  }

  evictIdle(): number {
    const now = this.clock.now()
    return this.revisit(this.aside.size, now) + this.dropIdle(now, true)
  }

  /** Takes a breaker off whichever line holds it (it stays held). */
  private takeOut(e: Entry<K>): void {
    if (this.setAside.size !== 0 && this.setAside.delete(e)) this.aside.remove(e)
    else this.recent.remove(e)
  }

  private usedAt(now: number): number {
    return Math.floor(now - this.epoch)
  }

  private idle(entry: Entry<K>, now: number): boolean {
    return this.usedAt(now) - entry.lastUsed >= this.idleEvictMs
  }

  /** Moves a breaker of the recent line aside (to the back of that line). */
  private putAside(entry: Entry<K>): void {
    this.recent.remove(entry)
    this.aside.push(entry)
    this.setAside.add(entry)
  }

  /** Drops a breaker from the group (from whichever line holds it). */
  private drop(entry: Entry<K>): void {
    this.takeOut(entry)
    this.held.delete(entry.key)
  }

  private evicted(entry: Entry<K>, reason: 'idle' | 'capacity', evidence: 'none' | 'remembered' | 'lost', at: number): void {
    this.drop(entry)
    if (this.events.observed) this.events.next({ _tag: 'Evicted', key: entry.key, breaker: entry, reason, evidence, at })
  }

  /**
   * An open breaker idle for `idleEvictMs` and past its open time: its verdict is stale, so it is
   * dropped and its trip remembered (a number per key, at most `maxKeys` of them). Forced-open and
   * isolated breakers (no open time) and half-open ones are never stale.
   */
  private dropIfStale(entry: Entry<K>, now: number, s: Snapshot): boolean {
    if (!this.idle(entry, now) || s.state !== 'open' || s.openUntil === null || s.openUntil > now) return false
    const key = entry.key
    const memory = this.memory
    memory.delete(key)
    memory.set(key, s.openUntil)
    while (memory.size > this.maxKeys) {
      const oldest = memory.keys().next()
      if (oldest.done === true) break
      memory.delete(oldest.value)
      if (this.events.observed) this.events.next({ _tag: 'Forgotten', key: oldest.value, at: now })
    }
    this.evicted(entry, 'idle', 'remembered', now)
    return true
  }

  /**
   * Looks at the first `count` breakers set aside: closed ones go back among the recent, stale ones
   * are dropped, the others go to the back of the line (each is looked at once a call).
   */
  private revisit(count: number, now: number): number {
    let dropped = 0
    for (let seen = 0; seen < count; seen++) {
      const entry = this.aside.head
      if (entry === undefined) break
      const snapshot = look(entry)
      if (snapshot.state === 'closed') {
        this.takeOut(entry)
        this.recent.push(entry)
      } else if (this.dropIfStale(entry, now, snapshot)) dropped++
      else {
        this.aside.remove(entry)
        this.aside.push(entry) // to the back of the line
      }
    }
    return dropped
  }

  /**
   * Drops idle breakers from the least recently used end: closed ones, and open ones past their
   * time (remembered); `all`: every one held is looked at, not just up to the first in use.
   */
  private dropIdle(now: number, all: boolean): number {
    let dropped = 0
    for (let entry = this.recent.head; entry !== undefined; ) {
      const next = entry.after
      if (!this.idle(entry, now)) {
        // The rest were used more recently (but for breakers back from aside, appended as they closed).
        if (!all) break
      } else {
        const snapshot = look(entry)
        if (snapshot.state === 'closed') {
          this.evicted(entry, 'idle', holdsEvidence(entry, snapshot) ? 'lost' : 'none', now)
          dropped++
        } else if (this.dropIfStale(entry, now, snapshot)) dropped++
        else this.putAside(entry)
      }
      entry = next
    }
    return dropped
  }

  /**
   * One step of making room: among the `SCAN` least recently used, a closed breaker that holds no
   * evidence is dropped (open ones met are set aside, stale ones dropped): `'made'`; else the
   * least recently used closed one met, if any, for `makeRoom` to fall back on.
   */
  private scanForRoom(now: number): 'made' | Entry<K> | undefined {
    let scanned = 0
    let oldestClosed: Entry<K> | undefined
    for (let entry = this.recent.head; entry !== undefined && scanned++ < SCAN; ) {
      const next = entry.after
      const snapshot = look(entry)
      if (snapshot.state !== 'closed') {
        if (this.dropIfStale(entry, now, snapshot)) return 'made'
        this.putAside(entry)
      } else if (!holdsEvidence(entry, snapshot)) {
        this.evicted(entry, 'capacity', 'none', now)
        return 'made'
      } else oldestClosed ??= entry
      entry = next
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
      const entry = scanned ?? this.recent.head
      if (entry === undefined) return false
      if (look(entry).state !== 'closed') this.putAside(entry)
      else this.evicted(entry, 'capacity', holdsEvidence(entry) ? 'lost' : 'none', now)
    }
    return true
  }

  private create(key: K, now: number): Entry<K> {
    const strategy = this.config.strategyFor(key) as Strategy<unknown>
    const nameFor = this.config.nameFor
    const setup = this.setups.setupFor(strategy)
    const name = nameFor === undefined ? strategy.name : nameFor(key)
    if (typeof name !== 'string') throw new TypeError(`breakerGroup: nameFor(key) must return a string, got ${kindOf(name)}`)
    const breaker = name === setup.name ? new Entry(key, setup) : new NamedEntry(key, setup, name)
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
  if (typeof config !== 'object' || config === null) throw new TypeError(`breakerGroup: expected a config object, got ${kindOf(config)}`)
  if (typeof config.strategyFor !== 'function') {
    const given = config as { readonly step?: unknown }
    throw new TypeError(
      typeof given.step === 'function'
        ? 'breakerGroup: expected { strategyFor: (key) => strategy, ... }, got a strategy (give it as strategyFor: () => strategy)'
        : `breakerGroup: strategyFor must be a function (key) => strategy, got ${kindOf(config.strategyFor)}`,
    )
  }
  checkFunction('breakerGroup', 'nameFor', config.nameFor)
  checkFunction('breakerGroup', 'onCreate', config.onCreate)
  if (config.clock !== undefined) checkClock('breakerGroup', config.clock)
  const idleEvictMs = config.idleEvictMs ?? 600_000
  const maxKeys = config.maxKeys ?? 10_000
  if (typeof idleEvictMs !== 'number' || !(idleEvictMs >= 0) || !(maxKeys >= 1) || !Number.isSafeInteger(maxKeys)) {
    throw new RangeError(`breakerGroup: expected idleEvictMs >= 0 and maxKeys an integer >= 1, got ${idleEvictMs} and ${maxKeys}`)
  }
  return new KeyedGroup(config, idleEvictMs, maxKeys)
}
