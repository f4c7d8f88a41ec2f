/**
 * The clock of a breaker: the time it reads and the timer it sets (call timeouts, waits in
 * half-open). Any RxJS scheduler (`asyncScheduler`, `TestScheduler`, `VirtualTimeScheduler`) is a
 * `Clock` as it is, so marble tests drive breakers in virtual time with no adapter; the runtime
 * itself never imports RxJS.
 */
export interface Clock {
  /** The time in ms; never goes back. */
  now(): number
  /** Runs `work` once, `delayMs` (default 0) from now; `unsubscribe` cancels it. */
  schedule(work: () => void, delayMs?: number): TimerHandle
}

/**
 * A scheduled timer, cancelled by `unsubscribe` (RxJS's `Subscription` is one). `unref`, where the
 * clock's timers have one (the built-in clocks' `setTimeout`), stops it keeping a process alive.
 */
export interface TimerHandle {
  /** Cancels the timer (nothing happens if it already ran). */
  unsubscribe(): void
  /** Lets the process exit while the timer is pending. */
  unref?(): void
}

// `performance.now()` never goes back; anchored at `timeOrigin` it reads like wall-clock time in ms.
// Read the global once: in Node it is a lazy getter, measurably slow on a path taken twice per call.
const perf = globalThis.performance
const origin = perf.timeOrigin
const exactNow = (): number => origin + perf.now()

/** The timer functions a {@link CachedClock} refreshes itself with (injectable for tests). */
export interface ClockTimers {
  /** Runs `callback` every `ms`; returns a handle for `clearInterval`. */
  setInterval(callback: () => void, ms: number): unknown
  /** Stops the interval `setInterval` returned. */
  clearInterval(handle: unknown): void
}

const globalTimers: ClockTimers = {
  setInterval: (callback, ms) => {
    const handle = globalThis.setInterval(callback, ms) as unknown as { unref?: () => void }
    // Never keep a process alive for the clock's sake (browsers have no `unref`).
    if (typeof handle.unref === 'function') handle.unref()
    return handle
  },
  clearInterval: (handle) => globalThis.clearInterval(handle as Parameters<typeof globalThis.clearInterval>[0]),
}

/**
 * A clock read at most once per `resolutionMs` while it is in use, as Envoy and Netty cache
 * time per event-loop turn: reading it costs a property read, not a system call (~43 ns on the
 * development VM, twice per call through a breaker).
 *
 * How stale it can be: a read returns a time taken by the last refresh, and refreshes run on an
 * interval timer of `resolutionMs`, so a read is at most `resolutionMs` plus however long the
 * event loop has been blocked behind the present time (a timer cannot fire while synchronous
 * code runs). It never goes back. When a whole interval passes without a read, the timer stops;
 * the next read takes the exact time and starts it again, so the first read after a quiet spell
 * is exact. The timer is `unref`ed: it never keeps a process alive.
 *
 * @example
 * import { CachedClock } from '@datapunk/breaker-runtime'
 * const clock = new CachedClock()
 * const a = clock.now()
 * clock.now() >= a // true
 */
export class CachedClock {
  /**
   * The time of the last refresh; `undefined` before the first. Starting as a non-number keeps the
   * field tagged in V8 (a pointer to the time's number), not an unboxed double: a read then hands
   * out the number it holds instead of boxing a new one, which is an allocation per read (about 10
   * ns per call through a breaker, measured with a request and its outcome stepped in place).
   */
  private value: number | undefined = undefined
  private timer: unknown
  private running = false
  private read = false

  constructor(
    /** The longest a read may lag the exact time, in ms (the refresh interval). */
    readonly resolutionMs = 1,
    private readonly exact: () => number = exactNow,
    private readonly timers: ClockTimers = globalTimers,
  ) {
    if (!(resolutionMs >= 1 && resolutionMs <= 1000))
      throw new RangeError(`CachedClock: resolutionMs must be in [1, 1000], got ${resolutionMs}`)
  }

  /** The time of the last refresh (at most `resolutionMs` old, plus any time the event loop was blocked). */
  now(): number {
    if (!this.running) this.start()
    this.read = true
    return this.value as number
  }

  private start(): void {
    this.refresh()
    this.running = true
    this.timer = this.timers.setInterval(this.tick, this.resolutionMs)
  }

  private refresh(): void {
    const t = this.exact()
    if (this.value === undefined || t > this.value) this.value = t
  }

  private readonly tick = (): void => {
    if (!this.read) {
      // A whole interval without a read: stop until the next one.
      this.timers.clearInterval(this.timer)
      this.running = false
      return
    }
    this.read = false
    this.refresh()
  }
}

/** `setTimeout` as a {@link Clock}'s timer (kept referenced, as a pending call's timeout should be). */
const timeout = (work: () => void, delayMs = 0): TimerHandle => new Timeout(globalThis.setTimeout(work, delayMs))

/** A `setTimeout` handle as a {@link TimerHandle}: one object per timer, its methods shared. */
class Timeout implements TimerHandle {
  constructor(private readonly handle: ReturnType<typeof setTimeout>) {}
  unsubscribe(): void {
    globalThis.clearTimeout(this.handle)
  }
  unref(): void {
    ;(this.handle as { unref?: () => void }).unref?.()
  }
}

const cached = new CachedClock()

/**
 * The default clock of breakers: monotonic (`performance.timeOrigin + performance.now()`), so a
 * wall-clock jump (NTP, a VM resumed, an operator fixing the date) can neither open nor hold a
 * circuit, with `setTimeout` as its timer. Reads go through a {@link CachedClock} of 1 ms
 * resolution: latencies and times are exact to about a millisecond (more if the event loop is
 * blocked), which is what a breaker's windows, timeouts and slow-call thresholds need, for a
 * fraction of the cost of reading the system clock on every call. Use {@link exactMonotonicClock}
 * to read it on every call instead, or inject another clock (an RxJS `TestScheduler`, your own
 * fake) for tests in virtual time: a breaker only ever reads the clock it is given.
 *
 * @example
 * import { monotonicClock } from '@datapunk/breaker-runtime'
 * const a = monotonicClock.now()
 * monotonicClock.now() >= a // true
 */
export const monotonicClock: Clock = {
  now: () => cached.now(),
  schedule: timeout,
}

/**
 * As {@link monotonicClock}, reading `performance.now()` on every call: exact latencies, at
 * about 43 ns more per read (two reads per call through a breaker).
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { createBreaker, exactMonotonicClock } from '@datapunk/breaker-runtime'
 * const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 3 } }), { clock: exactMonotonicClock })
 * breaker.clock.now() > 0 // true
 */
export const exactMonotonicClock: Clock = {
  now: exactNow,
  schedule: timeout,
}
