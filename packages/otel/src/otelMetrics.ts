/**
 * OpenTelemetry metrics for breakers, on `@opentelemetry/api`: the same figures as the Prometheus
 * adapter, as OTel instruments. Per call: one counter add (and a histogram record for settled
 * calls) with attribute objects built once per breaker; the snapshot figures are observable
 * gauges read at collection time from `inspect()` (a breaker that has stepped nothing since the
 * last collection is observed from the figures read then).
 */

import {
  type Breaker,
  type BreakerSource,
  type CallCounter,
  PHASES,
  Subscription,
  type TransitionEvent,
  watchBreakers,
} from '@datapunk/breaker-runtime'
import { checkBuckets, checkSource, emptyReading, kindOf, type ReadingHolder, refreshReading } from '@datapunk/breaker-runtime/internal'
import type { Attributes, Meter, ObservableGauge } from '@opentelemetry/api'

/** Options of {@link otelMetrics}. */
export interface OtelOptions {
  /** Where the instruments are created, e.g. `metrics.getMeter('payments-service')`. */
  readonly meter: Meter
  /** Prefix of every instrument name. Default `'breaker.'`. */
  readonly prefix?: string
  /** Bucket boundaries of the call duration histogram, in seconds (an advice to the SDK). */
  readonly buckets?: ReadonlyArray<number>
}

/** An attachment: `detach()` stops counting and stops reporting the source's gauges. */
export interface OtelAttachment {
  /** Stops counting and reporting the source's breakers (a second call does nothing). */
  detach(): void
}

/** Every instrument, by name without the prefix (attributes in OTel style: `breaker.name`, `breaker.key`, ...). */
export const instrumentCatalogue = [
  { name: 'calls', kind: 'counter', unit: '{call}', attributes: ['breaker.name', 'breaker.key', 'breaker.outcome'] },
  { name: 'rejections', kind: 'counter', unit: '{call}', attributes: ['breaker.name', 'breaker.key', 'breaker.rejection.reason'] },
  { name: 'call.duration', kind: 'histogram', unit: 's', attributes: ['breaker.name', 'breaker.key', 'breaker.outcome'] },
  {
    name: 'transitions',
    kind: 'counter',
    unit: '{transition}',
    attributes: ['breaker.name', 'breaker.key', 'breaker.state.from', 'breaker.state.to', 'breaker.transition.reason'],
  },
  { name: 'state', kind: 'gauge', unit: '1', attributes: ['breaker.name', 'breaker.key', 'breaker.state'] },
  { name: 'admitted_ratio', kind: 'gauge', unit: '1', attributes: ['breaker.name', 'breaker.key'] },
  { name: 'failure_rate', kind: 'gauge', unit: '1', attributes: ['breaker.name', 'breaker.key'] },
  { name: 'failure_rate.threshold', kind: 'gauge', unit: '1', attributes: ['breaker.name', 'breaker.key'] },
  { name: 'slow_call_rate', kind: 'gauge', unit: '1', attributes: ['breaker.name', 'breaker.key'] },
  { name: 'consecutive_failures', kind: 'gauge', unit: '{failure}', attributes: ['breaker.name', 'breaker.key'] },
  { name: 'calls.in_flight', kind: 'gauge', unit: '{call}', attributes: ['breaker.name', 'breaker.key'] },
  { name: 'open_until', kind: 'gauge', unit: 's', attributes: ['breaker.name', 'breaker.key'] },
  {
    name: 'part.figure',
    kind: 'gauge',
    unit: '1',
    attributes: ['breaker.name', 'breaker.key', 'breaker.part', 'breaker.part.index', 'breaker.part.kind', 'breaker.figure'],
  },
] as const

interface Attached extends ReadingHolder {
  readonly subscription: Subscription
  readonly base: Attributes
  /** Attribute sets by outcome, reason or transition: built once, reused on every call. */
  readonly sets: Map<string, Attributes>
}

type InstrumentName = (typeof instrumentCatalogue)[number]['name']

