import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { adaptiveThrottle, BreakerEvent, circuit } from '@datapunk/breaker'
import { otelMetrics } from '@datapunk/breaker-otel'
import { breakerGroup, createBreaker } from '@datapunk/breaker-runtime'
import { circuitBreaker } from '@datapunk/breaker-rxjs'
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus'
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import { NEVER, of, throwError, VirtualTimeScheduler } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { countingInspect } from '../../../test/support/countingInspect.js'
import { warningsDuring } from '../../../test/support/warnings.js'

const sdk = () => {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  const provider = new MeterProvider({ readers: [reader] })
  const collect = async (): Promise<MetricData[]> => {
    exporter.reset()
    await reader.forceFlush()
    return exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics))
  }
  return { meter: provider.getMeter('test'), collect, provider }
}

const points = (metrics: MetricData[], name: string): ReadonlyArray<DataPoint<unknown>> =>
  (metrics.find((m) => m.descriptor.name === name)?.dataPoints ?? []) as ReadonlyArray<DataPoint<unknown>>
const valueAt = (metrics: MetricData[], name: string, attributes: Record<string, string>) =>
  points(metrics, name).find((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))?.value

const setup = () => {
  const { meter, collect } = sdk()
  const scheduler = new VirtualTimeScheduler()
  const breaker = createBreaker(
    circuit({
      name: 'payments',
      trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 4, window: { kind: 'count', size: 10 } },
      openFor: { kind: 'constant', ms: 1000 },
    }),
    { clock: scheduler },
  )
  const attachment = otelMetrics(breaker, { meter })
  return { breaker, scheduler, collect, attachment }
}
const ok = (b: ReturnType<typeof setup>['breaker']) =>
  of(1)
    .pipe(circuitBreaker(b))
    .subscribe({ error: () => {} })
const fail = (b: ReturnType<typeof setup>['breaker']) =>
  throwError(() => new Error('down'))
    .pipe(circuitBreaker(b))
    .subscribe({ error: () => {} })

