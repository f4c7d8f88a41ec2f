/**
 * Regression tests for the defects probing found in the RxJS layer (RxJS issue, items 1-9 and the
 * clock). Each reproduces the input that broke the previous version.
 */
import { BreakerEvent, circuit } from '@datapunk/breaker'
import { BrokenCircuitError, createBreaker, logBreaker, monotonicClock, type TransitionEvent } from '@datapunk/breaker-runtime'
import { circuitBreaker } from '@datapunk/breaker-rxjs'
import pino from 'pino'
import { firstValueFrom, from, Observable, take, throwError, VirtualTimeScheduler } from 'rxjs'
import { describe, expect, it, vi } from 'vitest'
import { halfOpenBreaker } from './fixtures.js'

describe('1. an isFailure that throws', () => {
  it('settles the call as a failure, gives the subscriber the error, reports the predicate, and leaks no probe permit', () => {
    const breaker = halfOpenBreaker()
    const reported: TransitionEvent[] = []
    breaker.transitions$.subscribe((e) => reported.push(e))
    const uncaught = vi.fn()
    process.on('uncaughtException', uncaught)
    const networkError = new Error('ECONNRESET')
    let received: unknown
    throwError(() => networkError)
      .pipe(circuitBreaker(breaker, { isFailure: (e) => (e as { response: { status: number } }).response.status >= 500 }))
      .subscribe({ error: (e: unknown) => (received = e) })
    process.off('uncaughtException', uncaught)
    expect(received).toBe(networkError)
    expect(uncaught).not.toHaveBeenCalled()
    expect(breaker.snapshot()).toMatchObject({ state: 'open', reason: 'recovery-failed', inFlight: 0 })
    expect(reported.find((e) => e._tag === 'ClassifierFailed')).toMatchObject({
      _tag: 'ClassifierFailed',
      message: expect.stringContaining('status'),
    })
  })
})

describe('2. timeouts Node cannot keep', () => {
  it('a timeoutMs of 2^31 or more is a RangeError when the operator is created', () => {
    const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }))
    expect(() => circuitBreaker(breaker, { timeoutMs: 2 ** 31 })).toThrow(
      new RangeError('circuitBreaker: timeoutMs must be a number of milliseconds in [1, 2147483647], got 2147483648'),
    )
    expect(() => circuitBreaker(breaker, { timeoutMs: 2 ** 31 - 1 })).not.toThrow()
  })
})

describe('2b. options the operator does not know', () => {
  it('a successOn or onUnsubscribe the operator does not know is a TypeError naming it, not the default', () => {
    const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }))
    expect(() => circuitBreaker(breaker, { successOn: 'first' as never })).toThrow(
      new TypeError("circuitBreaker: successOn must be 'complete' or 'first-value', got 'first'"),
    )
    expect(() => circuitBreaker(breaker, { onUnsubscribe: true as never })).toThrow(
      new TypeError("circuitBreaker: onUnsubscribe must be 'cancel' or 'failure', got boolean"),
    )
    expect(() => circuitBreaker(breaker, { successOn: 'first-value', onUnsubscribe: 'failure' })).not.toThrow()
    expect(() => circuitBreaker(breaker, null as never)).toThrow(new TypeError('circuitBreaker: options must be an object, got null'))
  })
})

describe('3. infinite and huge synchronous sources', () => {
  it('firstValueFrom of an infinite synchronous source returns, as it does without the operator', async () => {
    const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }))
    function* naturals() {
      for (let i = 0; ; i++) yield i
    }
    await expect(firstValueFrom(from(naturals()).pipe(circuitBreaker(breaker)))).resolves.toBe(0)
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', inFlight: 0 })
  })

  it('take(1) of a 5,000,000-value source pulls one value, not all of them', () => {
    const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }))
    let pulled = 0
    const huge = new Observable<number>((subscriber) => {
      for (let i = 0; i < 5_000_000 && !subscriber.closed; i++) {
        pulled++
        subscriber.next(i)
      }
      subscriber.complete()
    })
    const values: number[] = []
    huge.pipe(circuitBreaker(breaker), take(1)).subscribe((v) => values.push(v))
    expect(values).toEqual([0])
    expect(pulled).toBe(1)
  })
})

describe('6. a logger that throws', () => {
  it('never breaks the breaker or the caller', () => {
    const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }))
    const destination = {
      write: () => {
        throw new Error('disk full')
      },
    }
    logBreaker(breaker, pino({ level: 'debug' }, destination))
    const uncaught = vi.fn()
    process.on('uncaughtException', uncaught)
    let error: unknown
    throwError(() => new Error('down'))
      .pipe(circuitBreaker(breaker))
      .subscribe({ error: (e: unknown) => (error = e) })
    process.off('uncaughtException', uncaught)
    expect((error as Error).message).toBe('down')
    expect(uncaught).not.toHaveBeenCalled()
    expect(breaker.snapshot().state).toBe('open')
  })
})

