/**
 * The checks at the runtime's front doors (`createBreaker`, `Breaker.swap`, `breakerGroup`,
 * `logBreaker`, call options): a value of the wrong kind is a `TypeError` naming what was wrong,
 * thrown before anything changes, instead of a `TypeError` from deep inside on a later call.
 */
import type { Strategy } from '@datapunk/breaker'
import type { Clock } from './Clock.js'

/** How a value reads in an error message: its type, or `null`. */
export const kindOf = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value)

const isObject = (value: unknown): value is Record<string, unknown> =>
  (typeof value === 'object' || typeof value === 'function') && value !== null

/** The parts every strategy has (see `Strategy` in the core); the optional ones, if present, must be functions. */
const REQUIRED = ['initial', 'step', 'inspect'] as const
const OPTIONAL = ['handoff', 'adopt', 'transitioned', 'share'] as const

/**
 * Checks that `strategy` is a strategy (`circuit(...)`, `adaptiveThrottle(...)`, a composite or
 * your own): a name, `initial`, `step`, `inspect` and a codec that encodes and decodes.
 */
export const checkStrategy = (where: string, strategy: unknown): Strategy<unknown> => {
  if (!isObject(strategy)) throw new TypeError(`${where}: expected a strategy (circuit(...), or your own), got ${kindOf(strategy)}`)
  const problem = strategyProblem(strategy)
  if (problem !== undefined) throw new TypeError(`${where}: expected a strategy (circuit(...), or your own), but ${problem}`)
  return strategy as unknown as Strategy<unknown>
}

const strategyProblem = (s: Record<string, unknown>): string | undefined => {
  if (typeof s.name !== 'string') return `its name is ${kindOf(s.name)}, not a string`
  for (const part of REQUIRED) if (typeof s[part] !== 'function') return `its ${part} is ${kindOf(s[part])}, not a function`
  for (const part of OPTIONAL) {
    if (s[part] !== undefined && typeof s[part] !== 'function') return `its ${part} is ${kindOf(s[part])}, not a function`
  }
  const codec = s.codec
  if (!isObject(codec) || typeof codec.encode !== 'function' || typeof codec.decode !== 'function')
    return 'its codec has no encode and decode functions'
  const overdue = s.overdueAfterMs
  if (overdue !== undefined && !(typeof overdue === 'number' && overdue >= 0))
    return `its overdueAfterMs is ${String(overdue)}, not a number of ms`
  return undefined
}

/** Checks that `clock` is a {@link Clock}: `now()` and `schedule(work, delayMs)` (any RxJS scheduler is one). */
export const checkClock = (where: string, clock: unknown): Clock => {
  if (!isObject(clock) || typeof clock.now !== 'function' || typeof clock.schedule !== 'function') {
    throw new TypeError(
      `${where}: clock must have now() and schedule(work, delayMs) (monotonicClock, an RxJS scheduler, or your own), got ${kindOf(clock)}`,
    )
  }
  return clock as unknown as Clock
}

/** Checks that an optional option is a function. */
export const checkFunction = (where: string, name: string, f: unknown): void => {
  if (f !== undefined && typeof f !== 'function') throw new TypeError(`${where}: ${name} must be a function, got ${kindOf(f)}`)
}

/** Checks that an options argument, if given, is an object (`null` and `5` are not). */
export const checkOptions = (where: string, options: unknown): void => {
  if (options !== undefined && (typeof options !== 'object' || options === null))
    throw new TypeError(`${where}: options must be an object, got ${kindOf(options)}`)
}

/**
 * Checks a duration histogram's bucket bounds, in seconds (the Prometheus and OpenTelemetry
 * adapters' `buckets`): a non-empty array of finite numbers above 0, each given once.
 */
export const checkBuckets = (where: string, buckets: unknown): ReadonlyArray<number> => {
  if (!Array.isArray(buckets) || buckets.length === 0)
    throw new TypeError(
      `${where}: buckets must be a non-empty array of seconds, got ${Array.isArray(buckets) ? 'an empty array' : kindOf(buckets)}`,
    )
  const seen = new Set<number>()
  for (const b of buckets as unknown[]) {
    if (typeof b !== 'number' || !(b > 0) || b === Number.POSITIVE_INFINITY)
      throw new RangeError(`${where}: each bucket must be a finite number of seconds above 0, got ${typeof b === 'number' ? b : kindOf(b)}`)
    if (seen.has(b)) throw new RangeError(`${where}: bucket ${b} is given twice`)
    seen.add(b)
  }
  return buckets as ReadonlyArray<number>
}