describe('otelMetrics (in-memory exporter)', () => {
  it('counts calls by outcome and rejections by reason, records durations in seconds', async () => {
    const { breaker, scheduler, collect } = setup()
    ok(breaker)
    ok(breaker)
    NEVER.pipe(circuitBreaker(breaker, { timeoutMs: 500 })).subscribe({ error: () => {} })
    scheduler.flush()
    fail(breaker)
    breaker.dispatch(BreakerEvent.forcedOpen())
    ok(breaker)
    const m = await collect()
    expect(valueAt(m, 'breaker.calls', { 'breaker.name': 'payments', 'breaker.outcome': 'success' })).toBe(2)
    expect(valueAt(m, 'breaker.calls', { 'breaker.outcome': 'timeout' })).toBe(1)
    expect(valueAt(m, 'breaker.calls', { 'breaker.outcome': 'failure' })).toBe(1)
    expect(valueAt(m, 'breaker.rejections', { 'breaker.rejection.reason': 'forced-open' })).toBe(1)
    const timeout = valueAt(m, 'breaker.call.duration', { 'breaker.outcome': 'timeout' }) as Histogram
    expect(timeout.count).toBe(1)
    expect(timeout.sum).toBe(0.5)
    expect(m.find((x) => x.descriptor.name === 'breaker.call.duration')?.descriptor.unit).toBe('s')
  })

  it('observes state, admitted share, rates (absent until they exist) and transitions', async () => {
    const { breaker, collect } = setup()
    let m = await collect()
    expect(valueAt(m, 'breaker.state', { 'breaker.state': 'closed' })).toBe(1)
    expect(valueAt(m, 'breaker.state', { 'breaker.state': 'open' })).toBe(0)
    expect(points(m, 'breaker.failure_rate')).toHaveLength(0)
    for (let i = 0; i < 4; i++) fail(breaker)
    m = await collect()
    expect(valueAt(m, 'breaker.state', { 'breaker.state': 'open' })).toBe(1)
    expect(valueAt(m, 'breaker.admitted_ratio', {})).toBe(0)
    expect(valueAt(m, 'breaker.failure_rate', {})).toBe(1)
    expect(valueAt(m, 'breaker.open_until', {})).toBe(1)
    expect(
      valueAt(m, 'breaker.transitions', {
        'breaker.state.from': 'closed',
        'breaker.state.to': 'open',
        'breaker.transition.reason': 'tripped',
      }),
    ).toBe(1)
  })

  it('observes an idle breaker from the snapshot it last made, and anew after any step, in place or not', async () => {
    const { meter, collect } = sdk()
    const { strategy: counted, counter } = countingInspect(circuit({ name: 'idle', trip: { kind: 'consecutive-failures', threshold: 3 } }))
    const breaker = createBreaker(counted)
    otelMetrics(breaker, { meter })
    expect(valueAt(await collect(), 'breaker.consecutive_failures', {})).toBe(0)
    counter.inspected = 0
    await collect()
    expect(valueAt(await collect(), 'breaker.consecutive_failures', {})).toBe(0)
    expect(counter.inspected).toBe(0)
    // A failure that does not trip is stepped in place: observed anew.
    const ticket = breaker.request()
    if (ticket._tag === 'Admitted') breaker.failed(ticket, 5)
    expect(valueAt(await collect(), 'breaker.consecutive_failures', {})).toBe(1)
    expect(counter.inspected).toBe(1)
  })

  it('detach stops counting and observing; group breakers carry their key, evicted ones stop being observed', async () => {
    const { breaker, collect, attachment } = setup()
    attachment.detach()
    ok(breaker)
    expect(points(await collect(), 'breaker.state')).toHaveLength(0)
    const { meter, collect: collectGroup } = sdk()
    let now = 0
    const scheduler = new VirtualTimeScheduler()
    scheduler.now = () => now
    const group = breakerGroup<string>({
      strategyFor: (k) => circuit({ name: k, trip: { kind: 'consecutive-failures', threshold: 1 } }),
      idleEvictMs: 10,
      clock: scheduler,
    })
    otelMetrics(group, { meter })
    ok(group.get('a') as never)
    now = 100
    group.get('b')
    const m = await collectGroup()
    expect(points(m, 'breaker.state').map((p) => p.attributes['breaker.key'])).toEqual(['b', 'b', 'b'])
    expect(valueAt(m, 'breaker.calls', { 'breaker.key': 'a', 'breaker.outcome': 'success' })).toBe(1)
  })
})

describe('otelMetrics: bad input', () => {
  const breaker = () => createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }))

  it('refuses a meter that is no Meter, a source that is no breaker, buckets that are not seconds above 0', async () => {
    const { meter, collect } = sdk()
    expect(() => otelMetrics(breaker(), {} as never)).toThrow(
      new TypeError('otelMetrics: meter must be an OpenTelemetry Meter (metrics.getMeter(name)), got undefined'),
    )
    expect(() => otelMetrics(breaker(), null as never)).toThrow(new TypeError('otelMetrics: expected options with a meter, got null'))
    expect(() => otelMetrics({} as never, { meter })).toThrow(
      new TypeError('otelMetrics: expected a breaker (createBreaker) or a breakerGroup, got object'),
    )
    expect(() => otelMetrics(breaker(), { meter, buckets: [0, 1] })).toThrow(
      new RangeError('otelMetrics: each bucket must be a finite number of seconds above 0, got 0'),
    )
    expect(() => otelMetrics(breaker(), { meter, prefix: 3 as never })).toThrow(
      new TypeError('otelMetrics: prefix must be a string, got number'),
    )
    // Nothing was made on the meter by the refused calls.
    expect(await collect()).toEqual([])
  })
})

