/**
 * The promise API: `breaker.execute((signal) => fetch(url, { signal }), options)`. The same
 * admission, classification and settlement as the `circuitBreaker()` operator (both build on
 * `AdmittedCall`), for callers that do not use RxJS.
 */
import { type Admitted, type Decision, Limits } from '@datapunk/breaker'
import { AdmittedCall, CANCEL, type CallGate, type CallSink, classifyError, classifyResult, FAILURE, SUCCESS } from './AdmittedCall.js'
import { BrokenCircuitError, CallTimeoutError } from './BrokenCircuitError.js'
import type { TimerHandle } from './Clock.js'
import { checkFunction, checkOptions, kindOf } from './checkInput.js'
import { answeredOk, defaultHttpResults } from './classifyHttp.js'
import type { Unsubscribable } from './EventStream.js'
import type { Classifier, Judged } from './Verdict.js'

/** Waiting in half-open instead of failing at once (cockatiel's behaviour), bounded. */
export interface WaitConfig {
  /** Callers that may wait at once; more are rejected as usual. Default 100 (1 to 100,000). */
  readonly maxWaiting?: number
  /** The longest a caller waits, in ms (clock time), before failing with `BrokenCircuitError`. 1 to 2^31 - 1. */
  readonly maxWaitMs: number
}

/** Options shared by the operator and `execute`; `T` is the type of the call's answers. */
export interface CallOptions<T = unknown> {
  /**
   * Whether an error is the upstream's fault. Errors it returns `false` for (a 404, a validation
   * error) count nowhere and give back a probe permit. If it throws, the call counts as a failure
   * and the breaker reports `ClassifierFailed` on `transitions$`. Default: every error is a failure.
   * `classifyError` says more (a success, a retry hint); give one or the other.
   */
  readonly isFailure?: (error: unknown) => boolean
  /**
   * How an error counts: `'failure'` (the default for every error), `'ignore'` (counts nowhere),
   * `'success'` (the upstream answered; the caller still gets the error), or
   * `Verdict.failure(retryAfterMs)`: a failure with the upstream's retry hint. A classifier that
   * throws or answers anything else counts the call as a failure and is reported as
   * `ClassifierFailed` on `transitions$`. `classifyHttp()` gives one for HTTP clients that throw
   * on an error status (axios, got).
   */
  readonly classifyError?: Classifier<unknown>
  /**
   * How an answer counts (the caller gets it either way): `'success'` (the default), `'failure'`
   * (a `fetch` response with status 503), `'ignore'`, or `Verdict.failure(retryAfterMs)`. The
   * operator classifies the first value. Problems as for `classifyError`. `classifyHttp()` gives
   * one for `fetch` responses and `node:http` messages.
   */
  readonly classifyResult?: Classifier<T>
  /**
   * If set, an admitted call that has not settled after this many ms (clock time) is stopped
   * (the source unsubscribed, or the `AbortSignal` aborted), counted as a failure, and fails with
   * a `CallTimeoutError`. 1 to 2^31 - 1 (the longest timer Node keeps). Default: none.
   */
  readonly timeoutMs?: number
  /**
   * If set, a caller rejected because half-open is full (or the recovery is throttling) waits
   * for the probes' verdict instead: it runs once the circuit closed or ramped far enough to
   * admit it, and fails with `BrokenCircuitError` if the circuit opened again or after
   * `maxWaitMs`. Default: reject at once.
   */
  readonly waitInHalfOpen?: WaitConfig
}

/** Options of `Breaker.execute`. */
export interface ExecuteOptions<T = unknown> extends CallOptions<T> {
  /**
   * The caller's own signal: when it aborts, the call is cancelled (counts nowhere, gives back a
   * probe permit), the signal given to `fn` aborts, and the promise rejects with the abort reason.
   * Aborted already: `fn` is never called.
   */
  readonly signal?: AbortSignal
}

/** Options after checking, with defaults filled. */
export interface CheckedCallOptions {
  /** The error classifier; `undefined`: every error is a failure. */
  readonly errors: Classifier<unknown> | undefined
  /** The answer classifier; `undefined`: every answer is a success. */
  readonly results: Classifier<unknown> | undefined
  readonly timeoutMs: number | undefined
  readonly wait: { readonly maxWaiting: number; readonly maxWaitMs: number } | undefined
  /** The options as given, when checked (so a call given the same options, unchanged, skips the checks). */
  readonly given: CallOptions<never> | undefined
}

