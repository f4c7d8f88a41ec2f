import { circuit } from '@datapunk/breaker'
import {
  BrokenCircuitError,
  type Clock,
  classifyHttp,
  createBreaker,
  type ExecuteOptions,
  parseRetryAfter,
  type TransitionEvent,
  Verdict,
  withOptions,
} from '@datapunk/breaker-runtime'
import { describe, expect, it } from 'vitest'

/** A clock that stands still unless moved; timers are never due (no test here waits for one). */
const manualClock = () => {
  const clock = { time: 1000, now: () => clock.time, schedule: () => ({ unsubscribe: () => {} }) }
  return clock as Clock & { time: number }
}

const breakerWith = (threshold = 2) => {
  const clock = manualClock()
  const breaker = createBreaker(
    circuit({
      name: 'upstream',
      trip: { kind: 'consecutive-failures', threshold },
      recovery: { kind: 'classic', probes: 1 },
      openFor: { kind: 'retry-after', minMs: 100, maxMs: 60_000, otherwise: { kind: 'constant', ms: 2000 } },
    }),
    { clock },
  )
  const transitions: TransitionEvent[] = []
  breaker.transitions$.subscribe((e) => transitions.push(e))
  return { breaker, clock, transitions }
}

// Both paths of execute: the plain one (no timeout, no signal) and the settlement object's.
const PATHS: ReadonlyArray<readonly [string, ExecuteOptions<unknown>]> = [
  ['plain', {}],
  ['with a timeout', { timeoutMs: 5000 }],
]

describe('execute classifies results', () => {
  for (const [path, extra] of PATHS) {
    it(`${path}: an answer classified 'failure' counts against the upstream, and the caller still gets it`, async () => {
      const { breaker } = breakerWith()
      const options = { ...extra, classifyResult: (r: unknown) => ((r as { ok: boolean }).ok ? 'success' : 'failure') } as const
      await expect(breaker.execute(async () => ({ ok: false }), options)).resolves.toEqual({ ok: false })
      await expect(breaker.execute(async () => ({ ok: false }), options)).resolves.toEqual({ ok: false })
      expect(breaker.snapshot()).toMatchObject({ state: 'open', inFlight: 0 })
      await expect(breaker.execute(async () => ({ ok: true }), options)).rejects.toBeInstanceOf(BrokenCircuitError)
    })

    it(`${path}: 'ignore' counts nowhere, and an error classified 'success' resets the run of failures`, async () => {
      const { breaker } = breakerWith(3)
      await breaker.execute(() => Promise.reject(new Error('down')), extra).catch(() => undefined)
      // Ignored: the run of failures neither grows nor resets.
      await expect(breaker.execute(async () => 'x', { ...extra, classifyResult: () => 'ignore' })).resolves.toBe('x')
      expect(breaker.snapshot()).toMatchObject({ consecutiveFailures: 1, inFlight: 0 })
      const answered = breaker.execute(() => Promise.reject(new Error('no such item')), { ...extra, classifyError: () => 'success' })
      await expect(answered).rejects.toThrow('no such item')
      await breaker.execute(() => Promise.reject(new Error('down')), extra).catch(() => undefined)
      expect(breaker.snapshot()).toMatchObject({ state: 'closed', consecutiveFailures: 1 })
    })

    it(`${path}: a failure with a retry hint opens for the hint, and rejections report it`, async () => {
      const { breaker, clock } = breakerWith(1)
      await breaker.execute(async () => 'busy', { ...extra, classifyResult: () => Verdict.failure(30_000) })
      expect(breaker.snapshot()).toMatchObject({ state: 'open', openUntil: 31_000 })
      clock.time = 11_000
      const rejected = await breaker.execute(async () => 'never').catch((e: unknown) => e)
      expect(rejected).toBeInstanceOf(BrokenCircuitError)
      expect((rejected as BrokenCircuitError).retryAfterMs).toBe(20_000)
    })

    it(`${path}: a classifier that throws or answers no verdict counts a failure and says so on transitions$`, async () => {
      const { breaker, transitions } = breakerWith(3)
      await breaker.execute(async () => 1, {
        ...extra,
        classifyResult: () => {
          throw new Error('classifier bug')
        },
      })
      await breaker.execute(async () => 1, { ...extra, classifyResult: () => true as unknown as Verdict })
      await breaker.execute(() => Promise.reject(new Error('x')), { ...extra, classifyError: () => 'maybe' as Verdict }).catch(() => 0)
      expect(breaker.snapshot()).toMatchObject({ state: 'open', inFlight: 0 })
      const messages = transitions.filter((e) => e._tag === 'ClassifierFailed').map((e) => (e as { message: string }).message)
      expect(messages).toEqual([
        'Error: classifier bug',
        expect.stringContaining('classifyResult returned true'),
        expect.stringContaining('classifyError returned "maybe"'),
      ])
    })
  }

  it('refuses isFailure and classifyError together, and a classifier that is not a function, before taking a permit', async () => {
    const { breaker } = breakerWith()
    await expect(breaker.execute(async () => 1, { isFailure: () => true, classifyError: () => 'failure' })).rejects.toThrow(
      /give isFailure or classifyError, not both/,
    )
    await expect(breaker.execute(async () => 1, { classifyResult: 'http' as never })).rejects.toThrow(
      /classifyResult must be a function, got string/,
    )
    expect(breaker.lastCall).toBe(0)
    expect(breaker.snapshot()).toMatchObject({ inFlight: 0 })
  })

  it('a late answer after a timeout is not classified', async () => {
    const clock = {
      now: () => 0,
      schedule: (work: () => void) => {
        queueMicrotask(work)
        return { unsubscribe: () => {} }
      },
    }
    const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 5 } }), { clock })
    let classified = 0
    const late = breaker.execute(() => new Promise((resolve) => setTimeout(() => resolve('late'), 5)), {
      timeoutMs: 1,
      classifyResult: () => {
        classified++
        return 'success'
      },
    })
    await expect(late).rejects.toThrow(/timed out/)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(classified).toBe(0)
  })
})

