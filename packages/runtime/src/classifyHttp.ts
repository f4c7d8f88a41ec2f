/**
 * Classifiers for HTTP calls: `fetch` resolves on a 503, so without them a breaker in front of
 * `fetch` counts every error status as a success and never trips.
 */
import { Limits } from '@datapunk/breaker'
import { kindOf } from './checkInput.js'
import { type Classifier, Verdict } from './Verdict.js'

/** Options of {@link classifyHttp}. */
export interface HttpClassification {
  /**
   * Which statuses are the upstream's fault. Default: 5xx and 429 (too many requests); every
   * other status is a success (a 404 is an answer), or, on an error a client threw, ignored.
   */
  readonly isFailure?: (status: number) => boolean
  /** Read `Retry-After` on a failure status (delay-seconds or an HTTP date) as the failure's retry hint. Default `true`. */
  readonly retryAfter?: boolean
  /** The wall clock an HTTP-date `Retry-After` is measured against, in ms since the epoch. Default `Date.now`. */
  readonly wallClock?: () => number
}

/** The two classifiers `classifyHttp` gives, ready to spread into `execute`'s or the operator's options. */
export interface HttpClassifiers {
  /** For answers: a `fetch` `Response`, a `node:http` `IncomingMessage`, anything with `status` or `statusCode`. */
  readonly classifyResult: Classifier<unknown>
  /**
   * For errors: an error with a status (`status`, `statusCode`, or `response.status` as axios
   * throws it, `response.statusCode` as got does) is judged by it (a status that is not a failure is ignored: the client refused an
   * answer the upstream gave properly); an error without one (refused, reset, aborted) is a failure.
   */
  readonly classifyError: Classifier<unknown>
}

/** 5xx and 429: the statuses that are an upstream's fault by default. */
export const isFailureStatus = (status: number): boolean => status >= 500 || status === 429

/** An HTTP status, if `value` carries one where the common clients put it. */
const statusOf = (value: unknown): number | undefined => {
  if (typeof value !== 'object' || value === null) return undefined
  const v = value as { status?: unknown; statusCode?: unknown; response?: unknown }
  const status =
    typeof v.status === 'number'
      ? v.status
      : typeof v.statusCode === 'number'
        ? v.statusCode
        : typeof v.response === 'object' && v.response !== null
          ? ((v.response as { status?: unknown; statusCode?: unknown }).status ?? (v.response as { statusCode?: unknown }).statusCode)
          : undefined
  return typeof status === 'number' && Number.isInteger(status) && status >= 100 && status <= 999 ? status : undefined
}

/** A header's value: `Headers.get` (fetch), or a plain record (`node:http`, axios), any case of the name. */
const headerOf = (value: unknown, name: string): string | undefined => {
  const holder = value as { headers?: unknown; response?: { headers?: unknown } }
  const headers = holder.headers ?? holder.response?.headers
  if (typeof headers !== 'object' || headers === null) return undefined
  const get = (headers as { get?: unknown }).get
  if (typeof get === 'function') {
    const got: unknown = get.call(headers, name)
    return typeof got === 'string' ? got : undefined
  }
  for (const [key, raw] of Object.entries(headers as Record<string, unknown>)) {
    if (key.toLowerCase() !== name) continue
    const found = Array.isArray(raw) ? raw[0] : raw
    return typeof found === 'string' || typeof found === 'number' ? String(found) : undefined
  }
  return undefined
}

const DELAY_SECONDS = /^\s*(\d{1,10})\s*$/

/**
 * Reads an HTTP `Retry-After` value as ms from now: delay-seconds (`"120"`) or an HTTP date
 * (`"Wed, 21 Oct 2026 07:28:00 GMT"`, measured against `now`, a date in the past being 0);
 * `undefined` for anything else. At most `Limits.maxDurationMs`.
 *
 * @example
 * import { parseRetryAfter } from '@datapunk/breaker-runtime'
 * parseRetryAfter('120') // 120000
 * parseRetryAfter('Thu, 01 Jan 1970 00:00:30 GMT', 10_000) // 20000
 * parseRetryAfter('soon') // undefined
 */
