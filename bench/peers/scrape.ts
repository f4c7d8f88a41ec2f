/**
 * What a Prometheus scrape of many breakers costs: one keyed group of `keys` breakers (each with
 * a success and a failure, so its duration histogram has series), attached to a prom-client
 * registry, scraped `scrapes` times each way, alternated, after a first scrape each (which also
 * makes each breaker's label sets):
 *   - `scrapeHandler` (the adapter's node:http handler: the text written into a buffer kept
 *     between scrapes), timed from the request to the response's `end` with a response that only
 *     takes the bytes (no socket);
 *   - prom-client's `registry.metrics()` (one new string per scrape).
 * Both give the same text (checked). Beside them, what one new string of that size costs here: the
 * same text in one piece per breaker, joined.
 */
import { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { circuit } from '@datapunk/breaker'
import { prometheusMetrics, scrapeHandler } from '@datapunk/breaker-prometheus'
import { breakerGroup } from '@datapunk/breaker-runtime'
import { Registry } from 'prom-client'

/** The scrape measured. */
export interface ScrapeCost {
  readonly breakers: number
  /** `scrapeHandler`, median ms. */
  readonly medianMs: number
  /** prom-client's `registry.metrics()`, median ms. */
  readonly registryMs: number
  readonly megabytes: number
  readonly lines: number
  /**
   * What any scrape that returns one new string of this size pays in this process: the same text
   * cut into one piece per breaker (`breakers` pieces of equal length), joined (median ms).
   */
  readonly blockFloorMs: number
}

/** One scrape through `handler`: resolves with the ms until the response's `end`, and the body; the response then closes. */
const throughHandler = (handler: ReturnType<typeof scrapeHandler>): Promise<{ readonly ms: number; readonly body: string | null }> =>
  new Promise((resolve) => {
    const start = performance.now()
    const response = Object.assign(new EventEmitter(), {
      writeHead: () => response,
      end: (body: Buffer) => {
        const ms = performance.now() - start
        const text = body.toString('utf8')
        response.emit('close')
        resolve({ ms, body: text })
        return response
      },
    })
    handler({ method: 'GET' } as IncomingMessage, response as unknown as ServerResponse)
  })

export const scrapeCost = async (keys: number, scrapes: number): Promise<ScrapeCost> => {
  const registry = new Registry()
  const group = breakerGroup<string>({
    strategyFor: () =>
      circuit({ name: 'mesh', trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 10, window: { kind: 'count', size: 50 } } }),
    maxKeys: keys,
  })
  prometheusMetrics(group, { registry })
  for (let i = 0; i < keys; i++) {
    const breaker = group.get(`host-${i}`)
    for (const outcome of ['success', 'failure', 'success'] as const) {
      const admission = breaker.admit()
      if (admission._tag === 'Admitted') admission.settle(outcome)
    }
  }
  const handler = scrapeHandler({ registry })
  const text = await registry.metrics()
  const first = await throughHandler(handler)
  if (first.body !== text) throw new Error('scrapeCost: scrapeHandler and registry.metrics() gave different texts')
  const handlerTimes: number[] = []
  const registryTimes: number[] = []
  for (let i = 0; i < scrapes; i++) {
    handlerTimes.push((await throughHandler(handler)).ms)
    const start = performance.now()
    await registry.metrics()
    registryTimes.push(performance.now() - start)
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN
  const size = Math.ceil(text.length / keys)
  const blocks = Array.from({ length: keys }, (_, i) => text.slice(i * size, (i + 1) * size))
  const floors: number[] = []
  for (let i = 0; i < scrapes; i++) {
    const start = performance.now()
    const joined = blocks.join('')
    floors.push(performance.now() - start + (joined.length === text.length ? 0 : Number.NaN))
  }
  return {
    breakers: keys,
    medianMs: median(handlerTimes),
    registryMs: median(registryTimes),
    megabytes: text.length / 1e6,
    lines: text.split('\n').length,
    blockFloorMs: median(floors),
  }
}
