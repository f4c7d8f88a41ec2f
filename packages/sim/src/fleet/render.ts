/**
 * The fleet model swept over fleet sizes, and its table and chart.
 */
import { escapeHtml, ticks, yTicks } from '../html.js'
import { type FleetModelOptions, type FleetRun, simulateFleet } from './simulateFleet.js'

/** One fleet size, alone and in fleet mode (medians over the seeds). */
export interface FleetSizeRow {
  /** The fleet's size. */
  readonly replicas: number
  /** Every replica deciding alone. */
  readonly local: FleetRun
  /** The same fleet in fleet mode. */
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
  faulty: runs[0]?.faulty ?? 0,
  firstOpenMs: median(runs.map((r) => r.firstOpenMs)),
  allOpenMs: median(runs.map((r) => r.allOpenMs)),
  wasted: median(runs.map((r) => r.wasted)) ?? 0,
  healthyRejected: median(runs.map((r) => r.healthyRejected)) ?? 0,
  healthyOpened: median(runs.map((r) => r.healthyOpened)) ?? 0,
  probes: runs.some((r) => r.probes === null) ? null : median(runs.map((r) => r.probes)),
  allClosedMs: median(runs.map((r) => r.allClosedMs)),
})

/** The fleet sizes the chart covers unless told otherwise. */
export const FLEET_SIZES = [1, 2, 5, 10, 20, 50, 100] as const

/**
 * Runs every fleet size alone and in fleet mode on the same seeds (medians). With `faulty`, the
 * fault hits that many replicas of each size (all of a smaller fleet).
 *
 * @example
 * import { sweepFleet } from '@datapunk/breaker-sim'
 * const [row] = sweepFleet([20], { seeds: [1], outageAtMs: 0 })
 * row.fleet.wasted < row.local.wasted // true
 */
export const sweepFleet = (
  sizes: ReadonlyArray<number> = FLEET_SIZES,
  options: Omit<FleetModelOptions, 'replicas' | 'shared' | 'seed'> & {
    readonly seeds?: ReadonlyArray<number>
    /** Told after each fleet simulated: how many are, of how many. */
    readonly onProgress?: (done: number, total: number) => void
  } = {},
): ReadonlyArray<FleetSizeRow> => {
  const { seeds = [1, 2, 3, 4, 5], onProgress, ...model } = options
  const total = sizes.length * seeds.length * 2
  let done = 0
  const simulated = (run: FleetModelOptions): FleetRun => {
    const result = simulateFleet(run)
    onProgress?.(++done, total)
    return result
  }
  return sizes.map((replicas) => {
    const run = { ...model, replicas, ...(model.faulty === undefined ? {} : { faulty: Math.min(model.faulty, replicas) }) }
    return {
      replicas,
      local: medianRun(seeds.map((seed) => simulated({ ...run, shared: false, seed }))),
      fleet: medianRun(seeds.map((seed) => simulated({ ...run, shared: true, seed }))),
    }
  })
}

const secondsText = (ms: number | null): string => (ms === null ? 'never' : `${(ms / 1000).toFixed(2)} s`)

/** The columns of the table: the healthy replicas' rejections only where some replicas are healthy, probes only with a recovery. */
const columnsOf = (rows: ReadonlyArray<FleetSizeRow>) => {
  const local = rows.some((r) => r.fleet.faulty < r.replicas)
  const recovery = rows.some((r) => r.fleet.probes !== null)
  const side = (name: 'alone' | 'fleet', pick: (r: FleetSizeRow) => FleetRun) =>
    [
      { title: `${name}: ${local ? 'faulty open' : 'all open'}`, cell: (r: FleetSizeRow) => secondsText(pick(r).allOpenMs) },
      { title: 'wasted', cell: (r: FleetSizeRow) => String(pick(r).wasted) },
      ...(local ? [{ title: 'healthy rejected', cell: (r: FleetSizeRow) => String(pick(r).healthyRejected) }] : []),
      ...(recovery ? [{ title: 'probes', cell: (r: FleetSizeRow) => String(pick(r).probes ?? '-') }] : []),
    ] as const
  return [...side('alone', (r) => r.local), ...side('fleet', (r) => r.fleet)]
}

/** The sweep as a text table. */
export const renderFleetText = (rows: ReadonlyArray<FleetSizeRow>): string => {
  const columns = columnsOf(rows)
  const widths = columns.map((c) => Math.max(c.title.length, ...rows.map((r) => c.cell(r).length)))
  const line = (cells: ReadonlyArray<string>, first: string) =>
    [first.padStart(8), ...cells.map((cell, i) => cell.padStart(widths[i] ?? 0))].join('  ')
  return [
    line(
      columns.map((c) => c.title),
      'replicas',
    ),
    ...rows.map((r) =>
      line(
        columns.map((c) => c.cell(r)),
        String(r.replicas),
      ),
    ),
  ].join('\n')
}

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
    const sizeLabels = rows
      .map((r) => `<text x="${x(r.replicas).toFixed(1)}" y="${H - P + 16}" font-size="10" text-anchor="middle">${r.replicas}</text>`)
      .join('')
    return `<h2>${escapeHtml(title)}</h2>
<svg class="chart" role="img" aria-label="${escapeHtml(title)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">
<line x1="${P}" y1="${H - P}" x2="${W - P}" y2="${H - P}" stroke="#555"/><line x1="${P}" y1="${P}" x2="${P}" y2="${H - P}" stroke="#555"/>
${yTicks(ticks(max, 4), (v) => y(v).toFixed(1), P, String)}
<text class="unit" x="${P}" y="${P - 10}" font-size="11">${unit === 's' ? 'seconds' : unit}</text>
<text x="${W / 2}" y="${H - 8}" font-size="11" text-anchor="middle">replicas</text>
${sizeLabels}${series('local', '#c62828')}${series('fleet', '#1565c0')}
</svg>`
  }
  const columns = columnsOf(rows)
  const tableRows = rows
    .map((r) => `<tr><th>${r.replicas}</th>${columns.map((c) => `<td>${escapeHtml(c.cell(r))}</td>`).join('')}</tr>`)
    .join('\n')
  const local = rows.some((r) => r.fleet.faulty < r.replicas)
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
${options.description === undefined ? '' : `<p>${escapeHtml(options.description)}</p>\n`}<p>Replicas calling one upstream that fails ${local ? 'for some of them only (a local fault: their own network path or deploy)' : 'for all of them'}; <span style="color:#c62828">red: each replica alone</span>, <span style="color:#1565c0">blue: fleet mode (the fleet protocol: shared evidence where replicas agree, trips, one recovery)</span>. Medians over the seeds; a fleet that never all opened is drawn at the horizon (${horizonMs / 1000} s).</p>
${chartOf(local ? 'Time until every faulty replica is open' : 'Time until every replica is open', 's', horizon)}
${chartOf(local ? 'Calls wasted on the fault until every faulty replica is open' : 'Calls wasted on the dead upstream until every replica is open', 'calls', (run) => run.wasted)}
${local ? chartOf('Good calls the healthy replicas rejected', 'calls', (run) => run.healthyRejected) : ''}
<table>
<thead><tr><th>replicas</th>${columns.map((c) => `<th>${escapeHtml(c.title)}</th>`).join('')}</tr></thead>
<tbody>
${tableRows}
</tbody>
</table>
</body>
</html>
`
}
