import {
  adaptiveThrottle,
  anyOf,
  BreakerEvent,
  circuit,
  circuitOf,
  classicHalfOpen,
  consecutiveFailures,
  constantOpenFor,
  type Detector,
  emptyDetectorSnapshot,
} from '@datapunk/breaker'
import { metricCatalogue, prometheusMetrics } from '@datapunk/breaker-prometheus'
import { breakerGroup, CALL_OUTCOMES, createBreaker } from '@datapunk/breaker-runtime'
import { circuitBreaker } from '@datapunk/breaker-rxjs'
import { Registry } from 'prom-client'
import { NEVER, of, throwError, VirtualTimeScheduler } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { countingInspect } from '../../../test/support/countingInspect.js'
import { warningsDuring } from '../../../test/support/warnings.js'
import { BUSY_KEYS, busyRegistry } from './busyRegistry.js'

/** The value of one series in the registry's text output, or undefined if absent. */
const seriesValue = async (registry: Registry, series: string): Promise<number | undefined> => {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

const setup = () => {
  const registry = new Registry()
  const scheduler = new VirtualTimeScheduler()
  const breaker = createBreaker(
    circuit({
      name: 'payments',
      trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 4, window: { kind: 'count', size: 10 } },
      recovery: { kind: 'gradual', initialRate: 0.25, stageCalls: 4 },
      openFor: { kind: 'constant', ms: 1000 },
    }),
    { clock: scheduler },
  )
  const metrics = prometheusMetrics(breaker, { registry })
  return { registry, scheduler, breaker, metrics }
}
const ok = (breaker: ReturnType<typeof setup>['breaker']) =>
  of(1)
    .pipe(circuitBreaker(breaker))
    .subscribe({ error: () => {} })
const fail = (breaker: ReturnType<typeof setup>['breaker']) =>
  throwError(() => new Error('down'))
    .pipe(circuitBreaker(breaker))
    .subscribe({ error: () => {} })

