/**
 * Soak against a real `node:http` server on 127.0.0.1 that fails, answers 503 with Retry-After,
 * hangs, resets connections and recovers in phases: 11,500 calls through the operator and 11,500
 * through `execute`, 100 at a time, their answers classified by `classifyHttp()`. Every call is
 * accounted for, none hangs, every socket closes, what the breaker admitted is exactly what the
 * server saw, every open phase lasts what the retry-after open duration allows, and a hang trips
 * the circuit on its slow calls before the first of them times out. Bounded: a few seconds, all on
 * loopback; no duration is asserted, only the order of events.
 */
import { Agent, createServer, request, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { BreakerEvent, circuit } from '@datapunk/breaker'
import { type Breaker, BrokenCircuitError, type CallEvent, CallTimeoutError, classifyHttp, createBreaker } from '@datapunk/breaker-runtime'
import { circuitBreaker } from '@datapunk/breaker-rxjs'
import { firstValueFrom, Observable } from 'rxjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

type Mode = 'ok' | 'fail' | 'unavailable' | 'hang' | 'reset'

const upstream = { mode: 'ok' as Mode, received: 0, sockets: new Set<Socket>() }
let server: Server
let port = 0
// One socket per request (no keep-alive), so a closed call is a closed socket.
const agent = new Agent({ keepAlive: false, maxSockets: 200 })

beforeAll(async () => {
  server = createServer((req, res) => {
    upstream.received++
    switch (upstream.mode) {
      case 'ok':
        res.end('ok')
        return
      case 'fail':
        res.writeHead(500).end('down')
        return
      case 'unavailable':
        // Asks for a second: the breaker's retry-after open duration holds it to 50 ms.
        res.writeHead(503, { 'retry-after': '1' }).end('busy')
        return
      case 'hang':
        return // never answers: the client's timeout must end it
      case 'reset':
        req.socket.destroy()
        return
    }
  })
  server.on('connection', (socket) => {
    upstream.sockets.add(socket)
    socket.on('close', () => upstream.sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
})

afterAll(async () => {
  agent.destroy()
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

/** What an answer looks like to a client: a status, headers, a body (as `fetch` and `node:http` give). */
interface Answer {
  readonly statusCode: number
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly body: string
}

/** GET / with a signal: resolves with the answer, whatever its status, or rejects with the socket's error. */
const get = (signal: AbortSignal): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent, signal }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })

/** Runs `count` calls, `concurrency` at a time; returns how each ended. */
const pool = async (count: number, concurrency: number, call: () => Promise<unknown>) => {
  const endings = { ok: 0, answeredFailure: 0, failed: 0, timedOut: 0, rejected: 0 }
  let next = 0
  const worker = async () => {
    while (next < count) {
      next++
      try {
        const answer = (await call()) as Answer
        if (answer.statusCode < 300) endings.ok++
        else endings.answeredFailure++
      } catch (error) {
        if (error instanceof BrokenCircuitError) endings.rejected++
        else if (error instanceof CallTimeoutError) endings.timedOut++
        else endings.failed++
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return endings
}

const phases: ReadonlyArray<{ mode: Mode; calls: number }> = [
  { mode: 'ok', calls: 2000 },
  { mode: 'fail', calls: 2000 },
  { mode: 'unavailable', calls: 2000 },
  { mode: 'ok', calls: 1000 },
  { mode: 'hang', calls: 500 },
  { mode: 'reset', calls: 2000 },
  { mode: 'ok', calls: 2000 },
]

const soak = async (via: 'operator' | 'execute') => {
  const breaker: Breaker = createBreaker(
    circuit({
      name: via,
      trip: {
        kind: 'any-of',
        detectors: [
          { kind: 'failure-rate', threshold: 0.5, minimumCalls: 10, window: { kind: 'count', size: 20 } },
          // Calls past 500 ms count as slow while still running: a hang trips before its 1.5 s timeouts.
          { kind: 'slow-call-rate', threshold: 0.5, slowCallMs: 500, minimumCalls: 10, window: { kind: 'count', size: 20 } },
        ],
      },
      recovery: { kind: 'gradual', initialRate: 0.2, stageCalls: 5, stageMs: 0, probationMs: 0 },
      openFor: { kind: 'retry-after', minMs: 10, maxMs: 50, otherwise: { kind: 'constant', ms: 20 } },
    }),
  )
  const events: CallEvent[] = []
  breaker.calls$.subscribe((e) => events.push(e))
  // How long each open phase was set to last.
  const openFor: number[] = []
  breaker.state$.subscribe((s) => {
    if (s.state === 'open' && s.openUntil !== null) openFor.push(s.openUntil - s.since)
  })
  const classify = classifyHttp()
  const call =
    via === 'execute'
      ? () => breaker.execute((signal) => get(signal), { ...classify, timeoutMs: 1_500 })
      : () =>
          firstValueFrom(
            // As a user writes an abortable request in RxJS: unsubscribing (a timeout) aborts it.
            new Observable<Answer>((subscriber) => {
              const controller = new AbortController()
              get(controller.signal).then(
                (body) => {
                  subscriber.next(body)
                  subscriber.complete()
                },
                (error: unknown) => subscriber.error(error),
              )
              return () => controller.abort()
            }).pipe(circuitBreaker(breaker, { ...classify, timeoutMs: 1_500 })),
          )
  const receivedBefore = upstream.received
  const totals = { ok: 0, answeredFailure: 0, failed: 0, timedOut: 0, rejected: 0 }
  // When the hang began, in what state, and when it first opened the circuit and first timed a call out.
  const hang = { state: '', from: 0, opened: Number.POSITIVE_INFINITY, timedOut: Number.POSITIVE_INFINITY }
  breaker.transitions$.subscribe((e) => {
    if (e._tag === 'StateChanged' && e.to === 'open' && hang.state !== '') hang.opened = Math.min(hang.opened, e.at)
  })
  breaker.calls$.subscribe((e) => {
    if (e._tag === 'CallFailed' && e.timedOut && hang.state !== '') hang.timedOut = Math.min(hang.timedOut, e.at)
  })
  for (const phase of phases) {
    if (phase.mode === 'hang') {
      // Reset first, as an operator would, so that it is the hang's slow calls that trip it (a busy
      // machine can leave the breaker tripped on slow calls of the phase before).
      breaker.dispatch(BreakerEvent.reset())
      Object.assign(hang, { state: breaker.snapshot().state, from: breaker.clock.now() })
    }
    upstream.mode = phase.mode
    const endings = await pool(phase.calls, 100, call)
    for (const key of Object.keys(totals) as Array<keyof typeof totals>) totals[key] += endings[key]
    // Let the breaker's clock move past the longest open duration (50 ms) between phases, as real traffic would.
    await new Promise((resolve) => setTimeout(resolve, 60))
  }
  // Hung requests end when their timeout aborts them; give the sockets a moment to close.
  upstream.mode = 'ok'
  for (let i = 0; i < 100 && upstream.sockets.size > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  const admitted = events.filter((e) => e._tag === 'CallAdmitted').length
  const settledEvents = events.filter(
    (e) => e._tag === 'CallSucceeded' || e._tag === 'CallFailed' || e._tag === 'CallCancelled' || e._tag === 'CallStale',
  )
  return { breaker, totals, admitted, settled: settledEvents.length, received: upstream.received - receivedBefore, openFor, hang }
}

describe('soak: a flaky, hanging, resetting server on 127.0.0.1', () => {
  for (const via of ['operator', 'execute'] as const) {
    it(`11,500 calls through ${via === 'operator' ? 'the operator' : 'execute'}: all accounted for, none hung, sockets closed, the breaker's counts equal the server's`, async () => {
      const result = await soak(via)
      const { totals } = result
      expect(totals.ok + totals.answeredFailure + totals.failed + totals.timedOut + totals.rejected).toBe(11_500)
      // Every phase left its mark: successes, failures (500s and 503s answered, resets), timeouts (hangs), rejections.
      expect(totals.ok).toBeGreaterThan(0)
      expect(totals.answeredFailure).toBeGreaterThan(0)
      expect(totals.failed).toBeGreaterThan(0)
      expect(totals.timedOut).toBeGreaterThan(0)
      expect(totals.rejected).toBeGreaterThan(0)
      // Every call the breaker admitted reached the server, and nothing else did.
      expect(result.received).toBe(result.admitted)
      expect(totals.ok + totals.answeredFailure + totals.failed + totals.timedOut).toBe(result.admitted)
      // Trips without a hint opened for the fallback's 20 ms; on the 503s' Retry-After of 1 s, held to
      // 50 ms; never outside the kind's [10, 50] (what is left of a hint at a later trip may be less).
      expect(result.openFor).toContain(20)
      expect(result.openFor).toContain(50)
      expect(result.openFor.filter((ms) => !(ms >= 10 && ms <= 50))).toEqual([])
      // The hang found the circuit closed (reset), and its slow calls opened it before any of them timed out.
      expect(result.hang.state).toBe('closed')
      expect(result.hang.opened).toBeLessThan(result.hang.timedOut)
      expect(result.hang.timedOut).toBeLessThan(Number.POSITIVE_INFINITY)
      // One outcome per admission, none left in flight.
      expect(result.settled).toBe(result.admitted)
      expect(result.breaker.snapshot().inFlight).toBe(0)
      expect(upstream.sockets.size).toBe(0)
    })
  }
})