/** The instruments of one attachment. */
const instruments = (meter: Meter, prefix: string, buckets: ReadonlyArray<number> | undefined) => {
  const describe = (name: InstrumentName, description: string) => ({
    description,
    unit: instrumentCatalogue.find((i) => i.name === name)?.unit ?? '1',
  })
  const gauge = (name: InstrumentName, description: string): ObservableGauge =>
    meter.createObservableGauge(`${prefix}${name}`, describe(name, description))
  return {
    calls: meter.createCounter(
      `${prefix}calls`,
      describe('calls', 'Admitted calls by outcome: success, failure, timeout, cancelled, ignored'),
    ),
    rejections: meter.createCounter(
      `${prefix}rejections`,
      describe('rejections', 'Calls rejected without reaching the upstream, by reason'),
    ),
    transitions: meter.createCounter(`${prefix}transitions`, describe('transitions', 'Phase changes')),
    duration: meter.createHistogram(`${prefix}call.duration`, {
      ...describe('call.duration', 'Duration of settled calls'),
      ...(buckets === undefined ? {} : { advice: { explicitBucketBoundaries: [...buckets] } }),
    }),
    state: gauge('state', '1 for the phase the breaker is in, 0 for the others'),
    admitted: gauge('admitted_ratio', 'Share of requests admitted now'),
    failureRate: gauge('failure_rate', 'Failure rate in the window (not reported below minimumCalls)'),
    threshold: gauge('failure_rate.threshold', 'The failure rate at which the breaker trips (not reported if it does not trip on a rate)'),
    slowRate: gauge('slow_call_rate', 'Slow-call rate in the window (not reported where not tracked)'),
    consecutive: gauge('consecutive_failures', 'The current run of failures (not reported where not tracked)'),
    inFlight: gauge('calls.in_flight', 'Admitted calls not yet settled'),
    openUntil: gauge('open_until', "When an open breaker may admit a probe, on the breaker's clock"),
    figure: gauge('part.figure', "Every other figure a part reports (a detector's by position, or the recovery's): yours too"),
  }
}
type Instruments = ReturnType<typeof instruments>

/** The attribute set `id` of a breaker: built once, reused on every call. */
const setOf = (a: Attached, id: string, extra: Attributes): Attributes => {
  let found = a.sets.get(id)
  if (found === undefined) {
    found = { ...a.base, ...extra }
    a.sets.set(id, found)
  }
  return found
}

/** Counts one breaker's calls (see `Breaker.countCalls`: no event object per call). */
const counterOf = (i: Instruments, a: Attached): CallCounter => ({
  settled: (outcome, latencyMs) => {
    const set = setOf(a, outcome, { 'breaker.outcome': outcome })
    i.calls.add(1, set)
    if (latencyMs !== null && (outcome === 'success' || outcome === 'failure' || outcome === 'timeout'))
      i.duration.record(latencyMs / 1000, set)
  },
  rejected: (reason) => {
    i.rejections.add(1, setOf(a, `r:${reason}`, { 'breaker.rejection.reason': reason }))
  },
})

const onTransition = (i: Instruments, a: Attached, event: TransitionEvent): void => {
  if (event._tag !== 'StateChanged') return
  const id = `t:${event.from}:${event.to}:${event.reason}`
  i.transitions.add(
    1,
    setOf(a, id, { 'breaker.state.from': event.from, 'breaker.state.to': event.to, 'breaker.transition.reason': event.reason }),
  )
}

type Observer = { observe(gauge: ObservableGauge, value: number, attributes?: Attributes): void }

/** Observes one breaker's gauges from its figures now (those of the last collection while it has stepped nothing since). */
const observeOne = (i: Instruments, result: Observer, breaker: Breaker, a: Attached): void => {
  const s = refreshReading(breaker, a)
  for (const phase of PHASES) result.observe(i.state, phase === s.state ? 1 : 0, setOf(a, `s:${phase}`, { 'breaker.state': phase }))
  result.observe(i.admitted, s.admitRate, a.base)
  result.observe(i.inFlight, s.inFlight, a.base)
  if (s.failureRate !== null) result.observe(i.failureRate, s.failureRate, a.base)
  if (s.failureRateThreshold !== null) result.observe(i.threshold, s.failureRateThreshold, a.base)
  if (s.slowCallRate !== null) result.observe(i.slowRate, s.slowCallRate, a.base)
  if (s.consecutiveFailures !== null) result.observe(i.consecutive, s.consecutiveFailures, a.base)
  if (s.state === 'open' && s.openUntil !== null) result.observe(i.openUntil, s.openUntil / 1000, a.base)
  for (const f of s.figures) {
    const attributes = setOf(a, `f:${f.part}:${f.index}:${f.kind}:${f.figure}`, {
      'breaker.part': f.part,
      'breaker.part.index': f.index,
      'breaker.part.kind': f.kind,
      'breaker.figure': f.figure,
    })
    result.observe(i.figure, f.value, attributes)
  }
}

/** Names (and keys) attached to a meter, by instrument prefix: one breaker each. */
const identitiesByMeter = new WeakMap<Meter, Map<string, Map<string, Breaker>>>()

/** The error for a breaker whose name and key another breaker attached to the same meter already has. */
const duplicateError = (name: string, key: string): Error =>
  new Error(
    `otelMetrics: a breaker named "${name}"${key === '' ? '' : ` with key "${key}"`} is already attached to this meter: ` +
      'their counts would merge into one series. Give each breaker its own name (createBreaker(strategy, { name })).',
  )

