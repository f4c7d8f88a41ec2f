/** Creating a breaker: {@link createBreaker}. */
import type { Strategy } from '@datapunk/breaker'
import { Breaker } from './Breaker.js'
import type { BreakerOptions } from './BreakerOptions.js'

/**
 * Creates a breaker: one state shared by every call that uses it, on `options.clock` (any RxJS
 * scheduler is a clock, so `TestScheduler.run` drives it in virtual time).
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { createBreaker } from '@datapunk/breaker-runtime'
 * let time = 0
 * const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }), {
 *   name: 'payments',
 *   clock: { now: () => time, schedule: () => ({ unsubscribe: () => {} }) },
 * })
 * const ticket = breaker.request()
 * if (ticket._tag === 'Admitted') breaker.failed(ticket, 12)
 * breaker.snapshot().state // 'open'
 */
export const createBreaker = <S>(strategy: Strategy<S>, options: BreakerOptions<S> = {}): Breaker =>
  new Breaker(strategy as Strategy<unknown>, options as BreakerOptions<unknown>)
