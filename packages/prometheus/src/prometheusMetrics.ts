/**
 * Prometheus metrics for breakers, on prom-client. Per-call work is incrementing plain numbers
 * (a count, and a bucket, sum and count for settled calls); prom-client gets the totals at scrape
 * time. Every figure a snapshot holds (state, admitted share, rates, open-until) is read at
 * scrape time from `inspect()`, so a strategy you wrote gets metrics without doing anything.
 */
import type { PartFigure, RejectReason } from '@datapunk/breaker'
import {
  type Breaker,
  type BreakerSource,
  CALL_OUTCOMES,
  type CallCounter,
  type CallOutcomeLabel,
  PHASES,
  Subscription,
  type TransitionEvent,
  watchBreakers,
} from '@datapunk/breaker-runtime'
import { checkBuckets, checkOptions, checkSource, emptyReading, type Reading } from '@datapunk/breaker-runtime/internal'
import { Counter, register as defaultRegistry, Gauge, Histogram, type Registry } from 'prom-client'
import { metricCatalogue } from './metricCatalogue.js'
import { checkRegistry } from './scrapeHandler.js'
import {
  type LabelSet,
  LabelSets,
  OWN_SERIES,
  type OwnSeries,
  type ScrapeHolder,
  ScrapeSnapshots,
  type SeriesSink,
  SharedLabels,
  ValueSink,
} from './series.js'
import { ByteWriter, defaultLabelBytes, TextSink, textServes } from './textFormat.js'

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
  /** Stops counting and removes the source's series (a second call does nothing). */
  detach(): void
}

/** Settled-call outcomes that have a duration. */
type Timed = 'success' | 'failure' | 'timeout'

/** prom-client's default buckets, in seconds: 5 ms to 10 s. */
const DEFAULT_BUCKETS: ReadonlyArray<number> = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** A duration histogram kept as plain numbers: counts per bucket (not cumulative), sum, count. */
interface Durations {
  readonly buckets: Float64Array
  sum: number
  count: number
}

/**
 * One breaker's counts, as plain numbers: a call only increments them (told by `countCalls`, with
 * no event object). prom-client sees them at scrape time (its own label hashing on every call
 * would cost microseconds).
 */
class Tally implements CallCounter, ScrapeHolder {
  /** Its label sets, made once (see series.ts). */
  readonly labels: LabelSets
  readonly subscription = new Subscription()
  readonly calls: Record<CallOutcomeLabel, number> = { success: 0, failure: 0, timeout: 0, cancelled: 0, ignored: 0 }
  readonly rejections = new Map<string, number>()
  /** Transitions by `from/to/reason`, each with its label set. */
  readonly transitions = new Map<string, { readonly set: LabelSet; count: number }>()
  readonly durations: Record<Timed, Durations>
  /** Its breaker's figures as the last scrape read them (see `ScrapeSnapshots`). */
  readonly reading = emptyReading()
  readAt = 0
  readRevision: number | undefined = undefined

  constructor(
    readonly name: string,
    readonly key: string,
    private readonly bounds: ReadonlyArray<number>,
  ) {
    this.labels = new LabelSets(name, key)
    const n = bounds.length
    this.durations = { success: durations(n), failure: durations(n), timeout: durations(n) }
  }

  settled(outcome: CallOutcomeLabel, latencyMs: number | null): void {
    // A switch on the outcome, so each count is a field write the engine knows (not a keyed one).
    switch (outcome) {
      case 'success':
        this.calls.success++
        if (latencyMs !== null) time(this.bounds, this.durations.success, latencyMs)
        return
      case 'failure':
        this.calls.failure++
        if (latencyMs !== null) time(this.bounds, this.durations.failure, latencyMs)
        return
      case 'timeout':
        this.calls.timeout++
        if (latencyMs !== null) time(this.bounds, this.durations.timeout, latencyMs)
        return
      case 'cancelled':
        this.calls.cancelled++
        return
      case 'ignored':
        this.calls.ignored++
        return
    }
  }

  rejected(reason: RejectReason): void {
    this.rejections.set(reason, (this.rejections.get(reason) ?? 0) + 1)
  }
}