describe('prometheusMetrics', () => {
  it('refuses a second breaker of the same name on one registry, naming it, instead of merging their series', async () => {
    const registry = new Registry()
    const strategy = () => circuit({ trip: { kind: 'consecutive-failures', threshold: 5 } })
    const first = createBreaker(strategy())
    const second = createBreaker(strategy())
    expect(first.name).toBe(second.name) // both unnamed: named after the strategy
    const attached = prometheusMetrics(first, { registry })
    expect(() => prometheusMetrics(second, { registry })).toThrow(
      new RegExp(`a breaker named "${first.name}" is already attached to this registry.*createBreaker\\(strategy, \\{ name \\}\\)`),
    )
    // Nothing of the refused breaker was attached: its call is not counted (the first made none).
    await second.execute(async () => 1)
    expect(await seriesValue(registry, `breaker_calls_total{breaker="${first.name}",key="",outcome="success"}`)).toBe(0)
    await first.execute(async () => 1)
    expect(await seriesValue(registry, `breaker_calls_total{breaker="${first.name}",key="",outcome="success"}`)).toBe(1)
    // Other names, and the same name on another registry, are fine; a detached name is free again.
    prometheusMetrics(createBreaker(strategy(), { name: 'other' }), { registry }).detach()
    prometheusMetrics(second, { registry: new Registry() }).detach()
    attached.detach()
    prometheusMetrics(second, { registry }).detach()
    // A group's breakers differ by key; one added later with a taken name and key is left out, with a warning.
    const group = breakerGroup<string>({ strategyFor: () => strategy() })
    const metrics = prometheusMetrics(group, { registry })
    group.get('a')
    group.get('b')
    const twin = breakerGroup<string>({ strategyFor: () => strategy() })
    const twinMetrics = prometheusMetrics(twin, { registry })
    const warnings = await warningsDuring(() => twin.get('a'))
    expect(warnings.some((w) => w.includes(`a breaker named "${first.name}" with key "a" is already attached`))).toBe(true)
    metrics.detach()
    twinMetrics.detach()
  })

  it('has every call, rejection and trip counter present at 0 from attach, so increase() sees the first trip', async () => {
    const { registry } = setup()
    for (const outcome of ['success', 'failure', 'timeout', 'cancelled', 'ignored']) {
      expect(await seriesValue(registry, `breaker_calls_total{breaker="payments",key="",outcome="${outcome}"}`)).toBe(0)
    }
    for (const reason of ['open', 'forced-open', 'half-open-full', 'throttled']) {
      expect(await seriesValue(registry, `breaker_rejections_total{breaker="payments",key="",reason="${reason}"}`)).toBe(0)
    }
    expect(
      await seriesValue(registry, 'breaker_transitions_total{breaker="payments",key="",from="closed",to="open",reason="tripped"}'),
    ).toBe(0)
    expect(
      await seriesValue(registry, 'breaker_transitions_total{breaker="payments",key="",from="half-open",to="closed",reason="recovered"}'),
    ).toBe(0)
  })

  it('after registry.clear(), the next attach registers the metrics again, breakers attached before included', async () => {
    const registry = new Registry()
    const before = createBreaker(circuit({ name: 'before', trip: { kind: 'consecutive-failures', threshold: 5 } }))
    prometheusMetrics(before, { registry })
    registry.clear()
    expect(await registry.metrics()).toBe('\n')
    const after = createBreaker(circuit({ name: 'after', trip: { kind: 'consecutive-failures', threshold: 5 } }))
    prometheusMetrics(after, { registry })
    await before.execute(async () => 1)
    expect(await seriesValue(registry, 'breaker_calls_total{breaker="before",key="",outcome="success"}')).toBe(1)
    expect(await seriesValue(registry, 'breaker_calls_total{breaker="after",key="",outcome="success"}')).toBe(0)
  })

  it('exports the state as one 0/1 series per phase', async () => {
    const { registry, breaker } = setup()
    expect(await seriesValue(registry, 'breaker_state{breaker="payments",key="",state="closed"}')).toBe(1)
    expect(await seriesValue(registry, 'breaker_state{breaker="payments",key="",state="open"}')).toBe(0)
    breaker.dispatch(BreakerEvent.openFor(500))
    expect(await seriesValue(registry, 'breaker_state{breaker="payments",key="",state="open"}')).toBe(1)
    expect(await seriesValue(registry, 'breaker_open_until_timestamp_seconds{breaker="payments",key=""}')).toBe(0.5)
  })

  it('counts calls by outcome, with durations, and rejections by reason', async () => {
    const { registry, breaker, scheduler } = setup()
    ok(breaker)
    ok(breaker)
    of(1)
      .pipe(circuitBreaker(breaker, { isFailure: () => false }))
      .subscribe()
    throwError(() => new Error('404'))
      .pipe(circuitBreaker(breaker, { isFailure: () => false }))
      .subscribe({ error: () => {} }) // cleared: cancelled
    NEVER.pipe(circuitBreaker(breaker, { timeoutMs: 250 })).subscribe({ error: () => {} })
    scheduler.flush() // the timeout fires
    fail(breaker)
    const ticket = breaker.request()
    breaker.dispatch(BreakerEvent.forcedOpen())
    if (ticket._tag === 'Admitted') breaker.succeeded(ticket, 1) // after a state change: ignored
    ok(breaker) // rejected: forced open
    const calls = (outcome: string) => seriesValue(registry, `breaker_calls_total{breaker="payments",key="",outcome="${outcome}"}`)
    expect(await calls('success')).toBe(3)
    expect(await calls('cancelled')).toBe(1)
    expect(await calls('timeout')).toBe(1)
    expect(await calls('failure')).toBe(1)
    expect(await calls('ignored')).toBe(1)
    expect(await seriesValue(registry, 'breaker_rejections_total{breaker="payments",key="",reason="forced-open"}')).toBe(1)
    expect(await seriesValue(registry, 'breaker_call_duration_seconds_count{breaker="payments",key="",outcome="timeout"}')).toBe(1)
    expect(await seriesValue(registry, 'breaker_call_duration_seconds_sum{breaker="payments",key="",outcome="timeout"}')).toBe(0.25)
  })

  it('counts transitions by from, to and reason, and shows the admitted share while ramping', async () => {
    const { registry, breaker, scheduler } = setup()
    for (let i = 0; i < 4; i++) fail(breaker)
    expect(
      await seriesValue(registry, 'breaker_transitions_total{breaker="payments",key="",from="closed",to="open",reason="tripped"}'),
    ).toBe(1)
    expect(await seriesValue(registry, 'breaker_admitted_ratio{breaker="payments",key=""}')).toBe(0)
    scheduler.schedule(() => ok(breaker), 1000)
    scheduler.flush()
    expect(await seriesValue(registry, 'breaker_state{breaker="payments",key="",state="half-open"}')).toBe(1)
    expect(await seriesValue(registry, 'breaker_admitted_ratio{breaker="payments",key=""}')).toBe(0.25)
  })

  it('leaves rates absent, not 0, until they exist', async () => {
    const { registry, breaker } = setup()
    expect(await seriesValue(registry, 'breaker_failure_rate_ratio{breaker="payments",key=""}')).toBeUndefined()
    ok(breaker)
    ok(breaker)
    ok(breaker)
    fail(breaker)
    expect(await seriesValue(registry, 'breaker_failure_rate_ratio{breaker="payments",key=""}')).toBe(0.25)
    expect(await seriesValue(registry, 'breaker_slow_call_rate_ratio{breaker="payments",key=""}')).toBeUndefined()
    expect(await seriesValue(registry, 'breaker_consecutive_failures{breaker="payments",key=""}')).toBeUndefined()
  })

  it('detach removes the series and stops counting', async () => {
    const { registry, breaker, metrics } = setup()
    ok(breaker)
    metrics.detach()
    ok(breaker)
    ok(breaker)
    const text = await registry.metrics()
    expect(text).not.toContain('breaker="payments"')
    // Attached again, the count starts afresh: the calls made while detached were counted nowhere.
    prometheusMetrics(breaker, { registry })
    ok(breaker)
    expect(await seriesValue(registry, 'breaker_calls_total{breaker="payments",key="",outcome="success"}')).toBe(1)
  })

  it('a group: one label set per held breaker, and evicted keys leave the registry (100,000 keys churned)', async () => {
    const registry = new Registry()
    const scheduler = new VirtualTimeScheduler()
    let now = 0
    scheduler.now = () => now
    // One strategy for every key, each breaker named after its host (a circuit read per key would be
    // most of this test's time, 100,000 configs decoded).
    const strategy = circuit({ name: 'mesh', trip: { kind: 'consecutive-failures', threshold: 1 } })
    const group = breakerGroup<string>({
      strategyFor: () => strategy,
      nameFor: (host) => host,
      maxKeys: 500,
      idleEvictMs: 50,
      clock: scheduler,
    })
    prometheusMetrics(group, { registry, prefix: 'mesh_' })
    for (let i = 0; i < 100_000; i++) {
      now = i
      const breaker = group.get(`host-${i}`)
      of(1).pipe(circuitBreaker(breaker)).subscribe()
    }
    const metrics = await registry.getMetricsAsJSON()
    const calls = metrics.find((m) => m.name === 'mesh_calls_total')
    const states = metrics.find((m) => m.name === 'mesh_state')
    // One series per outcome of each held breaker (every one present from attach).
    expect(calls?.values.length).toBeLessThanOrEqual(CALL_OUTCOMES.length * 500)
    expect(states?.values.length).toBeLessThanOrEqual(3 * 500)
    expect(calls?.values.filter((v) => v.labels.key === 'host-99999')).toContainEqual({
      value: 1,
      labels: { breaker: 'host-99999', key: 'host-99999', outcome: 'success' },
    })
  })

  it("reads each breaker's snapshot once per scrape, and a change between two scrapes shows in the second", async () => {
    const registry = new Registry()
    const { strategy: counted, counter } = countingInspect(
      circuit({ name: 'counted', trip: { kind: 'consecutive-failures', threshold: 1 } }),
    )
    const breaker = createBreaker(counted)
    prometheusMetrics(breaker, { registry })
    counter.inspected = 0
    await registry.metrics()
    // Eight gauges read the snapshot (state, the ratios, in flight, figures, open-until): one read serves them all.
    expect(counter.inspected).toBe(1)
    expect(await seriesValue(registry, 'breaker_state{breaker="counted",key="",state="closed"}')).toBe(1)
    const ticket = breaker.request()
    if (ticket._tag === 'Admitted') breaker.failed(ticket, 5)
    // No macrotask between the trip and this scrape: it still reads the breaker anew.
    expect(await seriesValue(registry, 'breaker_state{breaker="counted",key="",state="open"}')).toBe(1)
  })

  it('keeps the reading of a breaker that stepped nothing since the last scrape, and reads anew after any step, in place or not, and a swap', async () => {
    const registry = new Registry()
    const { strategy: counted, counter } = countingInspect(circuit({ name: 'idle', trip: { kind: 'consecutive-failures', threshold: 3 } }))
    const breaker = createBreaker(counted)
    prometheusMetrics(breaker, { registry })
    const failures = 'breaker_consecutive_failures{breaker="idle",key=""}'
    expect(await seriesValue(registry, failures)).toBe(0)
    counter.inspected = 0
    // Idle between scrapes: the same text, and no snapshot made.
    const text = await registry.metrics()
    await registry.metrics()
    expect(await registry.metrics()).toBe(text)
    expect(counter.inspected).toBe(0)
    // A failure that does not trip is stepped in place (the same state object, written): read anew.
    const ticket = breaker.request()
    if (ticket._tag === 'Admitted') breaker.failed(ticket, 5)
    expect(await seriesValue(registry, failures)).toBe(1)
    expect(counter.inspected).toBe(1)
    // A request alone moves the calls in flight.
    breaker.request()
    expect(await seriesValue(registry, 'breaker_in_flight_calls{breaker="idle",key=""}')).toBe(1)
    // A swap to a strategy with a failure-rate threshold: its gauge appears at once.
    breaker.swap(
      circuit({ name: 'idle', trip: { kind: 'failure-rate', threshold: 0.3, minimumCalls: 5, window: { kind: 'count', size: 10 } } }),
    )
    expect(await seriesValue(registry, 'breaker_failure_rate_threshold_ratio{breaker="idle",key=""}')).toBe(0.3)
  })

  it('works for any strategy: the gauges come from inspect()', async () => {
    const registry = new Registry()
    const foreign = circuit({ name: 'custom', trip: { kind: 'all-of', detectors: [{ kind: 'consecutive-failures', threshold: 2 }] } })
    prometheusMetrics(createBreaker(foreign), { registry })
    expect(await seriesValue(registry, 'breaker_consecutive_failures{breaker="custom",key=""}')).toBe(0)
  })

  it('names follow Prometheus conventions, and every metric of the catalogue is registered', async () => {
    const { registry } = setup()
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name).sort()
    expect(names).toEqual(metricCatalogue.map((m) => `breaker_${m.name}`).sort())
    for (const m of metricCatalogue) {
      if (m.type === 'counter') expect(m.name).toMatch(/_total$/)
      if (/rate|admitted/.test(m.name)) expect(m.name).toMatch(/_ratio$/)
      if (m.type === 'histogram') expect(m.name).toMatch(/_seconds$/)
    }
    expect(() =>
      prometheusMetrics(createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } })), { prefix: 'bad-prefix' }),
    ).toThrow('prometheusMetrics: prefix must be a valid metric name prefix, got "bad-prefix"')
  })
})