describe('classifyHttp', () => {
  const { classifyResult, classifyError } = classifyHttp({ wallClock: () => Date.parse('2026-12-05T00:00:00Z') })

  it('counts 5xx and 429 as failures, any other status as a success', () => {
    expect([200, 204, 301, 400, 404, 499].map((status) => classifyResult({ status }))).toEqual(Array(6).fill('success'))
    expect([429, 500, 502, 503, 599].map((status) => classifyResult({ status }))).toEqual(Array(5).fill('failure'))
    expect(classifyResult({ statusCode: 503 })).toBe('failure')
    expect(classifyResult('no status here')).toBe('success')
  })

  it('reads Retry-After from fetch Headers, node header records and axios errors, as seconds or an HTTP date', () => {
    expect(classifyResult({ status: 503, headers: new Headers({ 'Retry-After': '120' }) })).toEqual({
      verdict: 'failure',
      retryAfterMs: 120_000,
    })
    expect(classifyResult({ statusCode: 429, headers: { 'retry-after': 'Sat, 05 Dec 2026 00:00:30 GMT' } })).toEqual({
      verdict: 'failure',
      retryAfterMs: 30_000,
    })
    expect(classifyResult({ status: 503, headers: { 'Retry-After': ['7', '9'] } })).toEqual({ verdict: 'failure', retryAfterMs: 7000 })
    expect(classifyResult({ status: 503, headers: { 'retry-after': 'soon' } })).toBe('failure')
    expect(classifyResult({ status: 200, headers: { 'retry-after': '5' } })).toBe('success')
    const axiosError = Object.assign(new Error('Request failed with status code 503'), {
      response: { status: 503, headers: { 'retry-after': '3' } },
    })
    expect(classifyError(axiosError)).toEqual({ verdict: 'failure', retryAfterMs: 3000 })
    expect(classifyError(Object.assign(new Error('Not Found'), { response: { status: 404 } }))).toBe('ignore')
    expect(classifyError(new Error('ECONNREFUSED'))).toBe('failure')
    // got's HTTPError carries the response as node:http gives it.
    const gotError = Object.assign(new Error('Response code 429'), { response: { statusCode: 429, headers: { 'retry-after': '2' } } })
    expect(classifyError(gotError)).toEqual({ verdict: 'failure', retryAfterMs: 2000 })
  })

  it('takes another failure rule, and can leave Retry-After unread', () => {
    const strict = classifyHttp({ isFailure: (status) => status >= 400, retryAfter: false })
    expect(strict.classifyResult({ status: 404 })).toBe('failure')
    expect(strict.classifyResult({ status: 503, headers: { 'retry-after': '5' } })).toBe('failure')
    expect(() => classifyHttp({ isFailure: 5 as never })).toThrow(TypeError)
  })

  it('gives the same pair of functions each time, in a fresh object: options built per call are found already checked', async () => {
    const [a, b] = [classifyHttp(), classifyHttp({})]
    expect(a).not.toBe(b)
    expect([a.classifyResult, a.classifyError]).toEqual([b.classifyResult, b.classifyError])
    const { breaker } = breakerWith()
    for (const timeoutMs of [1000, 2000])
      await expect(breaker.execute(async () => ({ status: 200 }), { ...classifyHttp(), timeoutMs })).resolves.toEqual({ status: 200 })
    // The same parts with one of them changed are checked again, whatever object carries them.
    await expect(breaker.execute(async () => 'x', { ...classifyHttp(), timeoutMs: -1 })).rejects.toThrow(RangeError)
  })

  for (const [label, options] of PATHS) {
    it(`its plain successes are answered at a glance (${label}); a status that throws to read is the classifier's failure`, async () => {
      const { breaker, transitions } = breakerWith(1)
      await breaker.execute(async () => ({ status: 204 }), { ...classifyHttp(), ...options })
      expect(breaker.snapshot()).toMatchObject({ state: 'closed', consecutiveFailures: 0 })
      const hostile = {
        get status(): number {
          throw new Error('no status here')
        },
      }
      await expect(breaker.execute(async () => hostile, { ...classifyHttp(), ...options })).resolves.toBe(hostile)
      expect(breaker.snapshot().state).toBe('open')
      expect(transitions.filter((e) => e._tag === 'ClassifierFailed').map((e) => (e as { message: string }).message)).toEqual([
        'Error: no status here',
      ])
    })
  }

  it('parseRetryAfter reads delay-seconds and dated values, and nothing else', () => {
    expect(parseRetryAfter(' 0 ')).toBe(0)
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:30 GMT', 10_000)).toBe(20_000)
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:05 GMT', 10_000)).toBe(0)
    expect(parseRetryAfter('99999999999')).toBeUndefined()
    expect(parseRetryAfter('9999999999')).toBe(2 ** 31 - 1)
    for (const junk of ['', '-5', '1.5', 'soon', '2026-12-05', 'Sat, 05 Dec 2026 00:00:30']) expect(parseRetryAfter(junk)).toBeUndefined()
  })
})

