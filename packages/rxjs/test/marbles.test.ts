import { circuit } from '@datapunk/breaker'
import { BrokenCircuitError, CallTimeoutError, classifyHttp, createBreaker, type MetricEvent } from '@datapunk/breaker-runtime'
import { circuitBreaker, observe } from '@datapunk/breaker-rxjs'
import { catchError, defer, filter, map, mergeMap, type Observable, of, take } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import { halfOpenBreaker } from './fixtures.js'

const newScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected))

/** Errors as values, so a marble diagram can show them. */
const describeErrors = <T>(source: Observable<T>): Observable<T | string> =>
  source.pipe(
    catchError((error: unknown) =>
      of(
        error instanceof BrokenCircuitError
          ? `rejected:${error.reason}:${error.retryAfterMs}`
          : error instanceof CallTimeoutError
            ? 'timeout'
            : error instanceof Error
              ? error.message
              : String(error),
      ),
    ),
  )

describe('circuitBreaker in virtual time', () => {
  it('a hung upstream trips once its calls run past slowCallMs, not at their timeout', () => {
    const scheduler = newScheduler()
    scheduler.run(({ cold, hot, expectObservable }) => {
      const breaker = createBreaker(
        circuit({
          trip: { kind: 'slow-call-rate', threshold: 0.5, slowCallMs: 50, minimumCalls: 2, window: { kind: 'count', size: 10 } },
          openFor: { kind: 'constant', ms: 1_000 },
        }),
        { clock: scheduler },
      )
      const hung = cold('-')
      // Two calls hang; the request at 60 ms finds them 60 and 50 ms old (two slow of two): open, and rejected.
      const requests = hot('r 9ms r 49ms r')
      const results = requests.pipe(mergeMap(() => describeErrors(hung.pipe(circuitBreaker(breaker, { timeoutMs: 500 })))))
      expectObservable(results).toBe('60ms a 439ms t 9ms t', { a: 'rejected:open:1000', t: 'timeout' })
    })
  })

  it('trips after failures, rejects with the right retryAfterMs without subscribing, and probes after the open duration', () => {
    const scheduler = newScheduler()
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const breaker = createBreaker(
        circuit({
          trip: { kind: 'consecutive-failures', threshold: 2 },
          recovery: { kind: 'classic', probes: 1 },
          openFor: { kind: 'constant', ms: 100 },
        }),
        { clock: scheduler },
      )
      const failing = cold('-#', undefined, new Error('down'))
      const healthy = cold('-a|')
      let up = false
      scheduler.schedule(() => {
        up = true
      }, 100)
      const requests = hot('r 9ms r 9ms r 9ms r 89ms r')
      const results = requests.pipe(mergeMap(() => describeErrors(defer(() => (up ? healthy : failing)).pipe(circuitBreaker(breaker)))))
      expectObservable(results).toBe('-d 9ms d 8ms a 9ms b 90ms c', {
        d: 'down',
        a: 'rejected:open:91',
        b: 'rejected:open:81',
        c: 'a',
      })
      // Rejected requests (frames 20 and 30) never subscribed to the source.
      expectSubscriptions(failing.subscriptions).toBe(['^!', '10ms ^!'])
      expectSubscriptions(healthy.subscriptions).toBe(['120ms ^-!'])
    })
  })

  it('reports the trip and the probe as state changes, at scheduler time', () => {
    const scheduler = newScheduler()
    scheduler.run(({ cold, hot, expectObservable }) => {
      const breaker = createBreaker(
        circuit({
          trip: { kind: 'consecutive-failures', threshold: 1 },
          recovery: { kind: 'classic', probes: 1 },
          openFor: { kind: 'constant', ms: 50 },
        }),
        { name: 'svc', clock: scheduler },
      )
      const changes = observe(breaker).transitions$.pipe(
        filter((e): e is Extract<MetricEvent, { _tag: 'StateChanged' }> => e._tag === 'StateChanged'),
        map((e) => `${e.from}>${e.to}@${e.at}`),
      )
      expectObservable(changes).toBe('--x 57ms (yz)', { x: 'closed>open@2', y: 'open>half-open@60', z: 'half-open>closed@60' })
      const upstream = (value: string) => (value === 'f' ? cold('--#', undefined, new Error('down')) : of('ok'))
      hot('f 59ms s')
        .pipe(mergeMap((v) => describeErrors(defer(() => upstream(v)).pipe(circuitBreaker(breaker)))))
        .subscribe()
    })
  })

  it("ramps gradual recovery's admitted fraction, with a recovery-rate event per step", () => {
    const scheduler = newScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      const breaker = createBreaker(
        circuit({
          trip: { kind: 'consecutive-failures', threshold: 1 },
          recovery: {
            kind: 'gradual',
            initialRate: 0.25,
            increment: 0.25,
            maxSpeed: 1,
            stageCalls: 2,
            stageMs: 0,
            confidence: 0.5,
            probationMs: 0,
          },
          openFor: { kind: 'constant', ms: 10 },
        }),
        { clock: scheduler },
      )
      const rates = observe(breaker).transitions$.pipe(
        filter((e) => e._tag === 'RecoveryRateChanged'),
        map((e) => (e._tag === 'RecoveryRateChanged' ? e.to : -1)),
      )
      // Trip at 0; from 10 a request every ms, all succeeding at once.
      const admittedAt: number[] = []
      hot(`f 9ms ${'r '.repeat(40).trim()}`)
        .pipe(
          mergeMap((v) =>
            describeErrors(
              defer(() => {
                if (v === 'r') admittedAt.push(scheduler.now())
                return v === 'f'
                  ? of(1).pipe(
                      map(() => {
                        throw new Error('down')
                      }),
                    )
                  : of('ok')
              }).pipe(circuitBreaker(breaker)),
            ),
          ),
        )
        .subscribe()
      // Stages of 2 calls: at 25% the 1st and 5th requests go through (frames 10, 14), at 50% every
      // 2nd (16, 18), at 75% three in four (20, 21), at 100% all (22, 23), then the circuit closes.
      expectObservable(rates).toBe('10ms a 3ms b 3ms c 2ms d', { a: 0.25, b: 0.5, c: 0.75, d: 1 })
      scheduler.flush()
      expect(admittedAt.slice(0, 9)).toEqual([10, 14, 16, 18, 20, 21, 22, 23, 24])
      expect(breaker.snapshot().state).toBe('closed')
    })
  })

  it('times out a call: the source is unsubscribed, the subscriber gets CallTimeoutError, the call counts as failed', () => {
    const scheduler = newScheduler()
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }), { clock: scheduler })
      const slow = cold('-----a|')
      expectObservable(describeErrors(slow.pipe(circuitBreaker(breaker, { timeoutMs: 3 })))).toBe('---(t|)', { t: 'timeout' })
      expectSubscriptions(slow.subscriptions).toBe('^--!')
      scheduler.flush()
      expect(breaker.snapshot().state).toBe('open')
    })
  })

  it('downstream unsubscribe unsubscribes the source and gives the probe permit back', () => {
    const scheduler = newScheduler()
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const breaker = halfOpenBreaker(scheduler)
      const hanging = cold('-----a|')
      expectObservable(hanging.pipe(circuitBreaker(breaker)), '^--!').toBe('---')
      expectSubscriptions(hanging.subscriptions).toBe('^--!')
      scheduler.flush()
      expect(breaker.snapshot().recovery).toMatchObject({ kind: 'classic', inFlight: 0 })
      expect(breaker.request()._tag).toBe('Admitted')
    })
  })

  it('an unsubscribe after a value (take(1), firstValueFrom) counts as a success', () => {
    const scheduler = newScheduler()
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const breaker = halfOpenBreaker(scheduler)
      const chatty = cold('-a-b-c|')
      expectObservable(chatty.pipe(circuitBreaker(breaker), take(1))).toBe('-(a|)')
      expectSubscriptions(chatty.subscriptions).toBe('^!')
      scheduler.flush()
      expect(breaker.snapshot().state).toBe('closed')
    })
  })

  it("onUnsubscribe: 'failure' counts an abandoned call against the upstream", () => {
    const scheduler = newScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }), { clock: scheduler })
      expectObservable(cold('-----a|').pipe(circuitBreaker(breaker, { onUnsubscribe: 'failure' })), '^-!').toBe('--')
      scheduler.flush()
      expect(breaker.snapshot().state).toBe('open')
    })
  })

  it('an error the predicate clears counts nowhere; successOn first-value settles a never-ending source', () => {
    const scheduler = newScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }), { clock: scheduler })
      const notFound = cold('-#', undefined, { status: 404 })
      expectObservable(notFound.pipe(circuitBreaker(breaker, { isFailure: (e) => (e as { status: number }).status >= 500 }))).toBe(
        '-#',
        undefined,
        {
          status: 404,
        },
      )
      expectObservable(cold('-a-b-c').pipe(circuitBreaker(breaker, { successOn: 'first-value' }))).toBe('-a-b-c')
      scheduler.flush()
      expect(breaker.snapshot()).toMatchObject({ state: 'closed', consecutiveFailures: 0 })
    })
  })

  it('refuses a bad timeout at once', () => {
    const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }))
    expect(() => circuitBreaker(breaker, { timeoutMs: -1 })).toThrow(
      'circuitBreaker: timeoutMs must be a number of milliseconds in [1, 2147483647], got -1',
    )
  })
})

