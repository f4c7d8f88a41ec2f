import { type ConfigOptions, strategyFromConfig } from '@datapunk/breaker'
import { Breaker } from './Breaker.js'
import { checkOptions, kindOf } from './checkInput.js'
import type { Subscribable, Unsubscribable } from './EventStream.js'

/**
 * Hot reconfiguration: the breaker follows a stream of JSON configs (anything with RxJS's
 * `subscribe(observer)`: an RxJS Observable, a watcher of your config store) (circuits, or adaptive
 * throttles around them: see `strategyFromConfig`). Each is decoded with the
 * core's codecs (and `options.kinds`, your own part kinds, if given); a valid one is swapped in (keeping the phase, `openUntil` and compatible counts;
 * `ConfigSwapped` on `transitions$`), an invalid one is reported as `ConfigRejected` with the
 * readable error and changes nothing. A config whose part throws (while adopting the state, or
 * later on a call) is rejected the same way, and the breaker goes back to the strategy it used
 * before (see `Breaker.swap`). An error of the config stream itself is reported the same way and
 * ends the following; the breaker keeps its current strategy.
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { createBreaker, followConfig } from '@datapunk/breaker-runtime'
 * const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 5 } }))
 * const configs = {
 *   subscribe(observer: { next?: (config: unknown) => void }) {
 *     observer.next?.({ name: 'payments', trip: { kind: 'consecutive-failures', threshold: 2 } })
 *     return { unsubscribe: () => {} }
 *   },
 * }
 * followConfig(breaker, configs)
 * breaker.strategy.name // 'payments'
 */
export const followConfig = (breaker: Breaker, configs$: Subscribable<unknown>, options: ConfigOptions = {}): Unsubscribable => {
  if (!(breaker instanceof Breaker)) throw new TypeError(`followConfig: expected a breaker (createBreaker), got ${kindOf(breaker)}`)
  if (typeof (configs$ as Partial<Subscribable<unknown>> | null)?.subscribe !== 'function')
    throw new TypeError(`followConfig: configs$ must be subscribable (an Observable, or anything with subscribe), got ${kindOf(configs$)}`)
  checkOptions('followConfig', options)
  return configs$.subscribe({
    next: (config) => {
      const decoded = strategyFromConfig(config, options)
      if (decoded._tag === 'Left') breaker.configRejected(decoded.left.message)
      else breaker.swap(decoded.right)
    },
    error: (error: unknown) => breaker.configRejected(`config stream failed: ${error instanceof Error ? error.message : String(error)}`),
  })
}
