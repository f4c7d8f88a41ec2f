/** Creating a breaker: {@link createBreaker} and its options. */
import type { Strategy } from '@datapunk/breaker'
import { Breaker } from './Breaker.js'
import type { Clock } from './Clock.js'

/** Options of {@link createBreaker}. */
export interface BreakerOptions<S> {
  /** Name in errors, metrics and logs. Default: the strategy's name. */
  readonly name?: string
  /**
   * The time the breaker reads and the timer of call timeouts and waits. Default:
   * `monotonicClock` (a clock that never jumps, `setTimeout` timers); any RxJS scheduler (a
   * `TestScheduler` for marble tests) or a fake of your own for tests in virtual time.
   */
  readonly clock?: Clock
  /**
   * A state to start from, e.g. a snapshot read back from storage (as `strategy.codec.encode`
   * wrote it). Decoded with the strategy's codec: a state that does not decode throws the core's
   * `SnapshotError` naming each problem. Default: `strategy.initial(now)`.
   */
  readonly initialState?: S | unknown
}

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
