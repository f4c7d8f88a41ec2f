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

/**
 * The README's `fetch` example is `test/readme-fetch.ts`, verbatim: against a real `node:http`
 * server that answers 503 with `Retry-After: 30`, it trips after five calls, stays away for the 30 s
 * the server asked for, and never calls the server while open; a 404 counts as an answer.
 */
it("the README's fetch example trips on 503s and honours their Retry-After, against a real server", async () => {
  const { readFileSync } = await import('node:fs')
  const { createServer } = await import('node:http')
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const shown = /```ts\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('## Without RxJS')))?.[1]
  expect(shown).toBe(readFileSync(new URL('./readme-fetch.ts', import.meta.url), 'utf8'))

  let hits = 0
  let status = 404
  const server = createServer((request, response) => {
    hits++
    request.resume()
    response.writeHead(status, status === 503 ? { 'retry-after': '30' } : {})
    response.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const { port } = server.address() as import('node:net').AddressInfo
    process.env.PAYMENTS_URL = `http://127.0.0.1:${port}`
    const { breaker, charge } = await import('./readme-fetch.js')
    // Answers the upstream gave properly: a 404 is no failure.
    for (let i = 0; i < 6; i++) expect((await charge({ amount: 1 })).status).toBe(404)
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', consecutiveFailures: 0 })
    status = 503
    for (let i = 0; i < 5; i++) expect((await charge({ amount: 1 })).status).toBe(503)
    const snapshot = breaker.snapshot()
    expect(snapshot.state).toBe('open')
    // Open for the 30 s the server asked for (the example's fallback is 5 s).
    expect((snapshot.openUntil ?? 0) - snapshot.since).toBe(30_000)
    const rejected = await charge({ amount: 1 }).catch((e: unknown) => e)
    expect(rejected).toBeInstanceOf(BrokenCircuitError)
    expect((rejected as BrokenCircuitError).retryAfterMs).toBeGreaterThan(25_000)
    expect(hits).toBe(11)
  } finally {
    server.close()
    delete process.env.PAYMENTS_URL
  }
})

/** docs/migrating.md shows `test/migrate-from-*.ts` verbatim (compiled with the tests); each runs. */
it('the migration guide shows snippets that compile and run', async () => {
  const { readFileSync } = await import('node:fs')
  const guide = readFileSync(new URL('../docs/migrating.md', import.meta.url), 'utf8')
  const block = (heading: string) => /```ts\n([\s\S]*?)```/.exec(guide.slice(guide.indexOf(heading)))?.[1]
  expect(block('## From opossum')).toBe(readFileSync(new URL('./migrate-from-opossum.ts', import.meta.url), 'utf8'))
  expect(block('## From cockatiel')).toBe(readFileSync(new URL('./migrate-from-cockatiel.ts', import.meta.url), 'utf8'))

  const opossum = await import('./migrate-from-opossum.js')
  expect(await opossum.price('sku-1')).toBe(42)
  // 404s are not the upstream's fault (errorFilter): however many, the circuit stays closed.
  for (let i = 0; i < 20; i++) await opossum.price('missing').catch(() => undefined)
  expect(opossum.breaker.snapshot().state).toBe('closed')
  expect(opossum.opened).toEqual([])

  const { createServer } = await import('node:http')
  const server = createServer((_request, response) => response.writeHead(503, { 'retry-after': '5' }).end())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const { port } = server.address() as import('node:net').AddressInfo
    const cockatiel = await import('./migrate-from-cockatiel.js')
    for (let i = 0; i < 150; i++) expect((await cockatiel.stock(`http://127.0.0.1:${port}/`)).status).toBe(503)
    expect(cockatiel.changes).toEqual(['closed -> open'])
  } finally {
    server.close()
  }
})
