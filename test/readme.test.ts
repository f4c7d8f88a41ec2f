/** The README's marble test, kept here verbatim so the README cannot promise what fails. */
import { circuit } from '@datapunk/breaker'
import { BrokenCircuitError, createBreaker } from '@datapunk/breaker-runtime'
import { circuitBreaker } from '@datapunk/breaker-rxjs'
import { catchError, defer, mergeMap, of } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { expect, it } from 'vitest'

it('opens after two failures and rejects until the open duration has passed', () => {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected))
  scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
    const breaker = createBreaker(
      circuit({ trip: { kind: 'consecutive-failures', threshold: 2 }, openFor: { kind: 'constant', ms: 100 } }),
      { clock: scheduler },
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

/**
 * The core README's "Write your own part" block is `test/readme-custom-part.ts`, verbatim: `tsc`
 * type-checks that file with the tests, this test proves the README shows exactly it, and runs it.
 */
it("the core README's custom detector type-checks, runs, and trips on latency alone", async () => {
  const { readFileSync } = await import('node:fs')
  const readme = readFileSync(new URL('../packages/core/README.md', import.meta.url), 'utf8')
  const shown = /```ts\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('## Write your own part')))?.[1]
  expect(shown).toBe(readFileSync(new URL('./readme-custom-part.ts', import.meta.url), 'utf8'))
  const { BreakerEvent, restore } = await import('@datapunk/breaker')
  const { strategy } = await import('./readme-custom-part.js')
  let state = strategy.initial(0)
  for (let i = 0; i < 10; i++) {
    const [next, decision] = strategy.step(state, BreakerEvent.requested(), i * 100)
    state = next
    if (decision._tag === 'Admitted') [state] = strategy.step(state, BreakerEvent.succeeded(decision, 300), i * 100 + 300)
  }
  expect(strategy.inspect(state)).toMatchObject({ state: 'open', reason: 'tripped' })
  expect(restore(strategy, JSON.parse(JSON.stringify(strategy.codec.encode(state))))._tag).toBe('Right')
})