/** The metrics of one registry and prefix, shared by every attachment to them. */
interface Shared {
  readonly attached: Map<Breaker, Tally>
  /** The breaker that holds each series identity (name and key): two would merge into one series. */
  readonly identities: Map<string, Breaker>
  readonly bounds: ReadonlyArray<number>
  /** The duration histogram's bucket labels, by outcome: one per bound, then `+Inf`. */
  readonly bucketLabels: Readonly<Record<Timed, ReadonlyArray<SharedLabels>>>
}

const identityOf = (name: string, key: string): string => `${name}\u0000${key}`

/** The error for a breaker whose name and key another attached breaker already has. */
const duplicateError = (name: string, key: string): Error =>
  new Error(
    `prometheusMetrics: a breaker named "${name}"${key === '' ? '' : ` with key "${key}"`} is already attached to this registry: ` +
      'their counts would merge into one series. Give each breaker its own name (createBreaker(strategy, { name })).',
  )

const sharedByRegistry = new WeakMap<Registry, Map<string, Shared>>()

/** Every reason a call is rejected for: each series is present (at 0) from attach. */
const REJECT_REASONS = ['open', 'forced-open', 'half-open-full', 'throttled'] as const

/**
 * The transitions of a trip and a recovery, present (at 0) from attach, so `increase()` sees the
 * first trip after a process starts (a series that appears at 1 shows no increase). Others appear
 * when they first happen.
 */
const INITIAL_TRANSITIONS: ReadonlyArray<{ readonly from: string; readonly to: string; readonly reason: string }> = [
  { from: 'closed', to: 'open', reason: 'tripped' },
  { from: 'open', to: 'half-open', reason: 'open-elapsed' },
  { from: 'half-open', to: 'closed', reason: 'recovered' },
  { from: 'half-open', to: 'open', reason: 'recovery-failed' },
]

/** Their keys in a tally, and their labels, in the same order. */
const INITIAL_KEYS = INITIAL_TRANSITIONS.map((tr) => transitionKey(tr))
const INITIAL_LABELS = INITIAL_TRANSITIONS.map((tr) => new SharedLabels(tr))

/** Whether two sets of bucket bounds are the same, in any order. */
const sameBounds = (sorted: ReadonlyArray<number>, given: ReadonlyArray<number>): boolean => {
  const other = [...given].sort((a, b) => a - b)
  return other.length === sorted.length && other.every((b, i) => b === sorted[i])
}

/** Builds (or finds) the metrics of `registry` and `prefix`. */
const sharedMetrics = (registry: Registry, prefix: string, buckets: ReadonlyArray<number> | undefined): Shared => {
  let byPrefix = sharedByRegistry.get(registry)
  if (byPrefix === undefined) {
    byPrefix = new Map()
    sharedByRegistry.set(registry, byPrefix)
  }
  const found = byPrefix.get(prefix)
  if (found !== undefined && buckets !== undefined && !sameBounds(found.bounds, buckets)) {
    throw new RangeError(
      `prometheusMetrics: buckets [${buckets.join(', ')}] differ from the [${found.bounds.join(', ')}] this registry's ${prefix} metrics were made with (one registry and prefix has one histogram: attach with the same buckets, or none)`,
    )
  }
  if (found !== undefined) {
    // `registry.clear()` removed them: registered again, every breaker still attached showing.
    if (registry.getSingleMetric(`${prefix}calls_total`) === undefined) register(registry, prefix, found)
    return found
  }
  const bounds = [...(buckets ?? DEFAULT_BUCKETS)].sort((a, b) => a - b)
  const bucketsOf = (outcome: Timed) => [
    ...bounds.map((le) => new SharedLabels({ outcome, le })),
    new SharedLabels({ outcome, le: '+Inf' }),
  ]
  const shared: Shared = {
    attached: new Map(),
    identities: new Map(),
    bounds,
    bucketLabels: { success: bucketsOf('success'), failure: bucketsOf('failure'), timeout: bucketsOf('timeout') },
  }
  register(registry, prefix, shared)
  byPrefix.set(prefix, shared)
  return shared
}

