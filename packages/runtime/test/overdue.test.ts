/**
 * Slow calls counted while still running: a call past the slow-call threshold counts as slow from
 * the breaker's next event (no timer per call), so a hung upstream trips within the threshold, not
 * the timeout. On a manual clock: nothing here waits.
 */
import { adaptiveThrottle, BreakerEvent, type CircuitConfigInput, circuit, type Strategy } from '@datapunk/breaker'
import { BrokenCircuitError, type Clock, createBreaker, type TransitionEvent } from '@datapunk/breaker-runtime'
import { describe, expect, it } from 'vitest'

/** A clock the test moves by hand; its timers fire as it passes them. */
const manualClock = () => {
  let time = 0
  let timers: Array<{ at: number; run: () => void }> = []
  const clock: Clock = {
    now: () => time,
    schedule: (run: () => void, delayMs = 0) => {
      const timer = { at: time + delayMs, run }
      timers.push(timer)
      return {
        unsubscribe: () => {
          timers = timers.filter((t) => t !== timer)
        },
      }
    },
  }
  const advance = async (ms: number) => {
    const end = time + ms
    for (;;) {
      const next = timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0]
      if (next === undefined) break
      timers = timers.filter((t) => t !== next)
      time = next.at
      next.run()
      await Promise.resolve()
    }
    time = end
    await new Promise((resolve) => setImmediate(resolve))
  }
  return { clock, advance }
}

/** Half the calls slow (1 s or more) over the last 10, at least 4 of them: open. */
const slowTrip = {
  kind: 'slow-call-rate',
  threshold: 0.5,
  slowCallMs: 1_000,
  minimumCalls: 4,
  window: { kind: 'count', size: 10 },
} as const
const config: CircuitConfigInput = { trip: slowTrip, openFor: { kind: 'constant', ms: 5_000 } }

/** A call that never answers (a hung upstream): only its timeout ends it. */
const hang = () => new Promise<never>(() => {})

