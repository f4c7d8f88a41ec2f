import { EventEmitter } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { circuit } from '@datapunk/breaker'
import { prometheusMetrics, scrapeHandler } from '@datapunk/breaker-prometheus'
import { createBreaker } from '@datapunk/breaker-runtime'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import { busyRegistry } from './busyRegistry.js'

/** {@link busyRegistry}, and metrics of the registry's own (a help text to escape, a float, a histogram). */
const busy = async (registry: Registry) => {
  const fixture = await busyRegistry(registry)
  const own = new Counter({
    name: 'app_requests_total',
    help: 'Requests, with a \\ and a\nnewline in the help',
    labelNames: ['route'],
    registers: [registry],
  })
  own.inc({ route: '/ü' }, 3)
  new Gauge({ name: 'app_ratio', help: 'A ratio', registers: [registry] }).set(0.1 + 0.2)
  new Histogram({ name: 'app_seconds', help: 'Durations', buckets: [0.1, 1], registers: [registry] }).observe(0.25)
  return fixture
}

let server: Server | undefined
afterEach(async () => {
  await new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)))
  server = undefined
})

/** Serves `registry` with the handler on 127.0.0.1; returns the base URL. */
const serve = async (registry: Registry): Promise<string> => {
  server = createServer(scrapeHandler({ registry }))
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** A response that only records what it is given, and closes when told to (a client still reading, until then). */
const heldResponse = () => {
  const response = Object.assign(new EventEmitter(), {
    status: 0,
    headers: {} as Record<string, unknown>,
    body: undefined as Buffer | undefined,
    writeHead(status: number, headers: Record<string, unknown>) {
      response.status = status
      response.headers = headers
      return response
    },
    end(body?: Buffer) {
      response.body = body
      response.emit('ended')
      return response
    },
  })
  const ended = new Promise<void>((resolve) => response.once('ended', () => resolve()))
  return { response, ended, close: () => response.emit('close') }
}

const GET = { method: 'GET' } as IncomingMessage

describe('scrapeHandler', () => {
  it("serves the registry's scrape byte for byte as registry.metrics() writes it, the breakers' and its own metrics, over node:http", async () => {
    const registry = new Registry()
    const { traffic, attached } = await busy(registry)
    const url = await serve(registry)
    const first = await fetch(`${url}/metrics`)
    expect(first.status).toBe(200)
    expect(first.headers.get('content-type')).toBe(registry.contentType)
    const text = await first.text()
    expect(text).toContain('key="日本"')
    expect(text).toContain('# HELP app_requests_total Requests, with a \\\\ and a\\nnewline in the help')
    expect(text).toContain('app_ratio 0.30000000000000004')
    expect(text).toBe(await registry.metrics())
    // The same buffer serves the next scrape: longer after more traffic, shorter after a detach (no stale tail).
    await traffic()
    const second = await (await fetch(`${url}/metrics`)).text()
    expect(second).not.toBe(text)
    expect(second).toBe(await registry.metrics())
    for (const a of attached) a.detach()
    const third = await (await fetch(`${url}/metrics`)).text()
    expect(third.length).toBeLessThan(second.length)
    expect(third).not.toContain('breaker_state{')
    expect(third).toBe(await registry.metrics())
  })

  it('answers HEAD without a body and other methods with 405', async () => {
    const registry = new Registry()
    prometheusMetrics(createBreaker(circuit({ name: 'head', trip: { kind: 'consecutive-failures', threshold: 1 } })), { registry })
    const url = await serve(registry)
    const head = await fetch(`${url}/metrics`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe('')
    const post = await fetch(`${url}/metrics`, { method: 'POST' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET, HEAD')
  })

  it("serves a registry with default labels, and those the direct writing does not (a default label named like the adapter's, OpenMetrics), as registry.metrics() writes them", async () => {
    for (const defaults of [
      { service: 'checkout', shard: 3 },
      { key: 'shadowed', service: 'checkout' },
    ]) {
      const labelled = new Registry()
      labelled.setDefaultLabels(defaults)
      await busy(labelled)
      const text = await (await fetch(`${await serve(labelled)}/metrics`)).text()
      expect(text).toContain('{service="checkout",')
      expect(text).toBe(await labelled.metrics())
      await new Promise((resolve) => server?.close(resolve))
    }
    const open = new Registry()
    open.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never)
    await busy(open)
    const response = await fetch(`${await serve(open)}/metrics`)
    expect(response.headers.get('content-type')).toBe(open.contentType)
    expect(await response.text()).toBe(await open.metrics())
  })

  it('never writes a scrape into a buffer a response still holds: overlapping scrapes each get their own', async () => {
    const registry = new Registry()
    const { traffic } = await busy(registry)
    const handler = scrapeHandler({ registry })
    const slow = heldResponse()
    handler(GET, slow.response as unknown as ServerResponse)
    await slow.ended
    const expected = await registry.metrics()
    expect(slow.response.body?.toString('utf8')).toBe(expected)
    // The first response is still being sent (not closed): the next scrape, of other values, must not touch its bytes.
    await traffic()
    const fast = heldResponse()
    handler(GET, fast.response as unknown as ServerResponse)
    await fast.ended
    expect(fast.response.body?.toString('utf8')).toBe(await registry.metrics())
    expect(slow.response.body?.toString('utf8')).toBe(expected)
    // Once closed, its buffer serves again, whole.
    slow.close()
    fast.close()
    const again = heldResponse()
    handler(GET, again.response as unknown as ServerResponse)
    await again.ended
    expect(again.response.body?.toString('utf8')).toBe(await registry.metrics())
  })

  it('reads each breaker once per scrape, and a change between two scrapes shows in the second', async () => {
    const registry = new Registry()
    const inner = circuit({ name: 'counted', trip: { kind: 'consecutive-failures', threshold: 1 } })
    let inspected = 0
    const breaker = createBreaker({
      ...inner,
      inspect: (state: Parameters<typeof inner.inspect>[0]) => {
        inspected++
        return inner.inspect(state)
      },
    })
    prometheusMetrics(breaker, { registry })
    const handler = scrapeHandler({ registry })
    const scrape = async () => {
      const held = heldResponse()
      handler(GET, held.response as unknown as ServerResponse)
      await held.ended
      held.close()
      return held.response.body?.toString('utf8') ?? ''
    }
    inspected = 0
    expect(await scrape()).toContain('breaker_state{breaker="counted",key="",state="closed"} 1')
    expect(inspected).toBe(1)
    const ticket = breaker.request()
    if (ticket._tag === 'Admitted') breaker.failed(ticket, 5)
    inspected = 0
    expect(await scrape()).toContain('breaker_state{breaker="counted",key="",state="open"} 1')
    expect(inspected).toBe(1)
  })

  it('answers a failed scrape with 500 and its message', async () => {
    const registry = new Registry()
    prometheusMetrics(createBreaker(circuit({ name: 'fine', trip: { kind: 'consecutive-failures', threshold: 1 } })), { registry })
    new Gauge({
      name: 'app_broken',
      help: 'Its collect throws',
      registers: [registry],
      collect() {
        throw new Error('the database is gone')
      },
    })
    const response = await fetch(`${await serve(registry)}/metrics`)
    expect(response.status).toBe(500)
    expect(await response.text()).toBe('scrape failed: the database is gone\n')
  })
})

describe('scrapeHandler: bad input', () => {
  it('refuses a registry that is no Registry, and options that are no object, when it is made', () => {
    expect(() => scrapeHandler({ registry: 5 as never })).toThrow(
      new TypeError('scrapeHandler: registry must be a prom-client Registry, got number'),
    )
    expect(() => scrapeHandler(null as never)).toThrow(new TypeError('scrapeHandler: options must be an object, got null'))
    expect(typeof scrapeHandler({ registry: new Registry() })).toBe('function')
  })
})
