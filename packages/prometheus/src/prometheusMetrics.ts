/**
 * Prometheus metrics for breakers, on prom-client. Per-call work is a counter increment (and a
 * histogram observation for settled calls), on children bound once per breaker; every figure a
 * snapshot holds (state, admitted share, rates, open-until) is read at scrape time from
 * `inspect()`, so a strategy you wrote gets metrics without doing anything.
 */
import type { Snapshot } from '@datapunk/breaker'
import { type Breaker, type BreakerSource, type CallEvent, type TransitionEvent, watchBreakers } from '@datapunk/breaker-rxjs'
import { Counter, register as defaultRegistry, Gauge, Histogram, type Registry } from 'prom-client'
import { Subscription } from 'rxjs'

/** Options of {@link prometheusMetrics}. */
export interface PrometheusOptions {
  /** Where the metrics are registered. Default: prom-client's global `register`. */
  readonly registry?: Registry
  /** Prefix of every metric name. Default `'breaker_'`. */
  readonly prefix?: string
  /** Buckets of the call duration histogram, in seconds. Default: prom-client's (5 ms to 10 s). */
  readonly buckets?: ReadonlyArray<number>
}

/** An attachment: `detach()` stops counting and removes the source's series from the registry. */
export interface PrometheusAttachment {
  detach(): void
}

/** Every metric the adapter exports, by name without the prefix, with its type and labels (for docs and dashboards). */
export const metricCatalogue = [
  {
    name: 'state',
    type: 'gauge',
    labels: ['breaker', 'key', 'state'],
    help: '1 for the phase the breaker is in (closed, open, half-open), 0 for the others',
  },
  {
    name: 'calls_total',
    type: 'counter',
    labels: ['breaker', 'key', 'outcome'],
    help: 'Admitted calls by outcome: success, failure, timeout, cancelled (counted nowhere), ignored (arrived after a state change)',
  },
  {
    name: 'rejections_total',
    type: 'counter',
    labels: ['breaker', 'key', 'reason'],
    help: 'Calls rejected without reaching the upstream, by reason: open, forced-open, half-open-full, throttled',
  },
  {
    name: 'call_duration_seconds',
    type: 'histogram',
    labels: ['breaker', 'key', 'outcome'],
    help: 'Duration of settled calls (success, failure, timeout)',
  },
  { name: 'transitions_total', type: 'counter', labels: ['breaker', 'key', 'from', 'to', 'reason'], help: 'Phase changes' },
  {
    name: 'admitted_ratio',
    type: 'gauge',
    labels: ['breaker', 'key'],
    help: 'Share of requests admitted now: 1 closed, 0 open, the ramp while half-open',
  },
  {
    name: 'failure_rate_ratio',
    type: 'gauge',
    labels: ['breaker', 'key'],
    help: 'Failure rate in the window (absent below minimumCalls or where not tracked)',
  },
  {
    name: 'failure_rate_threshold_ratio',
    type: 'gauge',
    labels: ['breaker', 'key'],
    help: 'The failure rate at which the breaker trips (absent if it does not trip on a rate)',
  },
  {
    name: 'slow_call_rate_ratio',
    type: 'gauge',
    labels: ['breaker', 'key'],
    help: 'Slow-call rate in the window (absent where not tracked)',
  },
  {
    name: 'consecutive_failures',
    type: 'gauge',
    labels: ['breaker', 'key'],
    help: 'The current run of failures (absent where not tracked)',
  },
  { name: 'in_flight_calls', type: 'gauge', labels: ['breaker', 'key'], help: 'Admitted calls not yet settled' },
  {
    name: 'open_until_timestamp_seconds',
    type: 'gauge',
    labels: ['breaker', 'key'],
    help: "When an open breaker may admit a probe, on the breaker's clock (absent unless open for a duration)",
  },
] as const

/** One breaker's bound children and the label sets it created (to remove them when it leaves). */
interface Attached {
  readonly name: string
  readonly key: string
  readonly subscription: Subscription
  readonly created: Array<{ readonly metric: Counter<string> | Histogram<string>; readonly labels: Record<string, string> }>
  readonly counters: Map<string, { inc(): void }>
  readonly durations: Map<string, { observe(value: number): void }>
}

/** The metrics of one registry and prefix, shared by every attachment to them. */
interface Shared {
  readonly attached: Map<Breaker, Attached>
  readonly calls: Counter<string>
  readonly rejections: Counter<string>
  readonly transitions: Counter<string>
  readonly duration: Histogram<string>
}

const sharedByRegistry = new WeakMap<Registry, Map<string, Shared>>()

const PHASES = ['closed', 'open', 'half-open'] as const