describe('slow calls count while still running', () => {
  it('a hung upstream trips once its calls pass slowCallMs, long before their 30 s timeout', async () => {
    const { clock, advance } = manualClock()
    const breaker = createBreaker(circuit(config), { clock })
    const transitions: TransitionEvent[] = []
    breaker.transitions$.subscribe((e) => transitions.push(e))
    const calls = Array.from({ length: 4 }, () => breaker.execute(hang, { timeoutMs: 30_000 }).catch((e: Error) => e))
    await advance(999)
    // A fifth call at 999 ms: nobody has run 1 s yet, still closed.
    calls.push(breaker.execute(hang, { timeoutMs: 30_000 }).catch((e: Error) => e))
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', calls: 0, inFlight: 5 })
    await advance(1)
    // The next request finds the first four calls 1 s old: four slow calls of four, open.
    await expect(breaker.execute(async () => 'never called')).rejects.toBeInstanceOf(BrokenCircuitError)
    expect(breaker.snapshot()).toMatchObject({ state: 'open', reason: 'tripped' })
    expect(transitions.find((e) => e._tag === 'StateChanged')).toMatchObject({ at: 1_000, to: 'open' })
    await advance(30_000)
    // The hung calls time out later, as stale outcomes of the closed phase: the trip stands, once.
    expect((await Promise.all(calls)).every((e) => e instanceof Error && e.name === 'CallTimeoutError')).toBe(true)
    expect(breaker.snapshot().trips).toBe(1)
  })

  it('without the running calls counted the same upstream trips only at the timeout (what the watch saves)', async () => {
    const { clock, advance } = manualClock()
    // A wrapper that hides `overdueAfterMs`: the breaker then counts calls when they end, as before.
    const { overdueAfterMs: _, ...blind } = circuit(config) as Strategy<unknown> & { overdueAfterMs?: number }
    const breaker = createBreaker(blind, { clock })
    for (let i = 0; i < 4; i++) breaker.execute(hang, { timeoutMs: 30_000 }).catch(() => {})
    await advance(29_999)
    breaker.dispatch(BreakerEvent.ticked())
    expect(breaker.snapshot().state).toBe('closed')
    await advance(1)
    expect(breaker.snapshot().state).toBe('open')
  })

  it('counts a call reported overdue once: slow at the report, skipped when it ends', async () => {
    const { clock, advance } = manualClock()
    const breaker = createBreaker(circuit({ ...config, trip: { ...slowTrip, minimumCalls: 10 } }), { clock })
    let answer: (value: string) => void = () => {}
    const slow = breaker.execute(() => new Promise<string>((resolve) => (answer = resolve)))
    await advance(1_500)
    breaker.dispatch(BreakerEvent.ticked())
    expect(breaker.snapshot()).toMatchObject({ calls: 1, slowCalls: 1, inFlight: 1 })
    await advance(500)
    answer('at last')
    await expect(slow).resolves.toBe('at last')
    expect(breaker.snapshot()).toMatchObject({ calls: 1, slowCalls: 1, inFlight: 0 })
    // A call that ends before anyone looks counts when it ends, as always.
    const quick = breaker.execute(() => new Promise<string>((resolve) => (answer = resolve)))
    await advance(1_200)
    answer('slow, unseen')
    await quick
    expect(breaker.snapshot()).toMatchObject({ calls: 2, slowCalls: 2 })
  })

  it('each detector counts a call once, at its own threshold: failures when calls end, slow calls as they pass', async () => {
    const { clock, advance } = manualClock()
    const breaker = createBreaker(
      circuit({
        trip: {
          kind: 'any-of',
          detectors: [
            { kind: 'failure-rate', threshold: 0.9, minimumCalls: 10, window: { kind: 'count', size: 10 } },
            { ...slowTrip, minimumCalls: 10 },
            { ...slowTrip, slowCallMs: 5_000, minimumCalls: 10 },
          ],
        },
      }),
      { clock },
    )
    expect(breaker.strategy.overdueAfterMs).toBe(1_000)
    let fail: (error: Error) => void = () => {}
    const call = breaker.execute(() => new Promise<string>((_, reject) => (fail = reject)))
    await advance(2_000)
    breaker.dispatch(BreakerEvent.ticked())
    const [rate, fast, patient] = breaker.snapshot().detectors
    expect([rate?.calls, fast?.calls, fast?.slowCalls, patient?.calls]).toEqual([0, 1, 1, 0])
    await advance(4_000)
    fail(new Error('down'))
    await expect(call).rejects.toThrow('down')
    const [rate2, fast2, patient2] = breaker.snapshot().detectors
    // The failure-rate detector counts the failure; the 1 s detector counted the call already; the 5 s one counts it now, slow.
    expect([rate2?.calls, rate2?.failures, fast2?.calls, patient2?.calls, patient2?.slowCalls]).toEqual([1, 1, 1, 1, 1])
  })

  it('reports on requests, outcomes and ticks alike, and forgets the calls of a phase that ended', async () => {
    const { clock, advance } = manualClock()
    const breaker = createBreaker(circuit({ ...config, trip: { ...slowTrip, minimumCalls: 2 } }), { clock })
    const first = breaker.admit()
    const second = breaker.admit()
    if (first._tag !== 'Admitted' || second._tag !== 'Admitted') throw new Error('not admitted')
    await advance(1_000)
    // The first call's outcome is the event that finds the second one overdue: two slow calls of two.
    first.settle('success')
    expect(breaker.snapshot()).toMatchObject({ state: 'open' })
    // The second call's outcome is stale now (the phase changed), and nothing is watched any more.
    second.settle('failure')
    expect(watched(breaker)).toBe(0)
  })

  it('an outcome dispatched by hand ends its call the same way as one reported with succeeded()', async () => {
    const { clock, advance } = manualClock()
    const breaker = createBreaker(circuit({ ...config, trip: { ...slowTrip, minimumCalls: 10 } }), { clock })
    const ticket = breaker.request()
    if (ticket._tag !== 'Admitted') throw new Error('not admitted')
    await advance(1_200)
    breaker.dispatch(BreakerEvent.ticked())
    breaker.dispatch(BreakerEvent.succeeded(ticket, 1_500))
    expect(breaker.snapshot()).toMatchObject({ calls: 1, slowCalls: 1, inFlight: 0 })
    expect(watched(breaker)).toBe(0)
  })

  it('does not watch calls for a strategy that counts no slow calls, nor probes', async () => {
    const { clock, advance } = manualClock()
    const plain = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 3 } }), { clock })
    expect(plain.strategy.overdueAfterMs).toBeUndefined()
    plain.admit()
    expect(watched(plain)).toBe(0)
    const breaker = createBreaker(circuit(config), { clock })
    breaker.dispatch(BreakerEvent.openFor(1))
    await advance(1)
    const probe = breaker.admit()
    expect(probe).toMatchObject({ _tag: 'Admitted' })
    expect(watched(breaker)).toBe(0)
  })

  it('a swap to a strategy that counts no slow calls stops the watch; one that does starts it', () => {
    const { clock } = manualClock()
    const breaker = createBreaker(circuit(config), { clock })
    breaker.admit()
    expect(watched(breaker)).toBe(1)
    breaker.swap(circuit({ trip: { kind: 'consecutive-failures', threshold: 3 } }))
    expect(watched(breaker)).toBe(0)
    breaker.swap(circuit(config))
    breaker.admit()
    expect(watched(breaker)).toBe(1)
  })

  it('an adaptive throttle with slowCallMs counts a call running past it as a request that was not accepted, once', async () => {
    const { clock, advance } = manualClock()
    const strategy = adaptiveThrottle(circuit({ trip: { kind: 'consecutive-failures', threshold: 1_000 } }), {
      slowCallMs: 1_000,
      minRequestsPerSecond: 0,
    })
    // Past slowCallMs, a running call can be no accept: from 1 ms after it.
    expect(strategy.overdueAfterMs).toBe(1_001)
    const breaker = createBreaker(strategy, { clock })
    let answer: (value: string) => void = () => {}
    const call = breaker.execute(() => new Promise<string>((resolve) => (answer = resolve)))
    await advance(1_001)
    breaker.dispatch(BreakerEvent.ticked())
    const throttle = () => breaker.snapshot().detectors.find((d) => d.kind === 'adaptive-throttle')?.figures
    expect(throttle()).toMatchObject({ requests: 1, accepts: 0 })
    answer('late')
    await call
    expect(throttle()).toMatchObject({ requests: 1, accepts: 0 })
  })
})

/** How many calls a breaker watches (running, or reported and not yet ended). */
const watched = (breaker: object): number => (breaker as { running?: { size: number } }).running?.size ?? 0
