/**
 * The metrics the adapter exports: what `prometheusMetrics` registers, and what the docs, the
 * dashboard and the tests read.
 */

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
    name: 'part_figure',
    type: 'gauge',
    labels: ['breaker', 'key', 'part', 'index', 'kind', 'figure'],
    help: "Every other figure a part reports (a detector's, by its position in config order, or the recovery's while half-open): the EWMA, change-point, learned and throttle figures, and your own parts'",
  },
  {
    name: 'open_until_timestamp_seconds',
    type: 'gauge',
    labels: ['breaker', 'key'],
    help: "When an open breaker may admit a probe, on the breaker's clock (absent unless open for a duration)",
  },
] as const

/** Every label name the adapter's series carry (a registry's default label of one of these names is not added to them). */
export const LABEL_NAMES: ReadonlySet<string> = new Set(metricCatalogue.flatMap((m) => m.labels))
