/**
 * The example service: `GET /stock/<host>` calls that upstream through its own breaker (one per
 * host, in a `breakerGroup`), and `GET /metrics` serves the breakers' Prometheus metrics. It
 * counts what it did itself, so a test can check the metrics against it.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { circuit } from '@datapunk/breaker'
import { prometheusMetrics, scrapeHandler } from '@datapunk/breaker-prometheus'
import { type BreakerGroup, BrokenCircuitError, breakerGroup, CallTimeoutError, logBreaker } from '@datapunk/breaker-runtime'
import type { Logger } from 'pino'
import { Registry } from 'prom-client'

export interface ServiceOptions {
  /** The upstreams by host name: `GET /stock/<host>` calls `upstreams[host]`. */
  readonly upstreams: Readonly<Record<string, string>>
  readonly logger: Logger
  /** How long a call may take. Default 1 s. */
  readonly timeoutMs?: number
  /** How long a breaker stays open after a trip. Default 2.5 s. */
  readonly openMs?: number
}

/** What the service itself counted, per host. */
export interface Counted {
  ok: number
  failed: number
  timedOut: number
  rejected: Record<string, number>
  opened: number
}

export interface Service {
  readonly url: string
  readonly registry: Registry
  readonly group: BreakerGroup<string>
  readonly counted: Map<string, Counted>
  close(): Promise<void>
}

class UpstreamError extends Error {
  constructor(readonly status: number) {
    super(`upstream answered ${status}`)
  }
}

export const startService = async (options: ServiceOptions): Promise<Service> => {
  const registry = new Registry()
  const counted = new Map<string, Counted>()
  const group = breakerGroup<string>({
    strategyFor: (host) =>
      circuit({
        name: host,
        trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 10, window: { kind: 'count', size: 20 } },
        // Time runs fast in this example: stages are judged on calls alone, and there is no probation.
        recovery: { kind: 'gradual', initialRate: 0.25, stageCalls: 5, stageMs: 0, probationMs: 0 },
        openFor: { kind: 'constant', ms: options.openMs ?? 2500 },
      }),
    maxKeys: 100,
    onCreate: (breaker, host) => {
      logBreaker(breaker, options.logger.child({ upstream: host }))
      breaker.transitions$.subscribe((e) => {
        if (e._tag === 'StateChanged' && e.to === 'open') countFor(host).opened++
      })
    },
  })
  const metrics = prometheusMetrics(group, { registry })
  const countFor = (host: string): Counted => {
    let c = counted.get(host)
    if (c === undefined) {
      c = { ok: 0, failed: 0, timedOut: 0, rejected: {}, opened: 0 }
      counted.set(host, c)
    }
    return c
  }

  // The scrape, written into a buffer kept between scrapes (the same text as `registry.metrics()`).
  const scrape = scrapeHandler({ registry })
  const server = createServer((req, res) => {
    const path = req.url ?? '/'
    if (path === '/metrics') {
      scrape(req, res)
      return
    }
    const host = /^\/stock\/([a-z0-9-]+)$/.exec(path)?.[1]
    const upstream = host === undefined ? undefined : options.upstreams[host]
    if (host === undefined || upstream === undefined) {
      res.writeHead(404).end('no such upstream')
      return
    }
    const c = countFor(host)
    group
      .get(host)
      .execute(
        async (signal) => {
          const response = await fetch(upstream, { signal })
          if (response.status >= 500) throw new UpstreamError(response.status)
          return response.text()
        },
        { timeoutMs: options.timeoutMs ?? 1000 },
      )
      .then(
        (body) => {
          c.ok++
          res.writeHead(200).end(body)
        },
        (error: unknown) => {
          if (error instanceof BrokenCircuitError) {
            c.rejected[error.reason] = (c.rejected[error.reason] ?? 0) + 1
            res.writeHead(503, { 'retry-after': String(Math.ceil((error.retryAfterMs ?? 1000) / 1000)) }).end(`circuit ${error.reason}`)
          } else if (error instanceof CallTimeoutError) {
            c.timedOut++
            res.writeHead(504).end('upstream timed out')
          } else {
            c.failed++
            res.writeHead(502).end(error instanceof Error ? error.message : 'upstream failed')
          }
        },
      )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    registry,
    group,
    counted,
    close: () =>
      new Promise((resolve) => {
        metrics.detach()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
