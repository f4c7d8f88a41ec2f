/**
 * The fleet model: N replicas of a client service share one upstream, each request going to one
 * replica at random, each replica with its own breaker. Alone, a replica decides on the calls it
 * sees; in fleet mode (what `@datapunk/breaker-redis` does) it also absorbs the other replicas'
 * window counts every `syncMs` and opens when another replica publishes a trip (at its next sync). The upstream
 * fails a little while healthy, then dies at `outageAtMs`: the model measures how long until the
 * first and the last replica open, and how many calls the fleet wasted on the dead upstream until
 * all were open. Deterministic: the same options give the same numbers.
 */
import {
  BreakerEvent,
  type CircuitConfigInput,
  circuit,
  type Decision,
  type Evidence,
  mergeEvidence,
  type Strategy,
} from '@datapunk/breaker'
import { seeded } from './Random.js'

/** Options of {@link simulateFleet}. */
export interface FleetModelOptions {
  /** Replicas in the fleet: 1 to 1000. */
  readonly replicas: number
  /** Fleet mode (shared evidence and trips) or every replica alone. */
  readonly shared: boolean
  /** The strategy every replica runs. Default: `circuit(FLEET_DEFAULT_CONFIG)`. Only what it shares (`Strategy.share`) crosses replicas. */
  readonly strategy?: Strategy<unknown>
  /** Requests per second across the fleet (Poisson arrivals). Default 200. */
  readonly rps?: number
  /** How often a replica syncs its evidence (staggered across replicas). Default 250. */
  readonly syncMs?: number
  /** How long a published trip takes to reach the others (it is published at the replica's next sync). Default 2. */
  readonly publishDelayMs?: number
  /** The upstream's failure rate while healthy. Default 0.01. */
  readonly baselineFailureRate?: number
  /** When the upstream dies (the replicas' windows fill with healthy traffic before). Default 20,000. */
  readonly outageAtMs?: number
  /** How long after the outage to keep simulating (replicas still closed then never opened). Default 60,000. */
  readonly horizonMs?: number
  /** Call latency. Default 5. */
  readonly latencyMs?: number
  readonly seed?: number
}

/** What one fleet run measured, from the moment the upstream died. */
export interface FleetRun {
  readonly replicas: number
  readonly shared: boolean
  /** Until the first replica opened (`null`: none did within the horizon). */
  readonly firstOpenMs: number | null
  /** Until every replica was open (`null`: some never opened within the horizon). */
  readonly allOpenMs: number | null
  /** Calls that reached the dead upstream until every replica was open (or the horizon). */
  readonly wasted: number
}

/** The config of the fleet model's replicas unless told otherwise. */
export const FLEET_DEFAULT_CONFIG: CircuitConfigInput = {
  trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 20, window: { kind: 'time', durationMs: 10_000, buckets: 10 } },
  openFor: { kind: 'constant', ms: 600_000 },
}

let fleetDefault: Strategy<unknown> | undefined
const defaultStrategy = (): Strategy<unknown> => {
  fleetDefault ??= circuit(FLEET_DEFAULT_CONFIG) as Strategy<unknown>
  return fleetDefault
}

const exponential = (random: () => number, mean: number): number => -Math.log(1 - random()) * mean

/**
 * Simulates one fleet.
 *
 * @example
 * import { simulateFleet } from '@datapunk/breaker-sim'
 * // The upstream is dead from the first call: each replica alone needs minimumCalls (20) failures.
 * const alone = simulateFleet({ replicas: 50, shared: false, outageAtMs: 0, seed: 1 })
 * const fleet = simulateFleet({ replicas: 50, shared: true, outageAtMs: 0, seed: 1 })
 * alone.wasted >= 1000 // true
 * fleet.wasted < 100 // true
 */