type MetricName = (typeof metricCatalogue)[number]['name']

/**
 * Registers a metric whose values are computed at scrape time (not kept in prom-client's
 * label-hashed store): its name, help, type and label names from the catalogue.
 */
const defineMetric = (
  registry: Registry,
  prefix: string,
  name: MetricName,
  series: (sink: SeriesSink) => void,
  text: ByteWriter,
  buckets?: ReadonlyArray<number>,
): void => {
  const entry = metricCatalogue.find((m) => m.name === name)
  const config = { name: prefix + name, help: entry?.help ?? name, labelNames: [...(entry?.labels ?? [])], registers: [registry] }
  const type = entry?.type ?? 'gauge'
  const metric =
    type === 'histogram'
      ? new Histogram({ ...config, buckets: [...(buckets ?? [])] })
      : type === 'counter'
        ? new Counter(config)
        : new Gauge(config)
  // The metric's name as it is now: an OpenMetrics registry renames a counter (`_total` off the
  // family, on every sample) before reading it; the name it was made with gave `_total_total`.
  const named = metric as unknown as { readonly name: string } // prom-client's types leave the field out
  const read = (sink: ValueSink | TextSink) => {
    series(sink)
    return { help: config.help, name: named.name, type, values: sink.values, aggregator: 'sum' }
  }
  // What the registry reads: labelled values for JSON, the text sink's one value for the text format where it serves;
  // and what `scrapeHandler` writes itself.
  const own: OwnSeries = { help: config.help, type, series }
  Object.assign(metric, {
    get: async () => read(new ValueSink()),
    getForPromString: async () =>
      read(textServes(registry) ? new TextSink(named.name, text, defaultLabelBytes(registry)) : new ValueSink()),
    [OWN_SERIES]: own,
  })
}

/** Registers the metrics of `shared` on `registry`, read at scrape time from the breakers attached to it. */
const register = (registry: Registry, prefix: string, shared: Shared): void => {
  const attached = shared.attached
  const snapshots = new ScrapeSnapshots()
  // Where `registry.metrics()` has each metric's text written (one metric at a time: prom-client
  // reads each metric's values in one synchronous call, and the text is copied out before the next).
  const text = new ByteWriter()
  /** A metric with series from each attached breaker (its snapshot read once per scrape). */
  const perBreaker = (name: MetricName, each: (t: Tally, breaker: Breaker, out: SeriesSink) => void, buckets?: ReadonlyArray<number>) =>
    defineMetric(
      registry,
      prefix,
      name,
      (out) => {
        attached.forEach((t, breaker) => {
          each(t, breaker, out)
        })
      },
      text,
      buckets,
    )
  /** A gauge of each breaker's snapshot; `null` leaves its series absent. */
  const gauge = (name: MetricName, value: (reading: Reading) => number | null) =>
    perBreaker(name, (t, breaker, out) => {
      const v = value(snapshots.of(breaker, t))
      if (v !== null) out.add(v, t.labels.base)
    })
  perBreaker('state', (t, breaker, out) => stateSeries(t, snapshots.of(breaker, t).state, out))
  gauge('admitted_ratio', (s) => s.admitRate)
  gauge('failure_rate_ratio', (s) => s.failureRate)
  gauge('failure_rate_threshold_ratio', (s) => s.failureRateThreshold)
  gauge('slow_call_rate_ratio', (s) => s.slowCallRate)
  gauge('consecutive_failures', (s) => s.consecutiveFailures)
  gauge('in_flight_calls', (s) => s.inFlight)
  perBreaker('part_figure', (t, breaker, out) => figureSeries(t, snapshots.of(breaker, t), out))
  gauge('open_until_timestamp_seconds', (s) => (s.state === 'open' && s.openUntil !== null ? s.openUntil / 1000 : null))
  // Counters are the tallies' totals, zeros too (present from attach: `increase()` sees the first).
  perBreaker('calls_total', (t, _, out) => {
    for (let i = 0; i < CALL_OUTCOMES.length; i++)
      out.addWith(t.calls[CALL_OUTCOMES[i] as CallOutcomeLabel], t.labels.base, OUTCOME_LABELS[i] as SharedLabels)
  })
  perBreaker('rejections_total', (t, _, out) => rejectionSeries(t, out))
  perBreaker('transitions_total', (t, _, out) => transitionSeries(t, out))
  const histogram = `${prefix}call_duration_seconds`
  const names: HistogramNames = { bucket: `${histogram}_bucket`, sum: `${histogram}_sum`, count: `${histogram}_count` }
  perBreaker('call_duration_seconds', (t, _, out) => durationSeries(t, shared, names, out), shared.bounds)
}

