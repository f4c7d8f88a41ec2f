/**
 * A real scrape: Debian's Prometheus server on 127.0.0.1 scrapes the example service
 * (examples/http-service) every second while traffic goes through an outage and a recovery.
 * Then Prometheus's HTTP API must give back what the service counted itself (calls, rejections by
 * reason, the open transition, the state over time), and every panel of dashboards/breakers.json
 * must evaluate without error and name only metrics we export. Bounded: about 15 s.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { metricCatalogue } from '@datapunk/breaker-prometheus'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Service, startService } from '../examples/http-service/src/service.js'
import { startUpstream, type Upstream } from '../examples/http-service/src/upstream.js'
import { systemProgram } from './support/systemProgram.js'

const prometheus = systemProgram('prometheus')

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface PromResult {
  readonly status: string
  readonly error?: string
  readonly data: {
    readonly resultType: string
    readonly result: Array<{ metric: Record<string, string>; value?: [number, string]; values?: Array<[number, string]> }>
  }
}

describe.runIf(prometheus.run)('Prometheus scrapes the example service (real prometheus on 127.0.0.1)', () => {
  let upstream: Upstream
  let service: Service
  let server: ChildProcess | undefined
  let api = ''
  let started = 0

  const query = async (expr: string): Promise<PromResult> =>
    (await (await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as PromResult
  const scalar = async (expr: string): Promise<number | undefined> => {
    const r = await query(expr)
    const v = r.data.result[0]?.value?.[1]
    return v === undefined ? undefined : Number(v)
  }

  beforeAll(async () => {
    const binary = prometheus.require()
    upstream = await startUpstream()
    service = await startService({ upstreams: { inventory: upstream.url }, logger: pino({ level: 'silent' }), openMs: 2500 })
    const dir = mkdtempSync(join(tmpdir(), 'prometheus-'))
    const port = await freePort()
    api = `http://127.0.0.1:${port}`
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        '  - job_name: example-service',
        `    static_configs: [{ targets: ['${service.url.replace('http://', '')}'] }]`,
      ].join('\n'),
    )
    server = spawn(
      binary,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: 'ignore' },
    )
    for (let i = 0; i < 150; i++) {
      const ready = await fetch(`${api}/-/ready`).then(
        (r) => r.ok,
        () => false,
      )
      if (ready) break
      await sleep(100)
    }
    // Prometheus hands new targets to its scraper in batches (every 5 s): wait for the first scrape.
    for (let i = 0; i < 150; i++) {
      const up = await query('up').catch(() => undefined)
      if ((up?.data.result.length ?? 0) > 0) break
      await sleep(100)
    }
    started = Date.now() / 1000
    // Traffic: healthy, an outage (the breaker trips and rejects for 2.5 s), then a recovery.
    const call = () => fetch(`${service.url}/stock/inventory`).then((r) => r.status)
    const burst = async (calls: number) => {
      for (let i = 0; i < calls; i += 10) await Promise.all(Array.from({ length: 10 }, call))
    }
    await burst(200)
    upstream.set('down')
    const outageEnds = Date.now() + 2000
    while (Date.now() < outageEnds) {
      await burst(20)
      await sleep(50)
    }
    upstream.set('healthy')
    const until = Date.now() + 8000
    while (service.group.get('inventory').snapshot().state !== 'closed' && Date.now() < until) {
      await burst(20)
      await sleep(50)
    }
    await burst(50)
    // Wait until Prometheus has scraped the final counts.
    const counted = service.counted.get('inventory')
    const settled = (counted?.ok ?? 0) + (counted?.failed ?? 0) + (counted?.timedOut ?? 0)
    for (let i = 0; i < 50; i++) {
      if ((await scalar('sum(breaker_calls_total{breaker="inventory"})')) === settled) break
      await sleep(200)
    }
  }, 60_000)

  afterAll(async () => {
    server?.kill('SIGTERM')
    await service?.close()
    await upstream?.close()
  })

  it('has the calls and rejections the service counted, by outcome and by reason', async () => {
    const counted = service.counted.get('inventory')
    expect(counted).toBeDefined()
    if (counted === undefined) return
    const sum = (expr: string) => scalar(expr).then((v) => v ?? 0)
    const settled = counted.ok + counted.failed + counted.timedOut
    expect(await sum('sum(breaker_calls_total{breaker="inventory"})')).toBe(settled)
    // A call that settled after a state change counts as "ignored" by the breaker; the service saw it as ok or failed.
    const successes = await sum('sum(breaker_calls_total{breaker="inventory",outcome=~"success|ignored"})')
    expect(successes + (await sum('sum(breaker_calls_total{breaker="inventory",outcome="failure"})'))).toBe(counted.ok + counted.failed)
    for (const [reason, n] of Object.entries(counted.rejected)) {
      expect(await sum(`sum(breaker_rejections_total{breaker="inventory",reason="${reason}"})`)).toBe(n)
    }
    expect(counted.rejected.open ?? 0).toBeGreaterThan(0)
    // Only admitted calls reached the upstream.
    expect(upstream.received.ok + upstream.received.failed).toBe(settled)
  })

  it('has the open transition, the state over time (open, then closed), and the threshold', async () => {
    const counted = service.counted.get('inventory')
    expect(await scalar('sum(breaker_transitions_total{breaker="inventory",from="closed",to="open"})')).toBe(counted?.opened)
    // A range's last point is up to a step before `end`: end a step ahead so that it falls after
    // the last scrape (which saw the breaker closed: beforeAll waited for it), not before it.
    const end = Date.now() / 1000 + 1
    const range = (await (
      await fetch(
        `${api}/api/v1/query_range?query=${encodeURIComponent('breaker_state{breaker="inventory",state="open"}')}&start=${started}&end=${end}&step=1`,
      )
    ).json()) as PromResult
    const values = range.data.result[0]?.values?.map(([, v]) => Number(v)) ?? []
    expect(values).toContain(1) // seen open by a scrape
    expect(values.at(-1)).toBe(0) // and closed at the end
    expect(await scalar('breaker_state{breaker="inventory",state="closed"}')).toBe(1)
    expect(await scalar('breaker_failure_rate_threshold_ratio{breaker="inventory"}')).toBe(0.5)
  })

  /** The dashboard's variables as "All" sets them. */
  const variables = (expr: string): string =>
    expr.replaceAll('$job', '.*').replaceAll('$instance', '.*').replaceAll('$breaker', '.+').replaceAll('$__rate_interval', '1m')

  it('evaluates every dashboard panel without error, on metrics we export', async () => {
    const dashboard = JSON.parse(readFileSync(new URL('../dashboards/breakers.json', import.meta.url), 'utf8')) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>
    }
    const exported = new Set(
      metricCatalogue.flatMap((m) =>
        m.type === 'histogram' ? [`breaker_${m.name}_bucket`, `breaker_${m.name}_sum`, `breaker_${m.name}_count`] : [`breaker_${m.name}`],
      ),
    )
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(7)
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        const expr = variables(target.expr)
        for (const name of expr.match(/\bbreaker_[a-z_]+/g) ?? []) expect(exported, `${panel.title}: ${name}`).toContain(name)
        const result = await query(expr)
        expect(result.status, `${panel.title}: ${expr}: ${result.error ?? ''}`).toBe('success')
      }
    }
    // The state timeline maps its one series per breaker to words and colours (0 closed, 1 half-open, 2 open).
    const state = dashboard.panels.find((p) => p.title === 'State') as unknown as {
      fieldConfig: { defaults: { mappings: Array<{ options: Record<string, { text: string; color: string }> }> } }
    }
    expect(state.fieldConfig.defaults.mappings[0]?.options).toMatchObject({
      0: { text: 'closed', color: 'green' },
      1: { text: 'half-open', color: 'yellow' },
      2: { text: 'open', color: 'red' },
    })
    // The panels that must show something after this traffic do.
    for (const title of ['State', 'Calls by outcome', 'Rejections by reason', 'Admitted share', 'Failure rate and its threshold']) {
      const panel = dashboard.panels.find((p) => p.title === title)
      const expr = variables(panel?.targets[0]?.expr ?? '')
      expect((await query(expr)).data.result.length, title).toBeGreaterThan(0)
    }
  })
})