export const simulateFleet = (options: FleetModelOptions): FleetRun => {
  const n = options.replicas
  if (!(Number.isInteger(n) && n >= 1 && n <= 1000)) throw new RangeError(`simulateFleet: replicas must be 1 to 1000, got ${n}`)
  const rps = options.rps ?? 200
  const syncMs = options.syncMs ?? 250
  const publishDelayMs = options.publishDelayMs ?? 2
  const baseline = options.baselineFailureRate ?? 0.01
  const outageAt = options.outageAtMs ?? 20_000
  const horizon = outageAt + (options.horizonMs ?? 60_000)
  const latency = options.latencyMs ?? 5
  if (!(rps > 0 && syncMs >= 1 && publishDelayMs >= 0 && baseline >= 0 && baseline <= 1 && outageAt >= 0 && latency >= 0))
    throw new RangeError(
      'simulateFleet: rps and syncMs must be positive; delays, latency and outageAtMs non-negative; the baseline in [0, 1]',
    )
  const random = seeded(options.seed ?? 1)
  const strategy = options.strategy ?? defaultStrategy()
  const states: unknown[] = Array.from({ length: n }, () => strategy.initial(0))
  const open: Array<number | null> = Array.from({ length: n }, () => null)
  let openCount = 0
  const shares: ReadonlyArray<Evidence>[] = Array.from({ length: n }, () => [])
  // Timed events: outcomes (in arrival order: latency is constant), syncs, published trips.
  const outcomes: Array<{ at: number; replica: number; ticket: Decision; failed: boolean }> = []
  let nextOutcome = 0
  const trips: Array<{ at: number; from: number }> = []
  let nextTrip = 0
  const nextSync = Array.from({ length: n }, (_, i) => (syncMs * (i + 0.5)) / n)
  let wasted = 0

  const step = (i: number, event: BreakerEvent, now: number): Decision => {
    const wasOpen = strategy.inspect(states[i]).state === 'open'
    const [next, decision] = strategy.step(states[i], event, now)
    states[i] = next
    const snap = strategy.inspect(next)
    if (!wasOpen && snap.state === 'open' && open[i] === null && now >= outageAt) {
      open[i] = now
      openCount++
      // Published by the replica's next sync round, kept in time order.
      if (options.shared && snap.reason !== 'peer-tripped') {
        const at = (nextSync[i] ?? now) + publishDelayMs
        let k = trips.length
        while (k > nextTrip && (trips[k - 1]?.at ?? 0) > at) k--
        trips.splice(k, 0, { at, from: i })
      }
    }
    return decision
  }
  const sync = (i: number, now: number): void => {
    step(i, BreakerEvent.ticked(), now)
    shares[i] = strategy.share?.(states[i]) ?? []
    const others: Evidence[] = []
    for (let j = 0; j < n; j++) if (j !== i) others.push(...(shares[j] ?? []))
    step(i, BreakerEvent.evidence(mergeEvidence(others)), now)
  }

  let now = 0
  let arrival = exponential(random, 1000 / rps)
  while (openCount < n) {
    // The next thing to happen: an arrival, an outcome, a sync or a published trip.
    let syncAt = Number.POSITIVE_INFINITY
    let syncer = -1
    if (options.shared)
      for (let i = 0; i < n; i++)
        if ((nextSync[i] ?? Number.POSITIVE_INFINITY) < syncAt) {
          syncAt = nextSync[i] ?? Number.POSITIVE_INFINITY
          syncer = i
        }
    const outcomeAt = outcomes[nextOutcome]?.at ?? Number.POSITIVE_INFINITY
    const tripAt = trips[nextTrip]?.at ?? Number.POSITIVE_INFINITY
    now = Math.min(arrival, outcomeAt, syncAt, tripAt)
    if (now > horizon) break
    if (now === outcomeAt) {
      const o = outcomes[nextOutcome++]
      if (o === undefined) break
      if (o.ticket._tag === 'Admitted')
        step(o.replica, o.failed ? BreakerEvent.failed(o.ticket, latency) : BreakerEvent.succeeded(o.ticket, latency), now)
    } else if (now === tripAt) {
      const t = trips[nextTrip++]
      for (let i = 0; i < n; i++) if (i !== t?.from) step(i, BreakerEvent.peerTripped(), now)
    } else if (now === syncAt) {
      sync(syncer, now)
      nextSync[syncer] = now + syncMs
    } else {
      const replica = Math.min(n - 1, Math.floor(random() * n))
      const failed = arrival >= outageAt || random() < baseline
      const decision = step(replica, BreakerEvent.requested(), now)
      if (decision._tag === 'Admitted') {
        if (arrival >= outageAt) wasted++
        outcomes.push({ at: now + latency, replica, ticket: decision, failed })
      }
      arrival = now + exponential(random, 1000 / rps)
    }
  }
  const times = open.map((t) => (t === null ? null : t - outageAt))
  const opened = times.filter((t): t is number => t !== null)
  return {
    replicas: n,
    shared: options.shared,
    firstOpenMs: opened.length === 0 ? null : Math.min(...opened),
    allOpenMs: opened.length < n ? null : Math.max(...opened),
    wasted,
  }
}