/** The labels every breaker's series of a kind share, after its own: made once, in the order of their lists. */
const STATE_LABELS = SharedLabels.each('state', PHASES)
const OUTCOME_LABELS = SharedLabels.each('outcome', CALL_OUTCOMES)
const REASON_LABELS = SharedLabels.each('reason', REJECT_REASONS)
const TIMED_LABELS: Readonly<Record<Timed, SharedLabels>> = {
  success: new SharedLabels({ outcome: 'success' }),
  failure: new SharedLabels({ outcome: 'failure' }),
  timeout: new SharedLabels({ outcome: 'timeout' }),
}

/** 1 for the phase the breaker is in, 0 for the others. */
const stateSeries = (t: Tally, state: string, out: SeriesSink): void => {
  for (let i = 0; i < PHASES.length; i++) out.addWith(PHASES[i] === state ? 1 : 0, t.labels.base, STATE_LABELS[i] as SharedLabels)
}

/** Every figure a part of the breaker reports. */
const figureSeries = (t: Tally, reading: Reading, out: SeriesSink): void => {
  const figures = reading.figures
  // Counted, not iterated: most breakers have none, and an iterator per breaker per scrape adds up.
  for (let i = 0; i < figures.length; i++) {
    const f = figures[i] as PartFigure
    const labels = t.labels.with(`figure:${f.part}:${f.index}:${f.kind}:${f.figure}`, () => ({
      part: f.part,
      index: String(f.index),
      kind: f.kind,
      figure: f.figure,
    }))
    out.add(f.value, labels)
  }
}

/** Rejections by reason: every built-in reason from attach, others once they happen. */
const rejectionSeries = (t: Tally, out: SeriesSink): void => {
  for (let i = 0; i < REJECT_REASONS.length; i++)
    out.addWith(t.rejections.get(REJECT_REASONS[i] as string) ?? 0, t.labels.base, REASON_LABELS[i] as SharedLabels)
  if (t.rejections.size === 0) return
  for (const [reason, n] of t.rejections)
    if (!(REJECT_REASONS as ReadonlyArray<string>).includes(reason))
      out.add(
        n,
        t.labels.with(`reason:${reason}`, () => ({ reason })),
      )
}

/** Transitions: a trip's and a recovery's from attach, others once they happen. */
const transitionSeries = (t: Tally, out: SeriesSink): void => {
  for (let i = 0; i < INITIAL_TRANSITIONS.length; i++)
    if (!t.transitions.has(INITIAL_KEYS[i] as string)) out.addWith(0, t.labels.base, INITIAL_LABELS[i] as SharedLabels)
  for (const tr of t.transitions.values()) out.add(tr.count, tr.set)
}

/** The duration histogram of each timed outcome that has settled calls: cumulative buckets, `+Inf`, sum and count. */
const durationSeries = (t: Tally, shared: Shared, names: HistogramNames, out: SeriesSink): void => {
  const bounds = shared.bounds.length
  const base = t.labels.base
  for (const outcome of TIMED) {
    const d = t.durations[outcome]
    if (d.count === 0) continue
    const buckets = shared.bucketLabels[outcome]
    let cumulative = 0
    for (let i = 0; i < bounds; i++) {
      cumulative += d.buckets[i] ?? 0
      out.addWith(cumulative, base, buckets[i] as SharedLabels, names.bucket)
    }
    out.addWith(d.count, base, buckets[bounds] as SharedLabels, names.bucket)
    out.addWith(d.sum, base, TIMED_LABELS[outcome], names.sum)
    out.addWith(d.count, base, TIMED_LABELS[outcome], names.count)
  }
}