/** The checked options of a call given none. */
export const DEFAULT_CALL_OPTIONS: CheckedCallOptions = {
  errors: undefined,
  results: undefined,
  timeoutMs: undefined,
  wait: undefined,
  given: undefined,
}

/** The longest timer Node holds (2^31 - 1 ms): the core's longest duration. */
const MAX_TIMER_MS = Limits.maxDurationMs
const inTimerRange = (ms: unknown): boolean => typeof ms === 'number' && ms >= 1 && ms <= MAX_TIMER_MS

/** Checks call options once, where they are given: a bad value is a `RangeError` or `TypeError` naming it. */
export const callOptions = (options: CallOptions<never>, where: string): CheckedCallOptions => {
  const { timeoutMs, waitInHalfOpen, isFailure, classifyError, classifyResult } = options
  if (timeoutMs !== undefined && !inTimerRange(timeoutMs)) {
    throw new RangeError(`${where}: timeoutMs must be a number of milliseconds in [1, ${MAX_TIMER_MS}], got ${String(timeoutMs)}`)
  }
  checkFunction(where, 'isFailure', isFailure)
  checkFunction(where, 'classifyError', classifyError)
  checkFunction(where, 'classifyResult', classifyResult)
  if (isFailure !== undefined && classifyError !== undefined) {
    throw new TypeError(`${where}: give isFailure or classifyError, not both (classifyError says all isFailure does)`)
  }
  let wait: CheckedCallOptions['wait']
  if (waitInHalfOpen !== undefined) {
    const maxWaiting = waitInHalfOpen.maxWaiting ?? 100
    if (!inTimerRange(waitInHalfOpen.maxWaitMs)) {
      throw new RangeError(
        `${where}: waitInHalfOpen.maxWaitMs must be a number of milliseconds in [1, ${MAX_TIMER_MS}], got ${String(waitInHalfOpen.maxWaitMs)}`,
      )
    }
    if (!(Number.isSafeInteger(maxWaiting) && maxWaiting >= 1 && maxWaiting <= 100_000)) {
      throw new RangeError(`${where}: waitInHalfOpen.maxWaiting must be an integer in [1, 100000], got ${String(maxWaiting)}`)
    }
    wait = { maxWaiting, maxWaitMs: waitInHalfOpen.maxWaitMs }
  }
  const errors: Classifier<unknown> | undefined =
    classifyError ?? (isFailure === undefined ? undefined : (error) => (isFailure(error) ? 'failure' : 'ignore'))
  return {
    errors,
    results: classifyResult as Classifier<unknown> | undefined,
    timeoutMs,
    wait,
    given: { isFailure, classifyError, classifyResult, timeoutMs, waitInHalfOpen } as CallOptions<never>,
  }
}

/** Whether `options` still say what `checked` was checked from (every field read again: options objects are mutable). */
const unchanged = (options: CallOptions<never>, checked: CheckedCallOptions): boolean => {
  const given = checked.given
  if (given === undefined) return false
  const wait = options.waitInHalfOpen
  return (
    options.classifyResult === given.classifyResult &&
    options.classifyError === given.classifyError &&
    options.isFailure === given.isFailure &&
    options.timeoutMs === given.timeoutMs &&
    wait === given.waitInHalfOpen &&
    (wait === undefined || (wait.maxWaitMs === checked.wait?.maxWaitMs && (wait.maxWaiting ?? 100) === checked.wait.maxWaiting))
  )
}

/**
 * The last options `execute` checked: a service passes the same options object on every call
 * (`classifyHttp()` built once), which then costs a few reads instead of the checks.
 */
let lastChecked: CheckedCallOptions = DEFAULT_CALL_OPTIONS

/** One admitted promise call: settles once, whichever of the result, the timeout or an abort comes first. */
class Execution<T> extends AdmittedCall {
  controller: AbortController | undefined
  timer: TimerHandle | undefined
  abortListener: (() => void) | undefined

  constructor(
    sink: CallSink,
    ticket: Admitted,
    call: number,
    started: number,
    private readonly resolve: (value: T) => void,
    private readonly reject: (error: unknown) => void,
    private readonly checked: CheckedCallOptions,
    private readonly signal: AbortSignal | undefined,
  ) {
    super(sink, ticket, call, started)
  }