/** One fleet size, alone and in fleet mode (medians over the seeds). */
export interface FleetSizeRow {
  readonly replicas: number
  readonly local: FleetRun
  readonly fleet: FleetRun
}

const median = (values: ReadonlyArray<number | null>): number | null => {
  if (values.some((v) => v === null)) {
    // A run that never opened counts as the longest: the median is null if half or more never did.
    const nulls = values.filter((v) => v === null).length
    if (nulls * 2 >= values.length) return null
  }
  const sorted = values.map((v) => v ?? Number.POSITIVE_INFINITY).sort((a, b) => a - b)
  const mid = sorted[Math.floor((sorted.length - 1) / 2)] ?? null
  return mid === Number.POSITIVE_INFINITY ? null : mid
}

const medianRun = (runs: ReadonlyArray<FleetRun>): FleetRun => ({
  replicas: runs[0]?.replicas ?? 0,
  shared: runs[0]?.shared ?? false,
  firstOpenMs: median(runs.map((r) => r.firstOpenMs)),
  allOpenMs: median(runs.map((r) => r.allOpenMs)),
  wasted: median(runs.map((r) => r.wasted)) ?? 0,
})

/** The fleet sizes the chart covers unless told otherwise. */
export const FLEET_SIZES = [1, 2, 5, 10, 20, 50, 100] as const

/**
 * Runs every fleet size alone and in fleet mode on the same seeds (medians).
 *
 * @example
 * import { sweepFleet } from '@datapunk/breaker-sim'
 * const [row] = sweepFleet([20], { seeds: [1], outageAtMs: 0 })
 * row.fleet.wasted < row.local.wasted // true
 */
export const sweepFleet = (
  sizes: ReadonlyArray<number> = FLEET_SIZES,
  options: Omit<FleetModelOptions, 'replicas' | 'shared' | 'seed'> & { readonly seeds?: ReadonlyArray<number> } = {},
): ReadonlyArray<FleetSizeRow> => {
  const seeds = options.seeds ?? [1, 2, 3, 4, 5]
  return sizes.map((replicas) => ({
    replicas,
    local: medianRun(seeds.map((seed) => simulateFleet({ ...options, replicas, shared: false, seed }))),
    fleet: medianRun(seeds.map((seed) => simulateFleet({ ...options, replicas, shared: true, seed }))),
  }))
}

const secondsText = (ms: number | null): string => (ms === null ? 'never' : `${(ms / 1000).toFixed(2)} s`)

/** The sweep as a text table. */
export const renderFleetText = (rows: ReadonlyArray<FleetSizeRow>): string => {
  const header = `${'replicas'.padStart(8)}  ${'alone: all open'.padStart(16)}  ${'wasted'.padStart(7)}  ${'fleet: all open'.padStart(16)}  ${'wasted'.padStart(7)}`
  const lines = rows.map(
    (r) =>
      `${String(r.replicas).padStart(8)}  ${secondsText(r.local.allOpenMs).padStart(16)}  ${String(r.local.wasted).padStart(7)}  ${secondsText(r.fleet.allOpenMs).padStart(16)}  ${String(r.fleet.wasted).padStart(7)}`,
  )
  return [header, ...lines].join('\n')
}

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c)

/**
 * The sweep as a self-contained HTML page: two charts against fleet size (log scale), time until
 * every replica is open and calls wasted on the dead upstream, alone (red) and in fleet mode
 * (blue); then the table. A replica count that never all opened is drawn at the horizon.
 */
