import { BreakerEvent, circuit } from '@datapunk/breaker'
import { BrokenCircuitError, type CallEvent, CallTimeoutError, createBreaker, type TransitionEvent } from '@datapunk/breaker-runtime'
import { circuitBreaker } from '@datapunk/breaker-rxjs'
import { defer, firstValueFrom, VirtualTimeScheduler } from 'rxjs'
import { describe, expect, it, vi } from 'vitest'

const strategy = () =>
  circuit({
    trip: { kind: 'consecutive-failures', threshold: 2 },
    recovery: { kind: 'classic', probes: 1 },
    openFor: { kind: 'constant', ms: 1000 },
  })

const virtual = () => {
  const scheduler = new VirtualTimeScheduler()
  return { scheduler, breaker: createBreaker(strategy(), { clock: scheduler }) }
}

/** Lets pending promise callbacks run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

describe('execute (the promise API)', () => {
  it('resolves with the value and records a success', async () => {
    const { breaker } = virtual()
    await expect(breaker.execute(async () => 42)).resolves.toBe(42)
    await expect(breaker.execute(() => 'sync')).resolves.toBe('sync')
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', consecutiveFailures: 0, inFlight: 0 })
  })

  it('rejects with the error and records a failure; a synchronous throw is a failure too', async () => {
    const { breaker } = virtual()
    await expect(breaker.execute(() => Promise.reject(new Error('down')))).rejects.toThrow('down')
    await expect(
      breaker.execute(() => {
        throw new Error('sync down')
      }),
    ).rejects.toThrow('sync down')
    expect(breaker.snapshot().state).toBe('open')
  })

  it('takes any thenable; a synchronous throw is counted at once, a value when it resolves', async () => {
    const { breaker } = virtual()
    // Not a Promise: only a `then` method, as some clients return.
    const thenable = (ok: boolean): PromiseLike<string> => {
      const settled = ok ? Promise.resolve('from a thenable') : Promise.reject(new Error('thenable down'))
      // biome-ignore lint/suspicious/noThenProperty: a thenable is what this test hands to execute
      return { then: (onFulfilled, onRejected) => settled.then(onFulfilled, onRejected) }
    }
    await expect(breaker.execute(() => thenable(true))).resolves.toBe('from a thenable')
    await expect(breaker.execute(() => thenable(false))).rejects.toThrow('thenable down')
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', consecutiveFailures: 1, inFlight: 0 })
    const thrown = breaker.execute(() => {
      throw new Error('sync down')
    })
    // Counted before the promise is even awaited: the second failure in a row opens the circuit.
    expect(breaker.snapshot()).toMatchObject({ state: 'open', inFlight: 0 })
    await expect(thrown).rejects.toThrow('sync down')
    const pending = breaker.execute(() => 'never called, the circuit is open')
    await expect(pending).rejects.toThrow(BrokenCircuitError)
  })

  it('never invokes the function when rejected, and says why and when to retry', async () => {
    const { breaker } = virtual()
    breaker.dispatch(BreakerEvent.openFor(5000))
    const fn = vi.fn(async () => 'called')
    const error = await breaker.execute(fn).catch((e: unknown) => e)
    expect(fn).not.toHaveBeenCalled()
    expect(error).toBeInstanceOf(BrokenCircuitError)
    expect(error).toMatchObject({ reason: 'open', retryAfterMs: 5000, breaker: 'circuit' })
  })

  it('aborts the signal on timeout, rejects with CallTimeoutError and counts a failure', async () => {
    const { breaker, scheduler } = virtual()
    let signal: AbortSignal | undefined
    const result = breaker.execute(
      (s) => {
        signal = s
        return new Promise<never>(() => {})
      },
      { timeoutMs: 250 },
    )
    scheduler.flush()
    const error = await result.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CallTimeoutError)
    expect(signal?.aborted).toBe(true)
    expect(signal?.reason).toBe(error)
    expect(breaker.snapshot()).toMatchObject({ consecutiveFailures: 1, inFlight: 0 })
  })

  it("a caller's abort cancels the call (counts nowhere), aborts the inner signal and rejects with the reason", async () => {
    const { breaker } = virtual()
    const caller = new AbortController()
    let inner: AbortSignal | undefined
    const result = breaker.execute(
      (s) => {
        inner = s
        return new Promise<never>(() => {})
      },
      { signal: caller.signal },
    )
    caller.abort(new Error('user went away'))
    await expect(result).rejects.toThrow('user went away')
    expect(inner?.aborted).toBe(true)
    expect(breaker.snapshot()).toMatchObject({ consecutiveFailures: 0, inFlight: 0 })
    const fn = vi.fn(async () => 1)
    await expect(breaker.execute(fn, { signal: caller.signal })).rejects.toThrow('user went away')
    expect(fn).not.toHaveBeenCalled()
  })

  it('an error isFailure clears counts nowhere; an isFailure that throws counts a failure and is reported', async () => {
    const { breaker } = virtual()
    const reported: TransitionEvent[] = []
    breaker.transitions$.subscribe((e) => reported.push(e))
    const notFound = Object.assign(new Error('404'), { status: 404 })
    await expect(
      breaker.execute(() => Promise.reject(notFound), { isFailure: (e) => (e as { status: number }).status >= 500 }),
    ).rejects.toBe(notFound)
    expect(breaker.snapshot().consecutiveFailures).toBe(0)
    await expect(
      breaker.execute(() => Promise.reject(new Error('reset')), {
        isFailure: (e) => (e as { response: { status: number } }).response.status >= 500,
      }),
    ).rejects.toThrow('reset')
    expect(breaker.snapshot().consecutiveFailures).toBe(1)
    expect(reported.map((e) => e._tag)).toContain('ClassifierFailed')
  })

  it('records outcomes exactly as the operator does (the same call events, the same states)', async () => {
    const script: Array<'ok' | 'fail' | 'clear'> = ['ok', 'fail', 'clear', 'fail', 'ok', 'fail', 'fail', 'ok', 'ok']
    const record = async (via: 'operator' | 'execute') => {
      const scheduler = new VirtualTimeScheduler()
      const breaker = createBreaker(strategy(), { clock: scheduler })
      const events: CallEvent[] = []
      breaker.calls$.subscribe((e) => events.push(e))
      for (const step of script) {
        const work = () =>
          step === 'ok' ? Promise.resolve(step) : Promise.reject(Object.assign(new Error(step), { clear: step === 'clear' }))
        const isFailure = (e: unknown) => !(e as { clear: boolean }).clear
        const run =
          via === 'execute'
            ? breaker.execute(work, { isFailure })
            : firstValueFrom(defer(work).pipe(circuitBreaker(breaker, { isFailure })))
        await run.catch(() => undefined)
      }
      return { events, state: breaker.snapshot() }
    }
    const [operator, promise] = [await record('operator'), await record('execute')]
    expect(promise.events).toEqual(operator.events)
    expect(promise.state).toEqual(operator.state)
  })
})

describe('waiting in half-open (waitInHalfOpen)', () => {
  const halfOpen = () => {
    const { breaker, scheduler } = virtual()
    breaker.dispatch(BreakerEvent.openFor(1000))
    breaker.dispatch(BreakerEvent.halfOpen())
    return { breaker, scheduler }
  }
  const wait = { waitInHalfOpen: { maxWaitMs: 500, maxWaiting: 2 } }

  it('a caller that finds half-open full waits, and runs once the probe closed the circuit', async () => {
    const { breaker, scheduler } = halfOpen()
    let finishProbe: (v: string) => void = () => {}
    const probe = breaker.execute(() => new Promise<string>((r) => (finishProbe = r)))
    const waiter = vi.fn(async () => 'after the verdict')
    const waiting = breaker.execute(waiter, wait)
    expect(breaker.waiting).toBe(1)
    finishProbe('probe ok')
    await expect(probe).resolves.toBe('probe ok')
    scheduler.flush()
    await expect(waiting).resolves.toBe('after the verdict')
    expect(breaker.snapshot().state).toBe('closed')
  })

  it('fails with BrokenCircuitError if the probe reopened the circuit', async () => {
    const { breaker, scheduler } = halfOpen()
    let failProbe: (e: Error) => void = () => {}
    const probe = breaker.execute(() => new Promise<string>((_, reject) => (failProbe = reject)))
    const waiter = vi.fn(async () => 'never')
    const waiting = breaker.execute(waiter, wait)
    failProbe(new Error('still down'))
    await probe.catch(() => undefined)
    scheduler.flush()
    await expect(waiting).rejects.toMatchObject({ name: 'BrokenCircuitError', reason: 'open' })
    expect(waiter).not.toHaveBeenCalled()
  })

  it('fails after maxWaitMs, and past maxWaiting callers are rejected at once', async () => {
    const { breaker, scheduler } = halfOpen()
    void breaker.execute(() => new Promise<never>(() => {}))
    const first = breaker.execute(async () => 1, wait)
    const second = breaker.execute(async () => 2, wait)
    await expect(breaker.execute(async () => 3, wait)).rejects.toMatchObject({ reason: 'half-open-full' })
    scheduler.flush()
    await expect(first).rejects.toMatchObject({ name: 'BrokenCircuitError', reason: 'half-open-full' })
    await expect(second).rejects.toMatchObject({ name: 'BrokenCircuitError' })
    expect(breaker.waiting).toBe(0)
  })

  it('works the same through the operator; an unsubscribe leaves the queue', async () => {
    const { breaker, scheduler } = halfOpen()
    let finishProbe: (v: string) => void = () => {}
    const probe = breaker.execute(() => new Promise<string>((r) => (finishProbe = r)))
    const source = vi.fn(async () => 'via operator')
    const waiting = firstValueFrom(defer(source).pipe(circuitBreaker(breaker, wait)))
    const leaving = defer(source).pipe(circuitBreaker(breaker, wait)).subscribe()
    expect(breaker.waiting).toBe(2)
    leaving.unsubscribe()
    expect(breaker.waiting).toBe(1)
    finishProbe('ok')
    await probe
    scheduler.flush()
    await expect(waiting).resolves.toBe('via operator')
    expect(source).toHaveBeenCalledTimes(1)
    await settle()
  })

  it('refuses bad wait options clearly', async () => {
    const { breaker } = virtual()
    expect(() => circuitBreaker(breaker, { waitInHalfOpen: { maxWaitMs: 0 } })).toThrow(
      'circuitBreaker: waitInHalfOpen.maxWaitMs must be a number of milliseconds in [1, 2147483647], got 0',
    )
    await expect(breaker.execute(async () => 1, { waitInHalfOpen: { maxWaitMs: 10, maxWaiting: 0 } })).rejects.toThrow(
      'execute: waitInHalfOpen.maxWaiting must be an integer in [1, 100000], got 0',
    )
  })
})
