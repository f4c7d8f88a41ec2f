import { circuit } from '@datapunk/breaker'
import { BrokenCircuitError, createBreaker } from '@datapunk/breaker-runtime'
import { circuitBreaker } from '@datapunk/breaker-rxjs'
import { catchError, defer, mergeMap, of, range, Subject } from 'rxjs'
import { describe, expect, it } from 'vitest'

/** A breaker with a manual clock. */
const manualClock = () => {
  let now = 0
  return {
    scheduler: { now: () => now, schedule: () => ({ unsubscribe() {} }) } as never,
    advance: (ms: number) => {
      now += ms
    },
  }
}

describe('circuitBreaker under concurrency', () => {
  it('with 100 requests in flight during half-open, exactly the permitted number of probes reach the source', () => {
    const clock = manualClock()
    const breaker = createBreaker(
      circuit({
        trip: { kind: 'consecutive-failures', threshold: 1 },
        recovery: { kind: 'classic', probes: 5 },
        openFor: { kind: 'constant', ms: 100 },
      }),
      { clock: clock.scheduler },
    )
    const first = breaker.request()
    if (first._tag === 'Admitted') breaker.failed(first, 1)
    clock.advance(100)

    const pending = new Subject<string>()
    let reached = 0
    const outcomes: string[] = []
    range(0, 100)
      .pipe(
        mergeMap(() =>
          defer(() => {
            reached++
            return pending
          }).pipe(
            circuitBreaker(breaker),
            catchError((e: unknown) => of(e instanceof BrokenCircuitError ? `rejected:${e.reason}` : 'error')),
          ),
        ),
      )
      .subscribe((v) => outcomes.push(v))

    expect(reached).toBe(5)
    expect(outcomes).toEqual(Array.from({ length: 95 }, () => 'rejected:half-open-full'))
    pending.next('ok')
    pending.complete()
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(5)
    expect(breaker.snapshot().state).toBe('closed')
  })

  it('late outcomes of calls admitted before a trip are stale: none is counted', () => {
    const clock = manualClock()
    const breaker = createBreaker(
      circuit({
        trip: { kind: 'failure-count', threshold: 3, window: { kind: 'count', size: 50 } },
        openFor: { kind: 'constant', ms: 1000 },
      }),
      { clock: clock.scheduler },
    )
    const stale: string[] = []
    breaker.calls$.subscribe((e) => {
      if (e._tag === 'CallStale') stale.push(e.outcome)
    })
    // Ten slow calls admitted while closed...
    const slow = new Subject<string>()
    const settled: string[] = []
    for (let i = 0; i < 10; i++) {
      slow.pipe(circuitBreaker(breaker)).subscribe({ next: () => settled.push('ok'), error: () => settled.push('error') })
    }
    // ...then three fast failures trip the breaker.
    for (let i = 0; i < 3; i++)
      defer(() => Promise.reject(new Error('down')))
        .pipe(circuitBreaker(breaker))
        .subscribe({ error: () => {} })
    return new Promise<void>((resolve) => setTimeout(resolve, 0)).then(() => {
      expect(breaker.snapshot()).toMatchObject({ state: 'open', failures: 3 })
      const generation = breaker.snapshot().generation
      slow.error(new Error('late'))
      expect(settled).toEqual(Array.from({ length: 10 }, () => 'error'))
      expect(stale).toEqual(Array.from({ length: 10 }, () => 'failed'))
      expect(breaker.snapshot()).toMatchObject({ state: 'open', failures: 3, generation })
    })
  })
})