export const renderFleetHtml = (
  rows: ReadonlyArray<FleetSizeRow>,
  options: { readonly description?: string; readonly horizonMs?: number } = {},
): string => {
  const horizonMs = options.horizonMs ?? 60_000
  const W = 640
  const H = 260
  const P = 48
  const maxReplicas = Math.max(2, ...rows.map((r) => r.replicas))
  const x = (replicas: number) => P + (Math.log(replicas) / Math.log(maxReplicas)) * (W - 2 * P)
  const chartOf = (title: string, unit: string, value: (run: FleetRun) => number) => {
    const max = Math.max(1, ...rows.flatMap((r) => [value(r.local), value(r.fleet)]))
    const y = (v: number) => H - P - (v / max) * (H - 2 * P)
    const series = (name: 'local' | 'fleet', color: string) => {
      const points = rows.map((r) => `${x(r.replicas).toFixed(1)},${y(value(r[name])).toFixed(1)}`)
      const dots = rows
        .map(
          (r) =>
            `<circle cx="${x(r.replicas).toFixed(1)}" cy="${y(value(r[name])).toFixed(1)}" r="3" fill="${color}"><title>${r.replicas} replicas, ${name === 'local' ? 'alone' : 'fleet mode'}: ${value(r[name]).toFixed(name === 'local' && unit === 's' ? 2 : 0)} ${unit}</title></circle>`,
        )
        .join('')
      return `<polyline class="series series-${name}" fill="none" stroke="${color}" stroke-width="2" points="${points.join(' ')}"/>${dots}`
    }
    const ticks = rows
      .map((r) => `<text x="${x(r.replicas).toFixed(1)}" y="${H - P + 16}" font-size="10" text-anchor="middle">${r.replicas}</text>`)
      .join('')
    return `<h2>${escapeHtml(title)}</h2>
<svg class="chart" role="img" aria-label="${escapeHtml(title)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">
<line x1="${P}" y1="${H - P}" x2="${W - P}" y2="${H - P}" stroke="#555"/><line x1="${P}" y1="${P}" x2="${P}" y2="${H - P}" stroke="#555"/>
<text x="${P - 4}" y="${P + 4}" font-size="10" text-anchor="end">${max.toFixed(unit === 's' ? 1 : 0)} ${unit}</text>
<text x="${P - 4}" y="${H - P + 4}" font-size="10" text-anchor="end">0</text>
<text x="${W / 2}" y="${H - 8}" font-size="11" text-anchor="middle">replicas</text>
${ticks}${series('local', '#c62828')}${series('fleet', '#1565c0')}
</svg>`
  }
  const tableRows = rows
    .map(
      (r) =>
        `<tr><th>${r.replicas}</th><td>${secondsText(r.local.firstOpenMs)}</td><td>${secondsText(r.local.allOpenMs)}</td><td>${r.local.wasted}</td><td>${secondsText(r.fleet.firstOpenMs)}</td><td>${secondsText(r.fleet.allOpenMs)}</td><td>${r.fleet.wasted}</td></tr>`,
    )
    .join('\n')
  const horizon = (run: FleetRun) => (run.allOpenMs ?? horizonMs) / 1000
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Datapunk Breaker: fleet mode against fleet size</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin-top: 16px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
</style>
</head>
<body>
<h1>Fleet mode against fleet size</h1>
${options.description === undefined ? '' : `<p>${escapeHtml(options.description)}</p>\n`}<p>Replicas calling one upstream that dies; <span style="color:#c62828">red: each replica alone</span>, <span style="color:#1565c0">blue: fleet mode (shared evidence and trips)</span>. Medians over the seeds; a fleet that never all opened is drawn at the horizon (${horizonMs / 1000} s).</p>
${chartOf('Time until every replica is open', 's', horizon)}
${chartOf('Calls wasted on the dead upstream until every replica is open', 'calls', (run) => run.wasted)}
<table>
<thead><tr><th>replicas</th><th>alone: first open</th><th>alone: all open</th><th>alone: wasted</th><th>fleet: first open</th><th>fleet: all open</th><th>fleet: wasted</th></tr></thead>
<tbody>
${tableRows}
</tbody>
</table>
</body>
</html>
`
}
