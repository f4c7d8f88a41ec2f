import { Breaker } from './Breaker.js'
import type { BreakerGroup } from './breakerGroup.js'
import { kindOf } from './checkInput.js'
import { Subscription } from './EventStream.js'

/** What a metrics adapter attaches to: one breaker, or a group of keyed breakers. */
export type BreakerSource<K = unknown> = Breaker | BreakerGroup<K>

/** Checks that `source` is a breaker (`createBreaker`) or a group (`breakerGroup`): a `TypeError` naming what it got otherwise. */
export const checkSource = (where: string, source: unknown): void => {
  if (source instanceof Breaker) return
  const group = source as { readonly events$?: { readonly subscribe?: unknown }; readonly entries?: unknown } | null
  if (typeof group === 'object' && group !== null && typeof group.events$?.subscribe === 'function' && typeof group.entries === 'function')
    return
  throw new TypeError(`${where}: expected a breaker (createBreaker) or a breakerGroup, got ${kindOf(source)}`)
}

/** Told of each breaker of a source as it arrives and as it leaves. */
export interface BreakerWatcher<K> {
  /** `key` is the group key, or `undefined` for a lone breaker. */
  added(breaker: Breaker, key: K | undefined): void
  /** A breaker left the source (a group evicted it, or the watch ended). */
  removed(breaker: Breaker, key: K | undefined): void
}

/**
 * Calls `watcher.added` for every breaker of `source` (a lone breaker at once; a group's breakers
 * held now and each one it creates later) and `watcher.removed` when a group evicts one, or for
 * every breaker still held when the returned subscription is unsubscribed. Adapters (Prometheus,
 * OpenTelemetry, your own) build on it, so they need only the public streams.
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { breakerGroup, watchBreakers } from '@datapunk/breaker-runtime'
 * const group = breakerGroup<string>({ strategyFor: () => circuit({ name: 'api', trip: { kind: 'consecutive-failures', threshold: 3 } }) })
 * const seen: string[] = []
 * const watching = watchBreakers(group, { added: (b, key) => seen.push(`${b.name} ${key}`), removed: () => {} })
 * group.get('a')
 * seen // ['api a']
 * watching.unsubscribe()
 */
export const watchBreakers = <K>(source: BreakerSource<K>, watcher: BreakerWatcher<K>): Subscription => {
  checkSource('watchBreakers', source)
  const subscription = new Subscription()
  if (source instanceof Breaker) {
    watcher.added(source, undefined)
    subscription.add(() => watcher.removed(source, undefined))
    return subscription
  }
  const held = new Map<Breaker, K>()
  subscription.add(
    source.events$.subscribe((event) => {
      if (event._tag === 'Created') {
        held.set(event.breaker, event.key)
        watcher.added(event.breaker, event.key)
      } else if (event._tag === 'Evicted' && held.delete(event.breaker)) watcher.removed(event.breaker, event.key)
    }),
  )
  for (const [key, breaker] of source.entries()) {
    held.set(breaker, key)
    watcher.added(breaker, key)
  }
  subscription.add(() => {
    for (const [breaker, key] of held) watcher.removed(breaker, key)
    held.clear()
  })
  return subscription
}
