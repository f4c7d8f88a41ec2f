import type { BreakerEvent, Decision, Strategy } from '@datapunk/breaker'
import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike } from 'rxjs'

/** Options of {@link decide}. */
export interface DecideConfig<S> {
  /** The clock: each event is stepped at `scheduler.now()`. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike
  /** The state to start from. Default `strategy.initial(now)` at subscription. */
  readonly initialState?: S
}

/**
 * The plain stream form of a strategy: turns a stream of events into `[state, decision]` pairs,
 * one state per subscription. For replaying recorded traffic and for analytics; use
 * `createBreaker` and `circuitBreaker` to protect calls.
 *
 * @example
 * import { BreakerEvent, circuit } from '@datapunk/breaker'
 * import { decide } from '@datapunk/breaker-rxjs'
 * import { from, map } from 'rxjs'
 * const strategy = circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } })
 * const tags: string[] = []
 * from([BreakerEvent.requested(), BreakerEvent.failed({ generation: 0, id: 0, probe: false }, 3), BreakerEvent.requested()])
 *   .pipe(decide(strategy), map(([, decision]) => decision._tag))
 *   .subscribe((tag) => tags.push(tag))
 * tags // ['Admitted', 'Recorded', 'Rejected']
 */
export const decide =
  <S>(strategy: Strategy<S>, config: DecideConfig<S> = {}): OperatorFunction<BreakerEvent, readonly [S, Decision]> =>
  (source) =>
    new Observable<readonly [S, Decision]>((subscriber) => {
      const scheduler = config.scheduler ?? asyncScheduler
      let state = config.initialState ?? strategy.initial(scheduler.now())
      return source.subscribe({
        next: (event) => {
          const result = strategy.step(state, event, scheduler.now())
          state = result[0]
          subscriber.next(result)
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      })
    })
