import { definitionLines, RUN_COLUMNS } from './definitions.js'
import type { Scenario } from './Scenario.js'
import type { Run, RunSummary } from './simulate.js'
import { median } from './stats.js'

const BARS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█']

/** A sparkline of values in [0, 1]. */
export const sparkline = (values: ReadonlyArray<number>): string =>
  values.map((v) => BARS[Math.min(BARS.length - 1, Math.max(0, Math.round(v * (BARS.length - 1))))] ?? ' ').join('')

const PHASE = { closed: '·', open: '█', 'half-open': '▒' } as const

const ms = (value: number | null): string =>
  value === null ? '-' : value >= 10_000 ? `${(value / 1000).toFixed(0)} s` : `${(value / 1000).toFixed(1)} s`

/**
 * The runs as text a person can read at a glance: per strategy, the share of requests admitted,
 * the error rate of what got through and the breaker's phase over time, under the upstream's
 * health; then a summary table.
 */
export const renderText = (scenario: Scenario, runs: ReadonlyArray<Run>, seed: number): string => {
  const lines: string[] = []
  const first = runs[0]
  lines.push(`${scenario.name} (seed ${seed}): ${scenario.description}`)
  if (first !== undefined) {
    const width = first.buckets.length
    // Labels never run into the charts: as wide as the longest (a name is cut at 36 characters), at least 24.
    const nameOf = (run: Run) => {
      const name = run.summary.strategy
      return name.length > 36 ? `${name.slice(0, 35)}…` : name
    }
    const labelWidth = Math.max(24, ...runs.map((run) => `${nameOf(run)}: upstream`.length + 2))
    const label = (text: string) => text.padEnd(labelWidth)
    lines.push(
      `${label('')}0 s${' '.repeat(Math.max(1, width - 3 - String(scenario.durationMs / 1000).length - 2))}${scenario.durationMs / 1000} s`,
    )
    for (const run of runs) {
      lines.push(`${label(`${nameOf(run)}: upstream`)}${run.buckets.map((b) => (b.upstreamDown ? '█' : '·')).join('')}`)
      lines.push(`${label('  admitted share')}${sparkline(run.buckets.map((b) => (b.requests === 0 ? 0 : b.admitted / b.requests)))}`)
      lines.push(`${label('  errors let through')}${sparkline(run.buckets.map((b) => (b.requests === 0 ? 0 : b.failed / b.requests)))}`)
      lines.push(`${label('  phase')}${run.buckets.map((b) => PHASE[b.phase]).join('')}`)
    }
    lines.push(`${label('')}upstream/phase: · healthy/closed  █ down/open  ▒ half-open`)
  }
  lines.push('')
  const header = ['strategy', ...RUN_COLUMNS]
  const rows = runs.map(({ summary: s }) => [
    s.strategy,
    `${(s.successRate * 100).toFixed(1)}%`,
    String(s.wasted),
    String(s.needless),
    ms(s.timeToDetectMs),
    ms(s.timeToFullMs),
    String(s.opens),
    String(s.oscillations),
    String(s.collapses),
    String(s.peakRecoveryRps),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const format = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')
  lines.push(format(header))
  for (const row of rows) lines.push(format(row))
  lines.push('')
  lines.push(...definitionLines(header))
  return lines.join('\n')
}

/**
 * One table for runs over several seeds: per strategy and metric, the median and, in brackets,
 * the smallest and largest value over the seeds. A time that did not happen in some seeds (never
 * detected, never back to full) counts those seeds after the median: `12 s [8 s-30 s] (3 never)`.
 */
export const renderSeedTable = (
  scenario: Scenario,
  bySeed: ReadonlyArray<ReadonlyArray<RunSummary>>,
  seeds: ReadonlyArray<number>,
): string => {
  const strategies = bySeed[0]?.map((r) => r.strategy) ?? []
  const spread = (values: ReadonlyArray<number>, format: (n: number) => string): string =>
    values.length === 0 ? '-' : `${format(median(values))} [${format(Math.min(...values))} to ${format(Math.max(...values))}]`
  const times = (values: ReadonlyArray<number | null>): string => {
    const known = values.filter((v): v is number => v !== null)
    const never = values.length - known.length
    return `${spread(known, (n) => ms(n))}${never > 0 ? ` (${never} never)` : ''}`
  }
  const header = ['strategy', 'success', 'wasted', 'needless', 'detect', 'lead', 'back to full', 'opens', 'collapses']
  const rows = strategies.map((name, i) => {
    const runs = bySeed.map((seedRuns) => seedRuns[i]).filter((x) => x !== undefined)
    return [
      name,
      spread(
        runs.map((r) => r.successRate * 100),
        (n) => `${n.toFixed(1)}%`,
      ),
      spread(
        runs.map((r) => r.wasted),
        (n) => String(Math.round(n)),
      ),
      spread(
        runs.map((r) => r.needless),
        (n) => String(Math.round(n)),
      ),
      times(runs.map((r) => r.timeToDetectMs)),
      times(runs.map((r) => r.leadTimeMs)),
      times(runs.map((r) => r.timeToFullMs)),
      spread(
        runs.map((r) => r.opens),
        (n) => String(Math.round(n)),
      ),
      spread(
        runs.map((r) => r.collapses),
        (n) => String(Math.round(n)),
      ),
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')
  const first = seeds[0] ?? 0
  const last = seeds[seeds.length - 1] ?? 0
  return [
    `${scenario.name}, ${seeds.length} seeds (${first}..${last}): ${scenario.description}`,
    'median [min to max] over the seeds',
    '',
    line(header),
    ...rows.map(line),
  ].join('\n')
}