describe('prometheusMetrics: bad input', () => {
  const breaker = (name: string) => createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }), { name })

  it('refuses buckets that are not seconds above 0, each once, and registers nothing', async () => {
    const registry = new Registry()
    expect(() => prometheusMetrics(breaker('a'), { registry, buckets: [] })).toThrow(
      new TypeError('prometheusMetrics: buckets must be a non-empty array of seconds, got an empty array'),
    )
    expect(() => prometheusMetrics(breaker('a'), { registry, buckets: [0.1, -1] })).toThrow(
      new RangeError('prometheusMetrics: each bucket must be a finite number of seconds above 0, got -1'),
    )
    expect(() => prometheusMetrics(breaker('a'), { registry, buckets: [0.1, '1' as never] })).toThrow('got string')
    expect(() => prometheusMetrics(breaker('a'), { registry, buckets: [0.1, 0.1] })).toThrow('bucket 0.1 is given twice')
    expect(await registry.getMetricsAsJSON()).toEqual([])
  })

  it('refuses other buckets than the ones a registry and prefix were made with; the same ones in any order attach', async () => {
    const registry = new Registry()
    prometheusMetrics(breaker('a'), { registry, buckets: [0.1, 1] })
    expect(() => prometheusMetrics(breaker('b'), { registry, buckets: [0.2] })).toThrow(
      "prometheusMetrics: buckets [0.2] differ from the [0.1, 1] this registry's breaker_ metrics were made with",
    )
    prometheusMetrics(breaker('c'), { registry, buckets: [1, 0.1] })
    prometheusMetrics(breaker('d'), { registry })
    const text = await registry.metrics()
    expect(text).toContain('breaker="c"')
    expect(text).toContain('breaker="d"')
    expect(text).not.toContain('breaker="b"')
  })

  it('refuses a source that is no breaker, a registry that is no Registry, options that are no object', async () => {
    const registry = new Registry()
    expect(() => prometheusMetrics(null as never, { registry })).toThrow(
      new TypeError('prometheusMetrics: expected a breaker (createBreaker) or a breakerGroup, got null'),
    )
    expect(() => prometheusMetrics(breaker('a'), { registry: {} as never })).toThrow(
      new TypeError('prometheusMetrics: registry must be a prom-client Registry, got object'),
    )
    expect(() => prometheusMetrics(breaker('a'), null as never)).toThrow(
      new TypeError('prometheusMetrics: options must be an object, got null'),
    )
    expect(await registry.getMetricsAsJSON()).toEqual([])
  })
})