/** Builds (or finds) the metrics of `registry` and `prefix`. */
const sharedMetrics = (registry: Registry, prefix: string, buckets: ReadonlyArray<number> | undefined): Shared => {
  let byPrefix = sharedByRegistry.get(registry)
  if (byPrefix === undefined) {
    byPrefix = new Map()
    sharedByRegistry.set(registry, byPrefix)
  }
  const found = byPrefix.get(prefix)
  if (found !== undefined) return found
  const attached = new Map<Breaker, Attached>()
  const info = (name: (typeof metricCatalogue)[number]['name']) => {
    const entry = metricCatalogue.find((m) => m.name === name)
    return { name: prefix + name, help: entry?.help ?? name, labelNames: [...(entry?.labels ?? [])], registers: [registry] }
  }
  /** A gauge read at scrape time from each attached breaker's snapshot; `null` leaves the series absent. */
  const lazyGauge = (name: (typeof metricCatalogue)[number]['name'], value: (snapshot: Snapshot) => number | null) =>
    new Gauge({
      ...info(name),
      collect() {
        this.reset()
        for (const [breaker, a] of attached) {
          const v = value(breaker.snapshot())
          if (v !== null) this.set({ breaker: a.name, key: a.key }, v)
        }
      },
    })
  new Gauge({
    ...info('state'),
    collect() {
      this.reset()
      for (const [breaker, a] of attached) {
        const state = breaker.snapshot().state
        for (const phase of PHASES) this.set({ breaker: a.name, key: a.key, state: phase }, phase === state ? 1 : 0)
      }
    },
  })
  lazyGauge('admitted_ratio', (s) => s.admitRate)
  lazyGauge('failure_rate_ratio', (s) => s.failureRate)
  lazyGauge('failure_rate_threshold_ratio', (s) => s.failureRateThreshold)
  lazyGauge('slow_call_rate_ratio', (s) => s.slowCallRate)
  lazyGauge('consecutive_failures', (s) => s.consecutiveFailures)
  lazyGauge('in_flight_calls', (s) => s.inFlight)
  lazyGauge('open_until_timestamp_seconds', (s) => (s.state === 'open' && s.openUntil !== null ? s.openUntil / 1000 : null))
  const shared: Shared = {
    attached,
    calls: new Counter(info('calls_total')),
    rejections: new Counter(info('rejections_total')),
    transitions: new Counter(info('transitions_total')),
    duration: new Histogram({ ...info('call_duration_seconds'), ...(buckets === undefined ? {} : { buckets: [...buckets] }) }),
  }
  byPrefix.set(prefix, shared)
  return shared
}

/** A child bound once per breaker and label value, remembered for removal. */
const child = <C>(
  a: Attached,
  cache: Map<string, C>,
  metric: Counter<string> | Histogram<string>,
  labels: Record<string, string>,
  id: string,
): C => {
  let found = cache.get(id)
  if (found === undefined) {
    found = metric.labels(labels) as C
    cache.set(id, found)
    a.created.push({ metric, labels })
  }
  return found
}

const onCall = (shared: Shared, a: Attached, event: CallEvent): void => {
  const base = { breaker: a.name, key: a.key }
  const count = (outcome: string) => child<{ inc(): void }>(a, a.counters, shared.calls, { ...base, outcome }, `c:${outcome}`).inc()
  const time = (outcome: string, ms: number) =>
    child<{ observe(v: number): void }>(a, a.durations, shared.duration, { ...base, outcome }, `d:${outcome}`).observe(ms / 1000)
  switch (event._tag) {
    case 'CallSucceeded':
      count('success')
      time('success', event.latencyMs)
      return
    case 'CallFailed': {
      const outcome = event.timedOut ? 'timeout' : 'failure'
      count(outcome)
      time(outcome, event.latencyMs)
      return
    }
    case 'CallCancelled':
      count('cancelled')
      return
    case 'CallStale':
      count('ignored')
      return
    case 'CallRejected':
      child<{ inc(): void }>(a, a.counters, shared.rejections, { ...base, reason: event.reason }, `r:${event.reason}`).inc()
      return
    default:
      return
  }
}

const onTransition = (shared: Shared, a: Attached, event: TransitionEvent): void => {
  if (event._tag !== 'StateChanged') return
  const id = `t:${event.from}:${event.to}:${event.reason}`
  child<{ inc(): void }>(
    a,
    a.counters,
    shared.transitions,
    { breaker: a.name, key: a.key, from: event.from, to: event.to, reason: event.reason },
    id,
  ).inc()
}

/**
 * Exports a breaker's (or every breaker of a group's) metrics to a prom-client registry; see
 * {@link metricCatalogue} for the names. Breakers a group evicts leave the registry, so label
 * cardinality stays bounded by the group's size. `detach()` removes the source's series; while
 * detached, nothing runs per call.
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { createBreaker } from '@datapunk/breaker-rxjs'
 * import { prometheusMetrics } from '@datapunk/breaker-prometheus'
 * import { Registry } from 'prom-client'
 * const registry = new Registry()
 * const breaker = createBreaker(circuit({ name: 'payments', trip: { kind: 'consecutive-failures', threshold: 5 } }))
 * const metrics = prometheusMetrics(breaker, { registry })
 * const text = await registry.metrics()
 * text.includes('breaker_state{breaker="payments",key="",state="closed"} 1') // true
 * metrics.detach()
 */
export const prometheusMetrics = <K>(source: BreakerSource<K>, options: PrometheusOptions = {}): PrometheusAttachment => {
  const prefix = options.prefix ?? 'breaker_'
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix))
    throw new RangeError(`prometheusMetrics: prefix must be a valid metric name prefix, got "${prefix}"`)
  const shared = sharedMetrics(options.registry ?? defaultRegistry, prefix, options.buckets)
  const watching = watchBreakers(source, {
    added: (breaker, key) => {
      if (shared.attached.has(breaker)) return
      const a: Attached = {
        name: breaker.name,
        key: key === undefined ? '' : String(key),
        subscription: new Subscription(),
        created: [],
        counters: new Map(),
        durations: new Map(),
      }
      a.subscription.add(breaker.calls$.subscribe((event) => onCall(shared, a, event)))
      a.subscription.add(breaker.transitions$.subscribe((event) => onTransition(shared, a, event)))
      shared.attached.set(breaker, a)
    },
    removed: (breaker) => {
      const a = shared.attached.get(breaker)
      if (a === undefined) return
      a.subscription.unsubscribe()
      for (const { metric, labels } of a.created) metric.remove(labels)
      shared.attached.delete(breaker)
    },
  })
  return { detach: () => watching.unsubscribe() }
}