  succeed(value: T): void {
    // Settled already (a timeout, an abort): the late answer is nobody's to classify.
    if (this.settled) return
    if (this.finish(classifyResult(this.sink, this.checked.results, value))) this.resolve(value)
  }

  fail(error: unknown): void {
    if (this.settled) return
    if (this.finish(classifyError(this.sink, this.checked.errors, error))) this.reject(error)
  }

  timedOut(timeoutMs: number): void {
    if (!this.finish(FAILURE, true)) return
    const error = new CallTimeoutError(this.sink.name, timeoutMs)
    this.controller?.abort(error)
    this.reject(error)
  }

  aborted(): void {
    if (!this.finish(CANCEL)) return
    const reason: unknown = this.signal?.reason
    this.controller?.abort(reason)
    this.reject(reason)
  }

  private finish(outcome: Judged, timedOut = false): boolean {
    if (!this.settle(outcome, timedOut)) return false
    this.timer?.unsubscribe()
    if (this.abortListener !== undefined) this.signal?.removeEventListener('abort', this.abortListener)
    return true
  }
}

/** Runs `fn` as the admitted call `ticket`. */
const run = <T>(
  breaker: CallGate,
  ticket: Admitted,
  call: number,
  started: number,
  fn: (signal: AbortSignal) => PromiseLike<T> | T,
  checked: CheckedCallOptions,
  signal: AbortSignal | undefined,
): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const execution = new Execution<T>(breaker, ticket, call, started, resolve, reject, checked, signal)
    if (signal !== undefined) {
      if (signal.aborted) {
        execution.aborted()
        return
      }
      execution.abortListener = () => execution.aborted()
      signal.addEventListener('abort', execution.abortListener, { once: true })
    }
    const timeoutMs = checked.timeoutMs
    // A function that takes no argument cannot watch a signal: it gets a shared, never-aborted one.
    const needsSignal = fn.length > 0
    if (needsSignal) execution.controller = new AbortController()
    if (timeoutMs !== undefined) execution.timer = breaker.clock.schedule(() => execution.timedOut(timeoutMs), timeoutMs)
    // Whatever `fn` or the thenable it returns does (a `then` that throws at once included), the
    // call settles exactly once: a throw here is the call's failure, and frees its permit.
    try {
      const result = fn(execution.controller?.signal ?? NEVER_ABORTED)
      if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<T>).then === 'function') {
        ;(result as PromiseLike<T>).then(
          (value) => execution.succeed(value),
          (error: unknown) => execution.fail(error),
        )
      } else execution.succeed(result as T)
    } catch (error) {
      execution.fail(error)
    }
  })

const NEVER_ABORTED: AbortSignal = new AbortController().signal

/**
 * A promise that rejects with `error` one microtask from now. A caller attaches its handler at once
 * (`await`, `.catch`), so the promise is handled by the time it rejects, and Node skips its
 * unhandled-rejection bookkeeping: in bench/peers, `Promise.reject(e).catch(f)` costs ~1,100 ns,
 * this ~190 ns. That is most of what a rejection in the open state costs. A rejection nobody handles
 * is still reported as unhandled, as `Promise.reject` would be.
 */
const rejectSoon = <T>(error: unknown): Promise<T> =>
  new Promise<T>((_, reject) => {
    queueMicrotask(() => reject(error))
  })

/** Records how the plain call `ticket` ended, as its classifier judged it. */
const plainSettled = (breaker: CallGate, ticket: Admitted, call: number, started: number, judged: Judged): void => {
  if (judged === CANCEL) {
    breaker.cancelled(ticket, call)
    return
  }
  const now = breaker.clock.now()
  if (judged === SUCCESS) breaker.succeeded(ticket, now - started, now, call)
  else if (judged === FAILURE) breaker.failed(ticket, now - started, now, call)
  else breaker.failed(ticket, now - started, now, call, false, judged.retryAfterMs)
}

/**
 * Runs `fn` as the admitted call `ticket` when nothing but its own result can end it (no timeout,
 * no caller signal): no settlement object, no controller, and one `then` rather than an async
 * function (whose frame costs ~20 ns more per call here). Settles once because the result is the
 * only way out; a value or a throw from `fn` itself counts as a resolved or rejected promise would.
 */
