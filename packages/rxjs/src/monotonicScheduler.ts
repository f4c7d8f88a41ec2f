import { asyncScheduler, type SchedulerAction, type SchedulerLike, type Subscription } from 'rxjs'

// `performance.now()` never goes back; anchored at `timeOrigin` it reads like wall-clock time in ms.
// Read the global once: in Node it is a lazy getter, measurably slow on a path taken twice per call.
const perf = globalThis.performance
const origin = perf.timeOrigin

/**
 * The default scheduler of breakers: `asyncScheduler`'s timers with a monotonic clock
 * (`performance.timeOrigin + performance.now()`), so a wall-clock jump (NTP, a VM resumed, an
 * operator fixing the date) can neither open nor hold a circuit. Inject another scheduler (a
 * `TestScheduler`, a `VirtualTimeScheduler`) for tests in virtual time.
 *
 * @example
 * import { monotonicScheduler } from '@datapunk/breaker-rxjs'
 * const a = monotonicScheduler.now()
 * monotonicScheduler.now() >= a // true
 */
export const monotonicScheduler: SchedulerLike = {
  now: () => origin + perf.now(),
  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T): Subscription {
    return asyncScheduler.schedule(work, delay, state)
  },
}
