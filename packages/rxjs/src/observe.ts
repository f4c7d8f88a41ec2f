import type { Snapshot } from '@datapunk/breaker'
import type {
  Breaker,
  BreakerGroup,
  CallEvent,
  CallOutcomeEvent,
  EventStream,
  GroupEvent,
  MetricEvent,
  TransitionEvent,
} from '@datapunk/breaker-runtime'
import { Observable } from 'rxjs'

/** A breaker's event streams as RxJS Observables (hot, as the breaker's own). */
export interface BreakerObservables {
  /** Per-call metric events (admitted, rejected, succeeded, failed, cancelled, stale). */
  readonly calls$: Observable<CallEvent>
  /** `calls$` without the admissions: what became of each call. */
  readonly outcomes$: Observable<CallOutcomeEvent>
  /** State changes, recovery-rate changes, config swaps, rejected configs, classifiers that threw. */
  readonly transitions$: Observable<TransitionEvent>
  /** `calls$` and `transitions$` merged. */
  readonly metrics$: Observable<MetricEvent>
  /** The current snapshot at once, then one per change of phase, mode, generation or admit rate. */
  readonly state$: Observable<Snapshot>
}

/** An RxJS Observable of a runtime event stream: subscribing subscribes to the stream. */
export const toObservable = <T>(stream: EventStream<T>): Observable<T> =>
  new Observable<T>((subscriber) => {
    const subscription = stream.subscribe((value) => subscriber.next(value))
    return () => subscription.unsubscribe()
  })

/**
 * The event streams of a breaker as RxJS Observables, to pipe through RxJS operators. (The
 * breaker's own streams are interop observables already: `from(breaker.calls$)` works too.)
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { createBreaker } from '@datapunk/breaker-runtime'
 * import { observe } from '@datapunk/breaker-rxjs'
 * import { filter, map } from 'rxjs'
 * const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }))
 * const states: string[] = []
 * observe(breaker).state$.pipe(map((s) => s.state), filter((s) => s !== 'closed')).subscribe((s) => states.push(s))
 * await breaker.execute(async () => { throw new Error('down') }).catch(() => {})
 * states // ['open']
 */
export const observe = (breaker: Breaker): BreakerObservables => ({
  calls$: toObservable(breaker.calls$),
  outcomes$: toObservable(breaker.outcomes$),
  transitions$: toObservable(breaker.transitions$),
  metrics$: toObservable(breaker.metrics$),
  state$: toObservable(breaker.state$),
})

/**
 * A keyed group's events (creations, evictions, growth past `maxKeys`) as an RxJS Observable.
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { breakerGroup } from '@datapunk/breaker-runtime'
 * import { observeGroup } from '@datapunk/breaker-rxjs'
 * const group = breakerGroup<string>({ strategyFor: () => circuit({ trip: { kind: 'consecutive-failures', threshold: 3 } }) })
 * const created: string[] = []
 * observeGroup(group).subscribe((e) => created.push(e._tag))
 * group.get('a')
 * created // ['Created']
 */
export const observeGroup = <K>(group: BreakerGroup<K>): Observable<GroupEvent<K>> => toObservable(group.events$)
