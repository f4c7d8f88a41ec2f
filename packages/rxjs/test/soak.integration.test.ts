/**
 * Soak against a real `node:http` server on 127.0.0.1 that fails, hangs, resets connections and
 * recovers in phases: 10,000 calls through the operator and 10,000 through `execute`, 100 at a
 * time. Every call is accounted for, none hangs, every socket closes, and what the breaker
 * admitted is exactly what the server saw. Bounded: a few seconds, all on loopback; no timing is
 * asserted.
 */
import { Agent, createServer, request, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { circuit } from '@datapunk/breaker'
import { type Breaker, BrokenCircuitError, type CallEvent, CallTimeoutError, createBreaker } from '@datapunk/breaker-runtime'
import { circuitBreaker } from '@datapunk/breaker-rxjs'
import { firstValueFrom, Observable } from 'rxjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

type Mode = 'ok' | 'fail' | 'hang' | 'reset'

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

class HttpError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`)
  }
}

/** GET / with a signal: resolves on 2xx, rejects with HttpError on other statuses or with the socket's error. */
const get = (signal: AbortSignal): Promise<string> =>
  new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent, signal }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => ((res.statusCode ?? 0) < 300 ? resolve(body) : reject(new HttpError(res.statusCode ?? 0))))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })

/** Runs `count` calls, `concurrency` at a time; returns how each ended. */
const pool = async (count: number, concurrency: number, call: () => Promise<unknown>) => {
  const endings = { ok: 0, failed: 0, timedOut: 0, rejected: 0 }
  let next = 0
  const worker = async () => {
    while (next < count) {
      next++
      try {
        await call()
        endings.ok++
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
  { mode: 'hang', calls: 2000 },
  { mode: 'reset', calls: 2000 },
  { mode: 'ok', calls: 2000 },
]

const soak = async (via: 'operator' | 'execute') => {
  const breaker: Breaker = createBreaker(
    circuit({
      name: via,
      trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 10, window: { kind: 'count', size: 20 } },
      recovery: { kind: 'gradual', initialRate: 0.2, stageCalls: 5 },
      openFor: { kind: 'constant', ms: 20 },
    }),
  )
  const events: CallEvent[] = []
  breaker.calls$.subscribe((e) => events.push(e))
  const call =
    via === 'execute'
      ? () => breaker.execute((signal) => get(signal), { timeoutMs: 300 })
      : () =>
          firstValueFrom(
            // As a user writes an abortable request in RxJS: unsubscribing (a timeout) aborts it.
            new Observable<string>((subscriber) => {
              const controller = new AbortController()
              get(controller.signal).then(
                (body) => {
                  subscriber.next(body)
                  subscriber.complete()
                },
                (error: unknown) => subscriber.error(error),
              )
              return () => controller.abort()
            }).pipe(circuitBreaker(breaker, { timeoutMs: 300 })),
          )
  const receivedBefore = upstream.received
  const totals = { ok: 0, failed: 0, timedOut: 0, rejected: 0 }
  for (const phase of phases) {
    upstream.mode = phase.mode
    const endings = await pool(phase.calls, 100, call)
    for (const key of Object.keys(totals) as Array<keyof typeof totals>) totals[key] += endings[key]
    // Let the breaker's clock move past the open duration between phases, as real traffic would.
    await new Promise((resolve) => setTimeout(resolve, 30))
  }
  // Hung requests end when their timeout aborts them; give the sockets a moment to close.
  upstream.mode = 'ok'
  for (let i = 0; i < 100 && upstream.sockets.size > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  const admitted = events.filter((e) => e._tag === 'CallAdmitted').length
  const settledEvents = events.filter(
    (e) => e._tag === 'CallSucceeded' || e._tag === 'CallFailed' || e._tag === 'CallCancelled' || e._tag === 'CallStale',
  )
  return { breaker, totals, admitted, settled: settledEvents.length, received: upstream.received - receivedBefore }
}

describe('soak: a flaky, hanging, resetting server on 127.0.0.1', () => {
  for (const via of ['operator', 'execute'] as const) {
    it(`10,000 calls through ${via === 'operator' ? 'the operator' : 'execute'}: all accounted for, none hung, sockets closed, the breaker's counts equal the server's`, async () => {
      const result = await soak(via)
      const { totals } = result
      expect(totals.ok + totals.failed + totals.timedOut + totals.rejected).toBe(10_000)
      // Every phase left its mark: successes, failures (500s and resets), timeouts (hangs), rejections.
      expect(totals.ok).toBeGreaterThan(0)
      expect(totals.failed).toBeGreaterThan(0)
      expect(totals.timedOut).toBeGreaterThan(0)
      expect(totals.rejected).toBeGreaterThan(0)
      // Every call the breaker admitted reached the server, and nothing else did.
      expect(result.received).toBe(result.admitted)
      expect(totals.ok + totals.failed + totals.timedOut).toBe(result.admitted)
      // One outcome per admission, none left in flight.
      expect(result.settled).toBe(result.admitted)
      expect(result.breaker.snapshot().inFlight).toBe(0)
      expect(upstream.sockets.size).toBe(0)
    })
  }
})
