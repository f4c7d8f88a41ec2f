/**
 * An HTTP client with one breaker per host. Two local servers on 127.0.0.1: `catalog` is
 * healthy; `payments` fails for a second, then heals. The client calls both every 10 ms for three
 * seconds through `breakerGroup`: the payments breaker opens and ramps traffic back with gradual
 * recovery, while the catalog's breaker never notices. Transitions are logged with pino.
 *
 * Run: pnpm build && node examples/http-client/dist/main.js
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { circuit } from '@datapunk/breaker'
import { BrokenCircuitError, breakerGroup, logBreaker } from '@datapunk/breaker-runtime'
import { circuitBreaker } from '@datapunk/breaker-rxjs'
import pino from 'pino'
import { defer, firstValueFrom } from 'rxjs'

const logger = pino({ level: 'info', base: null })

/** A local server; `failing()` says whether it answers 503 right now. */
const serve = async (failing: () => boolean): Promise<{ server: Server; origin: string; hits: () => number }> => {
  let hits = 0
  const server = createServer((_request, response) => {
    hits++
    const status = failing() ? 503 : 200
    response.writeHead(status, { 'content-type': 'application/json' })
    response.end(JSON.stringify({ ok: status === 200 }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits }
}

const started = Date.now()
const catalog = await serve(() => false)
const payments = await serve(() => Date.now() - started > 500 && Date.now() - started < 1500)
const hosts = { catalog: catalog.origin, payments: payments.origin }

// One breaker per host, created on first use, logged from birth.
const breakers = breakerGroup<string>({
  strategyFor: (host) =>
    circuit({
      name: host,
      trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 10, window: { kind: 'time', durationMs: 1000, buckets: 10 } },
      // Seconds stand for minutes here: stages are judged on calls alone, and there is no probation.
      recovery: { kind: 'gradual', initialRate: 0.1, increment: 0.2, stageCalls: 5, stageMs: 0, probationMs: 0 },
      openFor: { kind: 'exponential', initialMs: 200, maxMs: 2000 },
    }),
  nameFor: (host) => (host === hosts.catalog ? 'catalog' : 'payments'),
  onCreate: (breaker) => logBreaker(breaker, logger),
})

class HttpError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`)
  }
}

/** GET through the host's breaker; 5xx counts against the host, 4xx does not. */
const get = (origin: string, path: string) =>
  firstValueFrom(
    defer(async () => {
      const response = await fetch(origin + path)
      if (!response.ok) throw new HttpError(response.status)
      return response.json() as Promise<{ ok: boolean }>
    }).pipe(circuitBreaker(breakers.get(origin), { timeoutMs: 1000, isFailure: (e) => !(e instanceof HttpError) || e.status >= 500 })),
  )

const tally = { catalog: { ok: 0, failed: 0, rejected: 0 }, payments: { ok: 0, failed: 0, rejected: 0 } }
const pending: Array<Promise<void>> = []
while (Date.now() - started < 3000) {
  for (const name of ['catalog', 'payments'] as const) {
    pending.push(
      get(hosts[name], '/items').then(
        () => void tally[name].ok++,
        (error: unknown) => void (error instanceof BrokenCircuitError ? tally[name].rejected++ : tally[name].failed++),
      ),
    )
  }
  await new Promise((resolve) => setTimeout(resolve, 10))
}
await Promise.all(pending)

for (const name of ['catalog', 'payments'] as const) {
  const t = tally[name]
  const server = name === 'catalog' ? catalog : payments
  const breaker = breakers.get(hosts[name])
  console.log(
    `${name.padEnd(8)} requests ${t.ok + t.failed + t.rejected}: ok ${t.ok}, failed ${t.failed}, rejected by the breaker ${t.rejected}; ` +
      `the server got ${server.hits()}; breaker now ${breaker.snapshot().state}`,
  )
}
for (const { server } of [catalog, payments]) {
  server.closeAllConnections()
  server.close()
}
