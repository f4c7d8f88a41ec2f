/** The README's marble test, kept here verbatim so the README cannot promise what fails. */
import { circuit } from '@datapunk/breaker'
import { BrokenCircuitError, circuitBreaker, createBreaker } from '@datapunk/breaker-rxjs'
import { catchError, defer, mergeMap, of } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { expect, it } from 'vitest'

it('opens after two failures and rejects until the open duration has passed', () => {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected))
  scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
    const breaker = createBreaker(
      circuit({ trip: { kind: 'consecutive-failures', threshold: 2 }, openFor: { kind: 'constant', ms: 100 } }),
      { scheduler },
    )
    const upstream = cold('-#', undefined, new Error('down'))
    const calls = hot('r 9ms r 9ms r').pipe(
      mergeMap(() =>
        defer(() => upstream).pipe(
          circuitBreaker(breaker),
          catchError((e: Error) => of(e instanceof BrokenCircuitError ? `rejected, retry in ${e.retryAfterMs}` : e.message)),
        ),
      ),
    )
    expectObservable(calls).toBe('-a 9ms a 8ms b', { a: 'down', b: 'rejected, retry in 91' })
    expectSubscriptions(upstream.subscriptions).toBe(['^!', '10ms ^!']) // the rejected call never subscribed
  })
})
