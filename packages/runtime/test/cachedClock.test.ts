import { circuit } from '@datapunk/breaker'
import { CachedClock, type ClockTimers, createBreaker, exactMonotonicClock, monotonicClock } from '@datapunk/breaker-runtime'
import { describe, expect, it } from 'vitest'

/** A system clock and interval timer under the test's control. */
const fakeTime = () => {
  let now = 1000
  let reads = 0
  let interval: { callback: () => void; ms: number } | undefined
  let started = 0
  const timers: ClockTimers = {
    setInterval: (callback, ms) => {
      started++
      interval = { callback, ms }
      return interval
    },
    clearInterval: (handle) => {
      if (handle === interval) interval = undefined
    },
  }
  return {
    timers,
    exact: () => {
      reads++
      return now
    },
    /** Lets `ms` pass, firing the interval timer on time. */
    advance(ms: number) {
      for (let i = 0; i < ms; i++) {
        now += 1
        if (interval !== undefined && (now - 1000) % interval.ms === 0) interval.callback()
      }
    },
    /** Lets `ms` pass with the event loop blocked: no timer fires. */
    block(ms: number) {
      now += ms
    },
    get now() {
      return now
    },
    get reads() {
      return reads
    },
    get running() {
      return interval !== undefined
    },
    get started() {
      return started
    },
  }
}

describe('CachedClock', () => {
  it('reads the system clock once per resolution while in use, never on every read', () => {
    const time = fakeTime()
    const clock = new CachedClock(1, time.exact, time.timers)
    expect(clock.now()).toBe(1000)
    for (let i = 0; i < 1000; i++) clock.now()
    expect(time.reads).toBe(1)
    for (let ms = 0; ms < 50; ms++) {
      time.advance(1)
      clock.now()
    }
    expect(time.reads).toBe(51)
  })

  it('is never more than its resolution behind while the event loop runs, and never goes back', () => {
    for (const resolutionMs of [1, 5, 20]) {
      const time = fakeTime()
      const clock = new CachedClock(resolutionMs, time.exact, time.timers)
      let last = clock.now()
      for (let step = 0; step < 500; step++) {
        time.advance(1 + (step % 3))
        const read = clock.now()
        expect(time.now - read).toBeLessThanOrEqual(resolutionMs)
        expect(read).toBeGreaterThanOrEqual(last)
        last = read
      }
    }
  })

  it('falls behind by as long as the event loop is blocked, and catches up at the next refresh', () => {
    const time = fakeTime()
    const clock = new CachedClock(1, time.exact, time.timers)
    clock.now()
    time.advance(1)
    clock.now()
    time.block(250) // synchronous work: no timer fires
    expect(time.now - clock.now()).toBe(250)
    time.advance(1)
    expect(time.now - clock.now()).toBeLessThanOrEqual(1)
  })

  it('stops its timer after an interval without reads, and reads exactly again when next used', () => {
    const time = fakeTime()
    const clock = new CachedClock(1, time.exact, time.timers)
    clock.now()
    time.advance(1) // a read happened since the start: refresh
    time.advance(1) // no read since the last tick: stop
    expect(time.running).toBe(false)
    time.block(10_000) // a quiet spell: nothing runs
    expect(clock.now()).toBe(time.now) // exact at once
    expect(time.running).toBe(true)
    expect(time.started).toBe(2)
  })

  it('refuses a resolution it cannot honour', () => {
    expect(() => new CachedClock(0)).toThrow('CachedClock: resolutionMs must be in [1, 1000], got 0')
    expect(() => new CachedClock(Number.NaN)).toThrow(RangeError)
  })

  it('is the default scheduler’s clock, within a few ms of the exact one; an injected scheduler is read as it is', async () => {
    const exact = exactMonotonicClock.now()
    const cached = monotonicClock.now()
    expect(Math.abs(cached - exact)).toBeLessThan(50)
    const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 3 } }))
    expect(breaker.clock).toBe(monotonicClock)
    // An injected clock is read exactly, on every call (marble tests in virtual time see no cache).
    let virtual = 0
    const scheduler = { now: () => virtual, schedule: monotonicClock.schedule }
    const timed = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 3 } }), { clock: scheduler })
    const latencies: Array<number | null> = []
    timed.calls$.subscribe((e) => {
      if (e._tag === 'CallSucceeded') latencies.push(e.latencyMs)
    })
    await timed.execute(() => {
      virtual = 7.25
      return 'ok'
    })
    expect(latencies).toEqual([7.25])
  })
})