describe('withOptions: execute with its options made once', () => {
  it('checks the options once, at once, and reads them no more', async () => {
    const { breaker } = breakerWith(1)
    expect(() => withOptions(breaker, { timeoutMs: -1 })).toThrow(/withOptions: timeoutMs must be a number of milliseconds/)
    expect(() => withOptions(breaker, { isFailure: () => true, classifyError: () => 'failure' })).toThrow(TypeError)
    const options: { classifyResult: (value: { status: number }) => Verdict } = { ...classifyHttp() }
    const http = withOptions(breaker, options)
    // Changing the object afterwards changes nothing: the bound options were read when bound.
    options.classifyResult = () => 'failure'
    await expect(http.execute(async () => ({ status: 200 }))).resolves.toEqual({ status: 200 })
    expect(breaker.snapshot().state).toBe('closed')
    await expect(http.execute(async () => ({ status: 503, headers: { 'retry-after': '7' } }))).resolves.toMatchObject({ status: 503 })
    expect(breaker.snapshot()).toMatchObject({ state: 'open' })
    const rejected = await http.execute(async () => ({ status: 200 })).catch((e: unknown) => e)
    expect(rejected).toBeInstanceOf(BrokenCircuitError)
    expect((rejected as BrokenCircuitError).retryAfterMs).toBe(7000)
  })

  it("takes each call's own signal, and refuses what is not a function", async () => {
    const { breaker } = breakerWith(1)
    const http = withOptions(breaker, classifyHttp())
    const controller = new AbortController()
    controller.abort(new Error('caller gave up'))
    let called = false
    await expect(
      http.execute(async () => {
        called = true
        return { status: 200 }
      }, controller.signal),
    ).rejects.toThrow('caller gave up')
    expect(called).toBe(false)
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', inFlight: 0 })
    await expect(http.execute(null as never)).rejects.toThrow(/expected a function to call/)
  })
})