describe('8. re-entrant dispatch from a transitions$ subscriber', () => {
  it('keeps state$ and transitions$ in causal order: their last values are the latest', () => {
    const scheduler = new VirtualTimeScheduler()
    const breaker = createBreaker(
      circuit({ trip: { kind: 'consecutive-failures', threshold: 1 }, openFor: { kind: 'constant', ms: 1000 } }),
      { clock: scheduler },
    )
    const states: string[] = []
    const transitions: string[] = []
    breaker.state$.subscribe((s) => states.push(`${s.state}/${s.mode}`))
    breaker.transitions$.subscribe((e) => {
      if (e._tag !== 'StateChanged') return
      transitions.push(`${e.to}/${e.mode}`)
      if (e.to === 'open' && e.mode === 'normal') breaker.dispatch(BreakerEvent.forcedOpen()) // an operator reacting to a trip
    })
    const ticket = breaker.request()
    if (ticket._tag === 'Admitted') breaker.failed(ticket, 1)
    expect(breaker.snapshot()).toMatchObject({ state: 'open', mode: 'forced-open' })
    expect(transitions.at(-1)).toBe('open/forced-open')
    expect(states.at(-1)).toBe('open/forced-open')
    expect(states).toEqual(['closed/normal', 'open/normal', 'open/forced-open'])
  })
})

describe('9. initialState', () => {
  it('is decoded with the strategy codec, and a bad one fails clearly', () => {
    const strategy = circuit({ name: 'payments', trip: { kind: 'consecutive-failures', threshold: 3 } })
    expect(() => createBreaker(strategy, { initialState: { phase: 'ajar' } as never })).toThrow(
      expect.objectContaining({ name: 'SnapshotError', message: expect.stringContaining('phase') }),
    )
    const saved = JSON.parse(JSON.stringify(strategy.codec.encode(strategy.initial(0)))) as unknown
    expect(createBreaker(strategy, { initialState: saved as never }).snapshot().state).toBe('closed')
  })
})

describe('the default clock', () => {
  it('is monotonic: a wall-clock jump does not move it', () => {
    const before = monotonicClock.now()
    const spy = vi.spyOn(Date, 'now').mockReturnValue(before + 3_600_000)
    const during = monotonicClock.now()
    spy.mockReturnValue(before - 3_600_000)
    const after = monotonicClock.now()
    spy.mockRestore()
    expect(during).toBeGreaterThanOrEqual(before)
    expect(during - before).toBeLessThan(1000)
    expect(after).toBeGreaterThanOrEqual(during)
    expect(createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } })).clock).toBe(monotonicClock)
  })

  it('rejections report BrokenCircuitError on the monotonic clock', async () => {
    const breaker = createBreaker(
      circuit({ trip: { kind: 'consecutive-failures', threshold: 1 }, openFor: { kind: 'constant', ms: 5000 } }),
    )
    await firstValueFrom(throwError(() => new Error('x')).pipe(circuitBreaker(breaker))).catch(() => undefined)
    const error = await firstValueFrom(from([1]).pipe(circuitBreaker(breaker))).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BrokenCircuitError)
    expect((error as BrokenCircuitError).retryAfterMs).toBeGreaterThan(4000)
  })
})

describe('7. hot reconfiguration flapping probes between 1 and 2 while half-open', () => {
  it('never lets more probes into the upstream than one config allows', async () => {
    const { followConfig } = await import('@datapunk/breaker-runtime')
    const { Subject } = await import('rxjs')
    const scheduler = new VirtualTimeScheduler()
    const config = (probes: number) => ({
      name: 'flapping',
      trip: { kind: 'consecutive-failures', threshold: 1 },
      recovery: { kind: 'classic', probes },
      openFor: { kind: 'constant', ms: 10 },
    })
    const breaker = createBreaker(circuit(config(1) as never), { clock: scheduler })
    const configs = new Subject<unknown>()
    followConfig(breaker, configs)
    throwError(() => new Error('down'))
      .pipe(circuitBreaker(breaker))
      .subscribe({ error: () => {} })
    breaker.dispatch(BreakerEvent.halfOpen())
    let inUpstream = 0
    let most = 0
    for (let i = 0; i < 300; i++) {
      // A failing upstream that hangs: every admitted probe stays in flight.
      new Observable<never>(() => {
        inUpstream++
        most = Math.max(most, inUpstream)
      })
        .pipe(circuitBreaker(breaker))
        .subscribe({ error: () => {} })
      configs.next(config(i % 2 === 0 ? 2 : 1))
    }
    expect(most).toBeLessThanOrEqual(2)
    expect(breaker.snapshot().inFlight).toBeLessThanOrEqual(2)
  })
})