describe('otelMetrics through @opentelemetry/exporter-prometheus', () => {
  it('comes out as Prometheus text with the OTel names translated', async () => {
    const exporter = new PrometheusExporter({ preventServerStart: true })
    const provider = new MeterProvider({ readers: [exporter] })
    const breaker = createBreaker(circuit({ name: 'inventory', trip: { kind: 'consecutive-failures', threshold: 1 } }))
    otelMetrics(breaker, { meter: provider.getMeter('test') })
    of(1).pipe(circuitBreaker(breaker)).subscribe()
    const server = createServer((req, res) => exporter.getMetricsRequestHandler(req, res))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const text = await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`)).text()
    server.close()
    await provider.shutdown()
    expect(text).toMatch(/breaker_calls_total\{[^}]*breaker_name="inventory"[^}]*breaker_outcome="success"[^}]*\} 1/)
    expect(text).toMatch(/breaker_state\{[^}]*breaker_state="closed"[^}]*\} 1/)
    expect(text).toContain('breaker_call_duration_bucket') // this exporter adds no unit suffix; the unit is in # UNIT
  })
})

describe('otelMetrics: every part’s figures', () => {
  it("observes the throttle's figures (a part's own) with the part's position, kind and name", async () => {
    const { meter, collect } = sdk()
    const breaker = createBreaker(adaptiveThrottle(circuit({ name: 'search', trip: { kind: 'consecutive-failures', threshold: 5 } }), {}), {
      clock: new VirtualTimeScheduler(),
    })
    otelMetrics(breaker, { meter })
    for (let i = 0; i < 2; i++) {
      const ticket = breaker.request()
      if (ticket._tag === 'Admitted') breaker.succeeded(ticket, 5)
    }
    const metrics = await collect()
    const at = (figure: string) =>
      valueAt(metrics, 'breaker.part.figure', {
        'breaker.name': 'search',
        'breaker.part': 'detector',
        'breaker.part.kind': 'adaptive-throttle',
        'breaker.figure': figure,
      })
    expect(at('accepts')).toBe(2)
    expect(at('rejectRate')).toBe(0)
    expect(points(metrics, 'breaker.part.figure').every((p) => p.attributes['breaker.part.index'] === 1)).toBe(true)
  })
})

describe('names on one meter', () => {
  it('refuses a second breaker of the same name (and key) on one meter, naming it; other names, meters and prefixes are fine', async () => {
    const { meter, collect } = sdk()
    const strategy = () => circuit({ trip: { kind: 'consecutive-failures', threshold: 3 } })
    const [first, second] = [createBreaker(strategy()), createBreaker(strategy())]
    const attached = otelMetrics(first, { meter })
    expect(() => otelMetrics(second, { meter })).toThrow(
      new RegExp(
        `otelMetrics: a breaker named "${first.name}" is already attached to this meter.*createBreaker\\(strategy, \\{ name \\}\\)`,
      ),
    )
    // Nothing of the refused breaker is counted; the attached one's calls are.
    await second.execute(async () => 1)
    const success = { 'breaker.name': first.name, 'breaker.outcome': 'success' }
    expect(valueAt(await collect(), 'breaker.calls', success) ?? 0).toBe(0)
    await first.execute(async () => 1)
    expect(valueAt(await collect(), 'breaker.calls', success)).toBe(1)
    otelMetrics(createBreaker(strategy(), { name: 'other' }), { meter }).detach()
    otelMetrics(second, { meter: sdk().meter }).detach()
    otelMetrics(second, { meter, prefix: 'other.' }).detach()
    // Detached, the name is free again.
    attached.detach()
    otelMetrics(second, { meter }).detach()
    // A group's breakers differ by key; one a second group adds later with a taken name and key is left out, with a warning.
    const group = breakerGroup({ strategyFor: () => strategy() })
    const twin = breakerGroup({ strategyFor: () => strategy() })
    const groupMetrics = otelMetrics(group, { meter })
    const twinMetrics = otelMetrics(twin, { meter })
    group.get('a')
    const warnings = await warningsDuring(() => twin.get('a'))
    expect(warnings.some((w) => w.includes(`a breaker named "${first.name}" with key "a" is already attached to this meter`))).toBe(true)
    groupMetrics.detach()
    twinMetrics.detach()
  })
})
