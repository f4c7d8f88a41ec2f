import type { CircuitState, Strategy } from '@datapunk/breaker'
import { Breaker } from './Breaker.js'
import { type Clock, monotonicClock } from './Clock.js'
import { Channel, type EventStream } from './EventStream.js'

/** Options of {@link breakerGroup}. */
export interface BreakerGroupConfig<K, S> {
  /** The strategy of the breaker for `key` (called once per key, when its breaker is created). */
  readonly strategyFor: (key: K) => Strategy<S>
  /** Name of the breaker for `key`, in errors, metrics and logs. Default: `String(key)`. */
  readonly nameFor?: (key: K) => string
  /**
   * A closed breaker unused for this long (clock time) is dropped the next time the group is
   * used: there is no timer per breaker. Default 10 min.
   */
  readonly idleEvictMs?: number
  /**
   * How many breakers the group aims to hold. Past it, closed breakers are dropped, least recently
   * used first, idle or not. An open or half-open breaker is never dropped (it still protects its
   * upstream, and a fresh closed one would let the traffic through): if every breaker held is open
   * or half-open, the group grows past `maxKeys` and reports `OverCapacity` on `events$`.
   * Default 10,000.
   */
  readonly maxKeys?: number
  /** The clock of every breaker in the group. Default `monotonicClock`. */
  readonly clock?: Clock
  /** Called with each breaker as it is created (to subscribe logging or metrics to it). */
  readonly onCreate?: (breaker: Breaker, key: K) => void
}

/** What the group did with its breakers: creations, evictions, and growth past `maxKeys`. */
export type GroupEvent<K> =
  | { readonly _tag: 'Created'; readonly key: K; readonly breaker: Breaker; readonly at: number }
  | {
      readonly _tag: 'Evicted'
      readonly key: K
      readonly breaker: Breaker
      /** `idle`: unused for `idleEvictMs`; `capacity`: dropped to stay within `maxKeys`. */
      readonly reason: 'idle' | 'capacity'
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
  /** Drops the idle closed breakers now (also done on every `get` of a new key). Returns how many were dropped. */
  evictIdle(): number
  /** Creations, evictions and growth past `maxKeys`, as they happen. Hot. */
  readonly events$: EventStream<GroupEvent<K>>
}

interface Entry {
  readonly breaker: Breaker
  lastUsed: number
}

const stateOf = (entry: Entry): CircuitState => entry.breaker.snapshot().state

/** Looks at a few breakers set aside; those closed again go back among the recent ones. */
const revisit = <K>(recent: Map<K, Entry>, aside: Map<K, Entry>, count: number): void => {
  let seen = 0
  for (const [key, entry] of aside) {
    if (seen++ >= count) return
    aside.delete(key)
    if (stateOf(entry) === 'closed') recent.set(key, entry)
    else aside.set(key, entry) // to the back of the line
  }
}

/**
 * Makes room for one more breaker under `maxKeys`, evicting closed breakers least recently used
 * first and setting open ones aside; `false` if only open or half-open breakers are held.
 */
const makeRoom = <K>(recent: Map<K, Entry>, aside: Map<K, Entry>, maxKeys: number, evict: (key: K, entry: Entry) => void): boolean => {
  while (recent.size + aside.size >= maxKeys) {
    const oldest = recent.entries().next()
    if (oldest.done === true) return false
    const [key, entry] = oldest.value
    if (stateOf(entry) === 'closed') evict(key, entry)
    else {
      recent.delete(key)
      aside.set(key, entry)
    }
  }
  return true
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
 * byHost.get('api.example.test').name // 'api.example.test'
 * byHost.size // 1
 */
export const breakerGroup = <K, S = unknown>(config: BreakerGroupConfig<K, S>): BreakerGroup<K> => {
  const idleEvictMs = config.idleEvictMs ?? 600_000
  const maxKeys = config.maxKeys ?? 10_000
  if (!(idleEvictMs >= 0) || !(maxKeys >= 1) || !Number.isSafeInteger(maxKeys)) {
    throw new RangeError(`breakerGroup: expected idleEvictMs >= 0 and maxKeys an integer >= 1, got ${idleEvictMs} and ${maxKeys}`)
  }
  const clock = config.clock ?? monotonicClock
  // Use times are whole ms since the group began: small integers, stored inline (no number box per key).
  const epoch = clock.now()
  const usedAt = (now: number): number => Math.floor(now - epoch)
  const nameFor = config.nameFor ?? ((key: K) => String(key))
  // Map iteration order is insertion order: re-inserting on use keeps it least recently used first.
  const recent = new Map<K, Entry>()
  // Breakers a scan found open or half-open: kept aside, out of the scans, until they close.
  const aside = new Map<K, Entry>()
  const events = new Channel<GroupEvent<K>>()

  const evict = (key: K, entry: Entry, reason: 'idle' | 'capacity', at: number): void => {
    recent.delete(key)
    if (events.observed) events.next({ _tag: 'Evicted', key, breaker: entry.breaker, reason, at })
  }

  /** Drops idle closed breakers from the least recently used end; sets open ones aside. */
  const evictIdle = (): number => {
    const now = clock.now()
    let dropped = 0
    for (const [key, entry] of recent) {
      if (usedAt(now) - entry.lastUsed < idleEvictMs) break // the rest were used more recently
      if (stateOf(entry) === 'closed') {
        evict(key, entry, 'idle', now)
        dropped++
      } else {
        recent.delete(key)
        aside.set(key, entry)
      }
    }
    return dropped
  }

  return {
    get: (key) => {
      const now = clock.now()
      const found = recent.get(key) ?? aside.get(key)
      if (found !== undefined) {
        recent.delete(key)
        aside.delete(key)
        found.lastUsed = usedAt(now)
        recent.set(key, found)
        return found.breaker
      }
      revisit(recent, aside, 2)
      evictIdle()
      const roomy = makeRoom(recent, aside, maxKeys, (k, e) => evict(k, e, 'capacity', now))
      const breaker = new Breaker(config.strategyFor(key) as Strategy<unknown>, { name: nameFor(key), clock })
      recent.set(key, { breaker, lastUsed: usedAt(now) })
      if (!roomy && events.observed) events.next({ _tag: 'OverCapacity', key, size: recent.size + aside.size, maxKeys, at: now })
      config.onCreate?.(breaker, key)
      if (events.observed) events.next({ _tag: 'Created', key, breaker, at: now })
      return breaker
    },
    peek: (key) => (recent.get(key) ?? aside.get(key))?.breaker,
    get size() {
      return recent.size + aside.size
    },
    keys: function* () {
      yield* recent.keys()
      yield* aside.keys()
    },
    entries: function* () {
      for (const [key, entry] of recent) yield [key, entry.breaker] as const
      for (const [key, entry] of aside) yield [key, entry.breaker] as const
    },
    evictIdle,
    events$: events.stream,
  }
}
