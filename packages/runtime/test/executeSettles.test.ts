import { BreakerEvent, circuit } from '@datapunk/breaker'
import { createBreaker } from '@datapunk/breaker-runtime'
import { describe, expect, it } from 'vitest'

/** Half-open with one probe: a permit that is not given back blocks every later call. */
const halfOpen = () => {
  const breaker = createBreaker(
    circuit({
      trip: { kind: 'consecutive-failures', threshold: 1 },
      recovery: { kind: 'classic', probes: 1 },
      openFor: { kind: 'constant', ms: 60_000 },
    }),
  )
  breaker.dispatch(BreakerEvent.openFor(60_000))
  breaker.dispatch(BreakerEvent.halfOpen())
  if (breaker.snapshot().state !== 'half-open') throw new Error('the breaker did not half-open')
  return breaker
}

/** A thenable whose `then` throws at once. */
const brokenThenable = () =>
  ({
    // biome-ignore lint/suspicious/noThenProperty: the point of the test is a broken thenable
    then: () => {
      throw new Error('then threw')
    },
  }) as unknown as PromiseLike<string>

describe('execute settles every call exactly once', () => {
  for (const [label, options] of [
    ['a timeout', { timeoutMs: 100 }],
    ['a caller signal', { signal: new AbortController().signal }],
    ['no options', undefined],
  ] as const) {
    it(`with ${label}, a thenable whose then throws at once fails the call and gives its permit back`, async () => {
      const breaker = halfOpen()
      await expect(breaker.execute(brokenThenable, options)).rejects.toThrow('then threw')
      // The probe failed: the circuit opened again, with nothing left in flight.
      expect(breaker.snapshot()).toMatchObject({ state: 'open', inFlight: 0, reason: 'recovery-failed' })
    })
  }

  it('rejects a call that is not a function before taking a permit', async () => {
    const breaker = halfOpen()
    for (const fn of [null, undefined, 42, 'fetch'])
      await expect(breaker.execute(fn as never, { timeoutMs: 100 })).rejects.toThrow(/execute: expected a function to call/)
    expect(breaker.snapshot()).toMatchObject({ state: 'half-open', inFlight: 0 })
    await expect(breaker.execute(async () => 'probe')).resolves.toBe('probe')
    expect(breaker.snapshot().state).toBe('closed')
  })
})

describe('waiting in half-open at the documented maximum', () => {
  it('lets 100,000 waiters in, in arrival order, skipping one that left, once the probe succeeds', async () => {
    const breaker = halfOpen()
    let release: (v: string) => void = () => {}
    const probe = breaker.execute(() => new Promise<string>((r) => (release = r)))
    const order: number[] = []
    const leaver = new AbortController()
    const waiting = Array.from({ length: 100_000 }, (_, i) =>
      breaker
        .execute(
          () => {
            order.push(i)
            return i
          },
          { waitInHalfOpen: { maxWaitMs: 60_000, maxWaiting: 100_000 }, ...(i === 50_000 ? { signal: leaver.signal } : {}) },
        )
        .catch(() => -1),
    )
    expect(breaker.waiting).toBe(100_000)
    leaver.abort()
    expect(breaker.waiting).toBe(99_999)
    release('ok')
    await probe
    const results = await Promise.all(waiting)
    expect(results[50_000]).toBe(-1)
    expect(order).toHaveLength(99_999)
    expect(order.every((v, k) => k === 0 || v > (order[k - 1] ?? -1))).toBe(true)
    expect(breaker.waiting).toBe(0)
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', inFlight: 0 })
  })
})