/**
 * The same metrics written by prom-client itself: each of `registry`'s metrics registered on a
 * mirror registry as a plain object with only `get()` (the labelled values), which prom-client
 * writes line by line. The adapter's own writer must give the same text, byte for byte.
 */
const writtenByPromClient = async (registry: Registry, mirror: Registry): Promise<string> => {
  for (const m of registry.getMetricsAsArray()) {
    const metric = m as unknown as { readonly name: string; get(): Promise<unknown> }
    mirror.registerMetric({ name: metric.name, get: () => metric.get() } as never)
  }
  return mirror.metrics()
}

/** A registry in the OpenMetrics format (prom-client's types leave the constructor's argument out). */
const openMetricsRegistry = (): Registry => {
  const registry = new Registry()
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never)
  return registry
}

describe('prometheusMetrics: the text it writes', () => {
  it('is what prom-client writes for the same values, byte for byte (names and keys escaped, histograms, every phase)', async () => {
    const registry = new Registry()
    await busyRegistry(registry)
    const text = await registry.metrics()
    expect(text).toContain('key="back\\\\slash"')
    expect(text).toContain('breaker_transitions_total{breaker="single",key="",from="open",to="closed",reason="reset"}')
    expect(text).toContain('breaker_call_duration_seconds_bucket{')
    expect(text).toBe(await writtenByPromClient(registry, new Registry()))
  })

  it('is what prom-client writes when every name and key is ASCII (the text is read out without decoding UTF-8)', async () => {
    const registry = new Registry()
    await busyRegistry(
      registry,
      BUSY_KEYS.filter((key) => Buffer.byteLength(key) === key.length),
    )
    const text = await registry.metrics()
    expect(text).toContain('key="back\\\\slash"')
    expect(text).not.toContain('日本')
    expect(text).toBe(await writtenByPromClient(registry, new Registry()))
  })

  it("writes a registry's default labels ahead of the breakers' own, as prom-client does (escaped, numbers too)", async () => {
    const defaults = { service: 'check"out', zone: 'é\\n', shard: 3 }
    const labelled = new Registry()
    labelled.setDefaultLabels(defaults)
    await busyRegistry(labelled)
    const mirror = new Registry()
    mirror.setDefaultLabels(defaults)
    const text = await labelled.metrics()
    expect(text).toContain('breaker_state{service="check\\"out",zone="é\\\\n",shard="3",breaker="single",key="",state="closed"} 1')
    expect(text).toBe(await writtenByPromClient(labelled, mirror))
  })

  it("registries the writer does not serve get prom-client's own writing: a default label named like the adapter's, OpenMetrics", async () => {
    // A default label `key` gives way to the series' own `key`: prom-client's writing decides.
    const clashing = new Registry()
    clashing.setDefaultLabels({ key: 'shadowed', service: 'checkout' })
    await busyRegistry(clashing)
    const mirror = new Registry()
    mirror.setDefaultLabels({ key: 'shadowed', service: 'checkout' })
    const text = await clashing.metrics()
    expect(text).toContain('breaker_state{service="checkout",breaker="single",key="",state="closed"} 1')
    expect(text).toBe(await writtenByPromClient(clashing, mirror))
    const open = openMetricsRegistry()
    await busyRegistry(open)
    const openText = await open.metrics()
    expect(openText).toContain('breaker_calls_total{breaker="single",key="",outcome="failure"} 1')
    expect(openText).toBe(await writtenByPromClient(open, openMetricsRegistry()))
  })
})