/**
 * Reports a breaker's (or every breaker of a group's) metrics through an OpenTelemetry meter;
 * see {@link instrumentCatalogue}. Each breaker attached to one meter needs its own name (and key,
 * in a group): a second one of the same name throws an error naming it (one a group adds later is
 * left out, with a process warning), instead of merging both into one series. Breakers a group
 * evicts stop being observed at once; the
 * counters they fed stay in the SDK's cumulative state (OTel has no way to delete a series), so
 * bound an SDK's cardinality with its own limits when keys churn.
 *
 * @example
 * import { metrics } from '@opentelemetry/api'
 * import { circuit } from '@datapunk/breaker'
 * import { createBreaker } from '@datapunk/breaker-runtime'
 * import { otelMetrics } from '@datapunk/breaker-otel'
 * const breaker = createBreaker(circuit({ name: 'payments', trip: { kind: 'consecutive-failures', threshold: 5 } }))
 * const attachment = otelMetrics(breaker, { meter: metrics.getMeter('payments-service') })
 * typeof attachment.detach // 'function'
 * attachment.detach()
 */
export const otelMetrics = <K>(source: BreakerSource<K>, options: OtelOptions): OtelAttachment => {
  // Everything checked before an instrument is made.
  checkSource('otelMetrics', source)
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`otelMetrics: expected options with a meter, got ${kindOf(options)}`)
  const { meter } = options
  const given = meter as Partial<Meter> | undefined
  if (
    typeof given !== 'object' ||
    given === null ||
    typeof given.createCounter !== 'function' ||
    typeof given.createHistogram !== 'function'
  )
    throw new TypeError(`otelMetrics: meter must be an OpenTelemetry Meter (metrics.getMeter(name)), got ${kindOf(given)}`)
  const prefix = options.prefix ?? 'breaker.'
  if (typeof prefix !== 'string') throw new TypeError(`otelMetrics: prefix must be a string, got ${typeof prefix}`)
  const i = instruments(meter, prefix, options.buckets === undefined ? undefined : checkBuckets('otelMetrics', options.buckets))
  const attached = new Map<Breaker, Attached>()
  // Names (and keys) in use on this meter under this prefix, by any attachment.
  const byPrefix = identitiesByMeter.get(meter) ?? new Map<string, Map<string, Breaker>>()
  identitiesByMeter.set(meter, byPrefix)
  const identities = byPrefix.get(prefix) ?? new Map<string, Breaker>()
  byPrefix.set(prefix, identities)
  // A duplicate met while attaching fails the call; one a group adds later is warned about and left out.
  let attaching = true
  let duplicate: Error | undefined
  const observe = (result: Observer): void => {
    for (const [breaker, a] of attached) observeOne(i, result, breaker, a)
  }
  const gauges = [i.state, i.admitted, i.failureRate, i.threshold, i.slowRate, i.consecutive, i.inFlight, i.openUntil, i.figure]
  meter.addBatchObservableCallback(observe, gauges)

  const watching = watchBreakers(source, {
    added: (breaker, key) => {
      if (attached.has(breaker)) return
      const identity = `${breaker.name}\u0000${key === undefined ? '' : String(key)}`
      const holder = identities.get(identity)
      if (holder !== undefined && holder !== breaker) {
        const error = duplicateError(breaker.name, key === undefined ? '' : String(key))
        if (attaching) duplicate ??= error
        else process.emitWarning(error.message, 'DuplicateBreakerName')
        return
      }
      identities.set(identity, breaker)
      const base: Attributes =
        key === undefined ? { 'breaker.name': breaker.name } : { 'breaker.name': breaker.name, 'breaker.key': String(key) }
      const a: Attached = { subscription: new Subscription(), base, sets: new Map(), reading: emptyReading(), readRevision: undefined }
      // Outcomes only: the admissions, which no instrument counts, are not even built.
      a.subscription.add(breaker.countCalls(counterOf(i, a)))
      a.subscription.add(breaker.transitions$.subscribe((event) => onTransition(i, a, event)))
      attached.set(breaker, a)
    },
    removed: (breaker, key) => {
      const a = attached.get(breaker)
      if (a === undefined) return
      a.subscription.unsubscribe()
      attached.delete(breaker)
      identities.delete(`${breaker.name}\u0000${key === undefined ? '' : String(key)}`)
    },
  })
  attaching = false
  if (duplicate !== undefined) {
    watching.unsubscribe()
    meter.removeBatchObservableCallback(observe, gauges)
    throw duplicate
  }
  return {
    detach: () => {
      watching.unsubscribe()
      meter.removeBatchObservableCallback(observe, gauges)
    },
  }
}
