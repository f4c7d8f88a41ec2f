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