describe('circuitBreaker classifies answers in virtual time', () => {
  it('a 503 answer trips the circuit for its Retry-After; the caller still gets every value', () => {
    const scheduler = newScheduler()
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const breaker = createBreaker(
        circuit({
          trip: { kind: 'consecutive-failures', threshold: 2 },
          openFor: { kind: 'retry-after', minMs: 10, maxMs: 1000, otherwise: { kind: 'constant', ms: 100 } },
        }),
        { clock: scheduler },
      )
      const unavailable = { status: 503, headers: { 'retry-after': '0.5' } }
      const busy = { status: 429, headers: { 'retry-after': '0' } }
      // The second answer's hint: 0 s, held to minMs (10 ms); the first one's is no hint ('0.5' is not delay-seconds).
      const upstream = cold('-(a|)', { a: unavailable })
      const second = cold('-(b|)', { b: busy })
      const calls = hot('r 9ms s 9ms r 9ms r', { r: upstream, s: second }).pipe(
        mergeMap((source) => describeErrors(source.pipe(circuitBreaker(breaker, classifyHttp())))),
        map((v) => (typeof v === 'string' ? v : String((v as { status: number }).status))),
      )
      expectObservable(calls).toBe('-a 9ms b 8ms c 10ms d', { a: '503', b: '429', c: 'rejected:open:1', d: '503' })
      // The rejected call at 20 ms never subscribed; the probe at 30 ms did.
      expectSubscriptions(upstream.subscriptions).toBe(['^!', '30ms ^!'])
    })
  })

  it('judges the first value, settles on complete, and an ignored answer counts nowhere', () => {
    const scheduler = newScheduler()
    const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }), { clock: scheduler })
    const states: string[] = []
    scheduler.run(({ cold, expectObservable }) => {
      breaker.state$.subscribe((s) => states.push(`${scheduler.now()}:${s.state}`))
      const judge = circuitBreaker<string>(breaker, { classifyResult: (v) => (v === 'skip' ? 'ignore' : 'failure') })
      // Ignored (first value 'skip'), settled on complete at 4: closed. Then a first value 'fail': open at 9.
      expectObservable(cold('-a-b|', { a: 'skip', b: 'fail' }).pipe(judge)).toBe('-a-b|', { a: 'skip', b: 'fail' })
      expectObservable(cold('5ms -a-b|', { a: 'fail', b: 'skip' }).pipe(judge)).toBe('5ms -a-b|', { a: 'fail', b: 'skip' })
    })
    expect(states).toEqual(['0:closed', '9:open'])
    expect(breaker.snapshot().inFlight).toBe(0)
  })
})