export const parseRetryAfter = (value: string, now: number = Date.now()): number | undefined => {
  const seconds = DELAY_SECONDS.exec(value)
  if (seconds !== null) return Math.min(Number(seconds[1]) * 1000, Limits.maxDurationMs)
  // Only a date that names its time zone: `Date.parse` reads a bare date as local time.
  if (!/GMT|UTC|[+-]\d{4}\s*$/.test(value)) return undefined
  const at = Date.parse(value)
  if (!Number.isFinite(at)) return undefined
  return Math.min(Math.max(0, at - now), Limits.maxDurationMs)
}

/**
 * Classifiers for HTTP calls, to spread into the options of `execute` or the operator: 5xx and 429
 * are failures, with `Retry-After` read as the retry hint (which the `retry-after` open duration
 * honours), any other status a success; errors without a status (the connection failed) are failures.
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { classifyHttp, createBreaker } from '@datapunk/breaker-runtime'
 * const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }))
 * const unavailable = { status: 503, headers: new Headers({ 'retry-after': '30' }) }
 * await breaker.execute(async () => unavailable, classifyHttp()) // resolves with the 503 response...
 * breaker.snapshot().state // 'open': ...and counted it as a failure
 * classifyHttp().classifyResult(unavailable) // { verdict: 'failure', retryAfterMs: 30000 }
 * classifyHttp().classifyResult({ status: 404 }) // 'success'
 */
export const classifyHttp = (options?: HttpClassification): HttpClassifiers => {
  // The default classifiers are one pair of functions, made once: options built per call from them
  // are found already checked by `execute` (which answers a plain success at a glance, see
  // `answeredOk`). A fresh object each time: nobody shares one to mutate.
  if (options !== undefined && (typeof options !== 'object' || options === null))
    throw new TypeError(`classifyHttp: options must be an object, got ${kindOf(options)}`)
  if (options === undefined || Object.keys(options).length === 0)
    return { classifyResult: DEFAULT_CLASSIFIERS.classifyResult, classifyError: DEFAULT_CLASSIFIERS.classifyError }
  return classifiers(options)
}

/**
 * Whether `value` is an answer the default rule counts a success at a glance: an object whose
 * `status` is a number in [100, 429). Never throws (a `status` getter that throws is no status).
 */
export const answeredOk = (value: unknown): boolean => {
  if (typeof value !== 'object' || value === null) return false
  try {
    const status = (value as { status?: unknown }).status
    return typeof status === 'number' && status >= 100 && status < 429
  } catch {
    return false
  }
}

const classifiers = (options: HttpClassification): HttpClassifiers => {
  const { isFailure = isFailureStatus, retryAfter = true, wallClock = Date.now } = options
  if (typeof isFailure !== 'function') throw new TypeError('classifyHttp: isFailure must be a function of the status')
  if (typeof wallClock !== 'function') throw new TypeError('classifyHttp: wallClock must be a function returning ms since the epoch')
  const failure = (value: unknown): Verdict => {
    if (!retryAfter) return 'failure'
    const header = headerOf(value, 'retry-after')
    return Verdict.failure(header === undefined ? undefined : parseRetryAfter(header, wallClock()))
  }
  const byDefault = isFailure === isFailureStatus
  return {
    classifyResult: (value) => {
      // The common answer first, at the cost of two reads: a `status` below 429 under the default rule.
      if (byDefault && answeredOk(value)) return 'success'
      const status = statusOf(value)
      return status !== undefined && isFailure(status) ? failure(value) : 'success'
    },
    classifyError: (error) => {
      const status = statusOf(error)
      if (status === undefined) return 'failure'
      return isFailure(status) ? failure(error) : 'ignore'
    },
  }
}

/** `classifyHttp()`'s classifiers, made once. */
const DEFAULT_CLASSIFIERS: HttpClassifiers = classifiers({})

/** The default result classifier, which `execute` answers at a glance for a plain success (see `answeredOk`). */
export const defaultHttpResults: Classifier<unknown> = DEFAULT_CLASSIFIERS.classifyResult