describe('prometheusMetrics: every part’s figures', () => {
  it("publishes the built-in parts' own figures and a custom part's, by part, position, kind and name", async () => {
    const registry = new Registry()
    const base = consecutiveFailures({ threshold: 3 }) as Detector<unknown>
    const scored: Detector<unknown> = {
      ...base,
      kind: 'scored',
      measure: () => [{ ...emptyDetectorSnapshot('scored'), figures: { score: 0.25, unknownYet: null } }],
    }
    const throttled = adaptiveThrottle(
      circuitOf({
        name: 'search',
        detector: anyOf([consecutiveFailures({ threshold: 5 }), scored]),
        recovery: classicHalfOpen(),
        openFor: constantOpenFor(1000),
      }),
      {},
    )
    const breaker = createBreaker(throttled, { clock: new VirtualTimeScheduler() })
    const metrics = prometheusMetrics(breaker, { registry })
    const series = (labels: string) => seriesValue(registry, `breaker_part_figure{breaker="search",key="",${labels}}`)
    expect(await series('part="detector",index="1",kind="scored",figure="score"')).toBe(0.25)
    expect(await series('part="detector",index="1",kind="scored",figure="unknownYet"')).toBeUndefined() // null: absent, not 0
    expect(await series('part="detector",index="2",kind="adaptive-throttle",figure="rejectRate"')).toBe(0)
    for (let i = 0; i < 3; i++) {
      const ticket = breaker.request()
      if (ticket._tag === 'Admitted') breaker.succeeded(ticket, 5)
    }
    expect(await series('part="detector",index="2",kind="adaptive-throttle",figure="accepts"')).toBe(3)
    metrics.detach()
    expect((await registry.metrics()).includes('breaker_part_figure{')).toBe(false)
  })
})
