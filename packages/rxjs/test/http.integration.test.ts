/**
 * Against a real HTTP server on 127.0.0.1: the server fails on command, recovers, then accepts
 * only a limited rate. Clients call it with fetch through defer(...).pipe(circuitBreaker(...)).
 * Bounded: about two seconds of traffic, one request every 5 ms, all on loopback.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { circuit } from '@datapunk/breaker'
import { BrokenCircuitError, createBreaker, type MetricEvent } from '@datapunk/breaker-runtime'
import { circuitBreaker } from '@datapunk/breaker-rxjs'
import { defer, firstValueFrom } from 'rxjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

type Mode = 'healthy' | 'failing' | 'limited'

/** The upstream: counts every request it gets, with the phase the client's breaker admitted it in. */
const upstream = {
  mode: 'healthy' as Mode,
  limitPer100Ms: 40,
  windowStart: 0,
  inWindow: 0,
  hits: [] as Array<{ admittedAt: number; generation: number; phase: string; status: number }>,
}

let server: Server
let url: string

beforeAll(async () => {
  server = createServer((request, response) => {
    const now = Date.now()
    let status = upstream.mode === 'failing' ? 500 : 200
    if (upstream.mode === 'limited') {
      if (now - upstream.windowStart >= 100) {
        upstream.windowStart = now
        upstream.inWindow = 0
      }
      if (++upstream.inWindow > upstream.limitPer100Ms) status = 503
    }
    upstream.hits.push({
      admittedAt: Number(request.headers['x-admitted-at']),
      generation: Number(request.headers['x-generation']),
      phase: String(request.headers['x-admitted-in']),
      status,
    })
    response.writeHead(status, { 'content-type': 'text/plain' })
    response.end(status === 200 ? 'ok' : 'unavailable')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

class HttpError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`)
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('circuitBreaker in front of a real HTTP server', () => {
  it('cuts traffic to a failing server to probes and ramp traffic, brings it back to 100%, and loses no request', async () => {
    const breaker = createBreaker(
      circuit({
        name: 'upstream',
        trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 10, window: { kind: 'count', size: 20 } },
        recovery: { kind: 'gradual', initialRate: 0.2, increment: 0.2, maxSpeed: 2, stageCalls: 4, stageMs: 0, probationMs: 0 },
        openFor: { kind: 'constant', ms: 300 },
      }),
    )
    const events: MetricEvent[] = []
    breaker.metrics$.subscribe((e) => events.push(e))

    const sentAt: number[] = []
    const call = () => {
      sentAt.push(breaker.clock.now())
      return firstValueFrom(
        defer(async () => {
          // Runs only once the breaker admitted the call: tell the server when and in which phase.
          const { state, generation } = breaker.snapshot()
          const headers = { 'x-admitted-in': state, 'x-generation': String(generation), 'x-admitted-at': String(breaker.clock.now()) }
          const response = await fetch(url, { headers })
          const body = await response.text()
          if (!response.ok) throw new HttpError(response.status)
          return body
        }).pipe(circuitBreaker(breaker, { timeoutMs: 5000 })),
      ).then(
        () => 'ok' as const,
        (error: unknown) =>
          error instanceof BrokenCircuitError
            ? ('rejected' as const)
            : error instanceof HttpError
              ? ('http-error' as const)
              : ('other' as const),
      )
    }

    const results: Array<Promise<'ok' | 'rejected' | 'http-error' | 'other'>> = []
    const sendFor = async (ms: number) => {
      const until = Date.now() + ms
      while (Date.now() < until) {
        results.push(call())
        await sleep(5)
      }
    }
    const waitUntil = async (done: () => boolean, limitMs: number) => {
      const until = Date.now() + limitMs
      while (!done() && Date.now() < until) {
        results.push(call())
        await sleep(5)
      }
    }

    upstream.mode = 'healthy'
    await sendFor(250)
    upstream.mode = 'failing'
    await waitUntil(() => breaker.snapshot().state === 'open', 3000)
    await sendFor(700)
    upstream.mode = 'limited'
    await waitUntil(() => breaker.snapshot().state === 'closed', 5000)
    const beforeTail = results.length
    await sendFor(250)

    const settled = await Promise.race([Promise.all(results), sleep(10_000).then(() => 'hung' as const)])
    expect(settled, 'every request settles').not.toBe('hung')
    const outcomes = settled as Array<'ok' | 'rejected' | 'http-error' | 'other'>
    const count = (o: string) => outcomes.filter((x) => x === o).length

    // Nothing is lost: every request ended in a response or a BrokenCircuitError.
    expect(outcomes).toHaveLength(results.length)
    expect(count('other')).toBe(0)
    expect(count('ok') + count('http-error') + count('rejected')).toBe(results.length)
    expect(count('rejected')).toBeGreaterThan(0)

    // Nothing reaches the server without an admission, and nothing admitted while open.
    const admitted = events.filter((e) => e._tag === 'CallAdmitted')
    expect(upstream.hits).toHaveLength(admitted.length)
    expect(upstream.hits.filter((h) => h.phase === 'open')).toHaveLength(0)
    // After the trip and until the close, only probes and ramp traffic got through.
    const probes = admitted.filter((e) => e._tag === 'CallAdmitted' && e.probe).length
    expect(upstream.hits.filter((h) => h.phase === 'half-open')).toHaveLength(probes)
    const sentMeanwhile = results.length - beforeTail
    expect(sentMeanwhile).toBeGreaterThan(0)
    const tripAt = events.find((e) => e._tag === 'StateChanged' && e.to === 'open')?.at ?? Number.NaN
    const closedAt = events.findLast((e) => e._tag === 'StateChanged' && e.to === 'closed')?.at ?? Number.NaN
    // Closed-phase traffic only in the generation before the trip and the one after the close
    // (generations, not clock readings: a trip and an admission can share a millisecond).
    const closedGenerations = new Set([0, breaker.snapshot().generation])
    expect(upstream.hits.filter((h) => h.phase === 'closed' && !closedGenerations.has(h.generation))).toEqual([])
    const admittedWhileBroken = upstream.hits.filter((h) => h.generation > 0 && h.generation < breaker.snapshot().generation)
    expect(admittedWhileBroken.length).toBeGreaterThan(0)
    expect(admittedWhileBroken.every((h) => h.phase === 'half-open')).toBe(true)
    const sentWhileBroken = sentAt.filter((t) => t >= tripAt && t < closedAt).length
    expect(admittedWhileBroken.length, 'the breaker cut most traffic').toBeLessThan(sentWhileBroken / 3)

    // The ramp stepped up through fractions to 100% and the breaker closed.
    const rates = events.flatMap((e) => (e._tag === 'RecoveryRateChanged' ? [e.to] : []))
    expect(rates.length).toBeGreaterThan(1)
    expect(rates.at(-1)).toBe(1)
    expect(breaker.snapshot().state).toBe('closed')
    // Traffic is back to 100%: every request after the close was admitted and served.
    expect(outcomes.slice(beforeTail).every((o) => o === 'ok')).toBe(true)
    // The limited upstream was never pushed over its rate during the ramp.
    expect(upstream.hits.filter((h) => h.status === 503)).toHaveLength(0)
  }, 30_000)
})