const runPlain = <T>(
  breaker: CallGate,
  ticket: Admitted,
  call: number,
  started: number,
  fn: (signal: AbortSignal) => PromiseLike<T> | T,
  checked: CheckedCallOptions,
): Promise<T> => {
  let result: PromiseLike<T> | T
  try {
    result = fn(NEVER_ABORTED)
  } catch (error) {
    plainSettled(breaker, ticket, call, started, classifyError(breaker, checked.errors, error))
    return rejectSoon(error)
  }
  const results = checked.results
  // A closure per kind of answer, so each call site stays monomorphic: the unclassified answer is the
  // hot path; `classifyHttp()`'s plain successes have their own.
  return Promise.resolve(result).then(
    results === undefined
      ? (value) => {
          const now = breaker.clock.now()
          breaker.succeeded(ticket, now - started, now, call)
          return value
        }
      : results === defaultHttpResults
        ? (value) => {
            // `classifyHttp()`'s own classifier on a plain success (a status below 429) needs no call.
            if (answeredOk(value)) {
              const now = breaker.clock.now()
              breaker.succeeded(ticket, now - started, now, call)
            } else plainSettled(breaker, ticket, call, started, classifyResult(breaker, results, value))
            return value
          }
        : (value) => {
            const judged = classifyResult(breaker, results, value)
            if (judged === SUCCESS) {
              const now = breaker.clock.now()
              breaker.succeeded(ticket, now - started, now, call)
            } else plainSettled(breaker, ticket, call, started, judged)
            return value
          },
    (error: unknown) => {
      plainSettled(breaker, ticket, call, started, classifyError(breaker, checked.errors, error))
      throw error
    },
  )
}

/** `Breaker.execute`: see there. */
export const execute = <T>(breaker: CallGate, fn: (signal: AbortSignal) => PromiseLike<T> | T, options?: ExecuteOptions<T>): Promise<T> => {
  // Checked before a permit is taken: nothing to call, nothing admitted.
  if (typeof fn !== 'function') return notAFunction(fn)
  let checked = DEFAULT_CALL_OPTIONS
  if (options !== undefined) {
    if (typeof options !== 'object' || options === null)
      return rejectSoon(new TypeError(`execute: options must be an object, got ${kindOf(options)}`))
    const given = options as CallOptions<never>
    // The options checked last, or ones saying the same (options built per call from the same parts).
    if (unchanged(given, lastChecked)) checked = lastChecked
    else {
      // A promise API answers with a rejection, never a synchronous throw, even for bad options.
      try {
        checked = callOptions(given, 'execute')
      } catch (error) {
        return rejectSoon(error)
      }
      lastChecked = checked
    }
  }
  const signal = options?.signal
  return signal !== undefined && !isSignal(signal) ? notASignal(signal) : executeChecked(breaker, fn, checked, signal)
}

/** An `AbortSignal` (or one from another realm or a polyfill): `aborted`, and `addEventListener`. */
const isSignal = (signal: unknown): signal is AbortSignal =>
  typeof signal === 'object' &&
  signal !== null &&
  typeof (signal as Partial<AbortSignal>).aborted === 'boolean' &&
  typeof (signal as Partial<AbortSignal>).addEventListener === 'function'

/** The rejection of a call given something to call that is not a function (nothing is admitted). */
const notAFunction = <T>(fn: unknown): Promise<T> => rejectSoon(new TypeError(`execute: expected a function to call, got ${kindOf(fn)}`))

/** The rejection of a call given a `signal` that is not an `AbortSignal` (nothing is admitted). */
const notASignal = <T>(signal: unknown): Promise<T> =>
  rejectSoon(new TypeError(`execute: signal must be an AbortSignal, got ${kindOf(signal)}`))

/** `execute` past its options: `checked` already. */
const executeChecked = <T>(
  breaker: CallGate,
  fn: (signal: AbortSignal) => PromiseLike<T> | T,
  checked: CheckedCallOptions,
  signal: AbortSignal | undefined,
): Promise<T> => {
  const started = breaker.clock.now()
  const decision = breaker.request(started)
  if (decision._tag === 'Admitted') {
    return signal === undefined && checked.timeoutMs === undefined
      ? runPlain(breaker, decision, breaker.lastCall, started, fn, checked)
      : run(breaker, decision, breaker.lastCall, started, fn, checked, signal)
  }
  return notAdmitted(breaker, fn, checked, signal, decision)
}