/** The series names of the duration histogram, made once (a name made per series would be compared by content, and collected). */
interface HistogramNames {
  readonly bucket: string
  readonly sum: string
  readonly count: string
}

/** The settled-call outcomes that have a duration. */
const TIMED = ['success', 'failure', 'timeout'] as const

const time = (bounds: ReadonlyArray<number>, d: Durations, ms: number): void => {
  const seconds = ms / 1000
  d.sum += seconds
  d.count++
  for (let i = 0; i < bounds.length; i++) {
    if (seconds <= (bounds[i] ?? 0)) {
      d.buckets[i] = (d.buckets[i] ?? 0) + 1
      return
    }
  }
}

/** A transition's key in a tally. */
function transitionKey(t: { readonly from: string; readonly to: string; readonly reason: string }): string {
  return `${t.from}/${t.to}/${t.reason}`
}

const onTransition = (t: Tally, event: TransitionEvent): void => {
  if (event._tag !== 'StateChanged') return
  const id = transitionKey(event)
  const found = t.transitions.get(id)
  if (found !== undefined) found.count++
  else
    t.transitions.set(id, {
      set: t.labels.with(`transition:${id}`, () => ({ from: event.from, to: event.to, reason: event.reason })),
      count: 1,
    })
}

const durations = (bounds: number): Durations => ({ buckets: new Float64Array(bounds), sum: 0, count: 0 })

/**
 * Exports a breaker's (or every breaker of a group's) metrics to a prom-client registry; see
 * {@link metricCatalogue} for the names. Each breaker attached to one registry needs its own name
 * (and key, in a group): a second breaker of the same name throws an error naming it (one a group
 * adds later is left out, with a process warning), instead of merging both into one series. Breakers a group evicts leave the registry, so label
 * cardinality stays bounded by the group's size. `detach()` removes the source's series; while
 * detached, nothing runs per call.
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { createBreaker } from '@datapunk/breaker-runtime'
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
  // Everything checked before the registry is touched.
  checkSource('prometheusMetrics', source)
  checkOptions('prometheusMetrics', options)
  const prefix = options.prefix ?? 'breaker_'
  if (typeof prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix))
    throw new RangeError(`prometheusMetrics: prefix must be a valid metric name prefix, got "${String(prefix)}"`)
  const buckets = options.buckets === undefined ? undefined : checkBuckets('prometheusMetrics', options.buckets)
  const shared = sharedMetrics(checkRegistry('prometheusMetrics', options.registry ?? defaultRegistry), prefix, buckets)
  // A duplicate met while attaching fails the call; one a group adds later is warned about and left out.
  let attaching = true
  let duplicate: Error | undefined
  const watching = watchBreakers(source, {
    added: (breaker, key) => {
      if (shared.attached.has(breaker)) return
      const keyText = key === undefined ? '' : String(key)
      const identity = identityOf(breaker.name, keyText)
      if (shared.identities.has(identity)) {
        const error = duplicateError(breaker.name, keyText)
        if (attaching) duplicate ??= error
        else process.emitWarning(error.message, 'DuplicateBreakerName')
        return
      }
      shared.identities.set(identity, breaker)
      const t = new Tally(breaker.name, keyText, shared.bounds)
      t.subscription.add(breaker.countCalls(t))
      t.subscription.add(breaker.transitions$.subscribe((event) => onTransition(t, event)))
      shared.attached.set(breaker, t)
    },
    // Its series leave the registry at the next scrape: every value is computed from the attached breakers.
    removed: (breaker) => {
      const t = shared.attached.get(breaker)
      if (t === undefined) return
      t.subscription.unsubscribe()
      shared.attached.delete(breaker)
      shared.identities.delete(identityOf(t.name, t.key))
    },
  })
  attaching = false
  if (duplicate !== undefined) {
    watching.unsubscribe()
    throw duplicate
  }
  return { detach: () => watching.unsubscribe() }
}
