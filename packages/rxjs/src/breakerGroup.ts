import type { Strategy } from '@datapunk/breaker'
import { asyncScheduler, type SchedulerLike } from 'rxjs'
import { Breaker } from './Breaker.js'

/** Options of {@link breakerGroup}. */
export interface BreakerGroupConfig<K, S> {
  /** The strategy of the breaker for `key` (called once per key, when its breaker is created). */
  readonly strategyFor: (key: K) => Strategy<S>
  /** Name of the breaker for `key`, in errors, metrics and logs. Default: `String(key)`. */
  readonly nameFor?: (key: K) => string
  /**
   * A breaker unused for this long (scheduler time) is dropped the next time the group is used:
   * there is no timer per breaker. It is dropped only if it is closed (an open or half-open
   * breaker is still protecting its upstream), unless the group is over `maxKeys`. Default 10 min.
   */
  readonly idleEvictMs?: number
  /** Hard cap on breakers held: past it, the least recently used is dropped whatever its phase. Default 10,000. */
  readonly maxKeys?: number
  /** Clock and scheduler of every breaker in the group. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike
  /** Called with each breaker as it is created (to subscribe logging or metrics to it). */
  readonly onCreate?: (breaker: Breaker, key: K) => void
}

/** Breakers by key (host, route, tenant), created on first use, evicted when idle, capped in number. */
export interface BreakerGroup<K> {
  /** The breaker for `key`, created if needed; marks it used now. */
  get(key: K): Breaker
  /** The breaker for `key` if held, without creating it or marking it used. */
  peek(key: K): Breaker | undefined
  /** Number of breakers held. */
  readonly size: number
  /** Keys held, least recently used first. */
  keys(): IterableIterator<K>
  /** Drops the idle breakers now (also done on every `get`). Returns how many were dropped. */
  evictIdle(): number
}

/**
 * One breaker per key, with bounded memory: breakers are kept in least-recently-used order;
 * idle closed ones are dropped lazily on use, and the group never holds more than `maxKeys`.
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { breakerGroup } from '@datapunk/breaker-rxjs'
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
  const scheduler = config.scheduler ?? asyncScheduler
  const nameFor = config.nameFor ?? ((key: K) => String(key))
  // Map iteration order is insertion order: re-inserting on use keeps it least recently used first.
  const entries = new Map<K, { breaker: Breaker; lastUsed: number }>()

  const evictIdle = (): number => {
    const now = scheduler.now()
    let dropped = 0
    for (const [key, entry] of entries) {
      if (now - entry.lastUsed < idleEvictMs) break // the rest were used more recently
      if (entry.breaker.snapshot().state === 'closed') {
        entries.delete(key)
        dropped++
      }
    }
    return dropped
  }

  return {
    get: (key) => {
      const now = scheduler.now()
      const found = entries.get(key)
      if (found !== undefined) {
        entries.delete(key)
        found.lastUsed = now
        entries.set(key, found)
        return found.breaker
      }
      evictIdle()
      while (entries.size >= maxKeys) {
        const oldest = entries.keys().next()
        if (oldest.done === true) break
        entries.delete(oldest.value)
      }
      const breaker = new Breaker(config.strategyFor(key) as Strategy<unknown>, { name: nameFor(key), scheduler })
      entries.set(key, { breaker, lastUsed: now })
      config.onCreate?.(breaker, key)
      return breaker
    },
    peek: (key) => entries.get(key)?.breaker,
    get size() {
      return entries.size
    },
    keys: () => entries.keys(),
    evictIdle,
  }
}