/**
 * `execute` given no options, apart: a service's plain calls keep code and type feedback of their
 * own, whatever options its other calls give. Sharing `execute` with calls that classify or time
 * out had made the plain call 48.7 ns over an `await` where this takes 27.8 (bench/RESULTS.md,
 * twenty-eighth session).
 */
export const executePlain = <T>(breaker: CallGate, fn: (signal: AbortSignal) => PromiseLike<T> | T): Promise<T> => {
  if (typeof fn !== 'function') return notAFunction(fn)
  const started = breaker.clock.now()
  const decision = breaker.request(started)
  if (decision._tag !== 'Admitted') return notAdmitted(breaker, fn, DEFAULT_CALL_OPTIONS, undefined, decision)
  const ticket = decision
  const call = breaker.lastCall
  let result: PromiseLike<T> | T
  try {
    result = fn(NEVER_ABORTED)
  } catch (error) {
    plainSettled(breaker, ticket, call, started, FAILURE)
    return rejectSoon(error)
  }
  return Promise.resolve(result).then(
    (value) => {
      const now = breaker.clock.now()
      breaker.succeeded(ticket, now - started, now, call)
      return value
    },
    (error: unknown) => {
      plainSettled(breaker, ticket, call, started, FAILURE)
      throw error
    },
  )
}

/** A call the breaker did not admit: it waits (`waitInHalfOpen`), or fails with a `BrokenCircuitError`. */
const notAdmitted = <T>(
  breaker: CallGate,
  fn: (signal: AbortSignal) => PromiseLike<T> | T,
  checked: CheckedCallOptions,
  signal: AbortSignal | undefined,
  decision: Decision,
): Promise<T> => {
  const rejection = decision._tag === 'Rejected' ? decision : undefined
  const wait = checked.wait
  if (wait !== undefined && rejection !== undefined && breaker.canWait(rejection, wait.maxWaiting) && signal?.aborted !== true) {
    return new Promise<T>((resolve, reject) => {
      let onAbort: (() => void) | undefined
      const waiting: Unsubscribable = breaker.wait(
        wait.maxWaitMs,
        (ticket, call, now) => {
          if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
          run(breaker, ticket, call, now, fn, checked, signal).then(resolve, reject)
        },
        (last) => {
          if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
          reject(BrokenCircuitError.of(breaker.name, last.reason, last.retryAfterMs))
        },
      )
      if (signal !== undefined) {
        onAbort = () => {
          waiting.unsubscribe()
          reject(signal.reason)
        }
        signal.addEventListener('abort', onAbort, { once: true })
      }
    })
  }
  return rejectSoon(BrokenCircuitError.of(breaker.name, rejection?.reason ?? 'open', rejection?.retryAfterMs ?? null))
}

/** `execute` with its options made once (see {@link withOptions}). */
export interface BoundExecute<T> {
  /** `breaker.execute(fn, options)` with the bound options (and this call's own `signal`, if any). */
  execute(fn: (signal: AbortSignal) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T>
}

/**
 * Binds call options to a breaker once, for a hot path: the options are checked here (bad ones
 * throw at once, a `RangeError` or `TypeError` naming the field) and read no more, so each call
 * costs what `execute` without options costs, plus the classification. The same as
 * `breaker.execute(fn, options)` in every other way; a caller's `signal` is given per call.
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { classifyHttp, createBreaker, withOptions } from '@datapunk/breaker-runtime'
 * const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }))
 * const http = withOptions(breaker, { ...classifyHttp(), timeoutMs: 2000 })
 * await http.execute(async () => ({ status: 503, headers: {} })) // counted as a failure: the circuit opens
 * await http.execute(async () => ({ status: 200 })).catch((e: Error) => e.name) // 'BrokenCircuitError'
 */
export const withOptions = <T>(breaker: CallGate, options: CallOptions<T>): BoundExecute<T> => {
  checkOptions('withOptions', options)
  const checked = callOptions(options as CallOptions<never>, 'withOptions')
  return {
    execute: (fn, signal) =>
      typeof fn !== 'function'
        ? notAFunction(fn)
        : signal !== undefined && !isSignal(signal)
          ? notASignal(signal)
          : executeChecked(breaker, fn, checked, signal),
  }
}
