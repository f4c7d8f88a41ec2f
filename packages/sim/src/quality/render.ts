/** The quality matrix as text for a terminal and as a self-contained HTML heat map. */
import { escapeHtml, page } from '../html.js'
import type { CellLine, QualityMatrix, RowSummary } from './matrix.js'

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`
const points = (x: number): string => `${x >= 0.05 ? '+' : x <= -0.05 ? '' : ' '}${(Math.abs(x) < 0.05 ? 0 : x).toFixed(1)}`
const seedRange = (seeds: ReadonlyArray<number>): string => {
  const first = seeds[0]
  const last = seeds[seeds.length - 1]
  const contiguous = seeds.every((s, i) => s === (first ?? 0) + i)
  return contiguous && first !== undefined && last !== undefined && seeds.length > 1 ? `${first}..${last}` : seeds.join(',')
}

/** Lays out rows of cells as aligned columns: the first `left` columns flush left, the rest right. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, left = 1): string[] => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const format = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, i) => (i < left ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()
  return [format(header), ...rows.map(format)]
}

/** The definitions every rendering of the matrix carries. */
export const DEFINITIONS: ReadonlyArray<readonly [string, string]> = [
  ['success', 'share of all requests answered successfully'],
  ['delta', "a strategy's success minus the baseline's on the same seed, in percentage points: median over the seeds [worst seed]"],
  [
    'oracle',
    "a policy that knows the upstream's truth (down or not, its failure probability, its capacity and load) and admits a request iff the upstream is up, could serve it, and stays within its capacity: the most goodput a breaker can get on the same draws",
  ],
  ['oracle share', "a strategy's successful calls over the oracle's on the same seed (median over the seeds)"],
  ['needless', "rejected requests that would have succeeded, given the upstream's state and load at that moment (any error level)"],
  ['caller time lost', 'seconds callers spent waiting on calls that failed (their latency, or the timeout of a hung upstream)'],
  ['false trips', 'trips per simulated day on a noise cell, where nothing justifies a trip'],
  ['half', 'train: cells defaults and tuned configs are chosen on; test: cells they are reported on'],
]

const summaryRows = (summary: ReadonlyArray<RowSummary>): string[][] =>
  summary.map((s) => [
    s.name,
    points(s.medianCellDelta),
    `${points(s.worstCell.delta)} ${s.worstCell.id}`,
    `${points(s.worstSeed.delta)} ${s.worstSeed.id}`,
    String(s.cellsLost),
    String(s.cellsWon),
    pct(s.medianOracleShare),
    `${pct(s.worstOracleShare.share)} ${s.worstOracleShare.id}`,
    s.falseTripsPerDay.perDay === 0 ? '0' : `${s.falseTripsPerDay.perDay.toFixed(0)} ${s.falseTripsPerDay.id}`,
    String(s.collapses),
  ])

const SUMMARY_HEADER = [
  'strategy',
  'median cell',
  'worst cell',
  'worst seed',
  'lost >2',
  'won >2',
  'oracle share',
  'worst oracle share',
  'false trips/day (worst noise cell)',
  'collapses',
]

/**
 * The matrix for a terminal: per cell, each strategy's delta to the baseline (median [worst
 * seed]); per cell, each strategy's share of the oracle; then one summary line per strategy
 * (worst cell, median cell, worst seed, cells lost and won by more than 2 points, oracle share,
 * false trips) and the definitions.
 */
export const renderQualityText = (matrix: QualityMatrix): string => {
  const others = matrix.rows.map((name, r) => ({ name, r })).filter(({ name }) => name !== matrix.baseline)
  const base = matrix.rows.indexOf(matrix.baseline)
  const lines: string[] = [
    `Quality matrix: ${matrix.rows.length} strategies on ${matrix.cells.length} cells of the scenario space, seeds ${seedRange(matrix.seeds)}`,
    '',
    `Success against ${matrix.baseline}, in points: median over the seeds [worst seed]`,
  ]
  const cellHead = (c: CellLine) => [c.id, c.half, pct(c.oracleSuccess), pct(c.rows[base]?.success ?? 0)]
  lines.push(
    ...table(
      ['cell', 'half', 'oracle', matrix.baseline, ...others.map((o) => o.name)],
      matrix.cells.map((c) => [
        ...cellHead(c),
        ...others.map(({ r }) => {
          const row = c.rows[r]
          return row === undefined ? '-' : `${points(row.delta)} [${points(row.deltaWorst).trim()}]`
        }),
      ]),
      2,
    ),
  )
  lines.push('', 'Share of the oracle (median over the seeds)')
  lines.push(
    ...table(
      ['cell', ...matrix.rows],
      matrix.cells.map((c) => [c.id, ...matrix.rows.map((_, r) => pct(c.rows[r]?.oracleShare ?? 0))]),
    ),
  )
  lines.push('', `Summary (deltas against ${matrix.baseline}, in points)`)
  lines.push(...table(SUMMARY_HEADER, summaryRows(matrix.summary)))
  lines.push('')
  for (const [term, meaning] of DEFINITIONS) lines.push(`${term}: ${meaning}`)
  return lines.join('\n')
}

/**
 * The matrix as Markdown (what bench/quality/RESULTS.md holds): the summary, then per cell each
 * strategy's delta to the baseline (median [worst seed]) and the oracle's success, then the
 * shares of the oracle.
 */
export const renderQualityMarkdown = (matrix: QualityMatrix): string => {
  const md = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string[] => [
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`),
  ]
  const base = matrix.rows.indexOf(matrix.baseline)
  const others = matrix.rows.map((name, r) => ({ name, r })).filter(({ r }) => r !== base)
  return [
    `${matrix.rows.length} strategies on ${matrix.cells.length} cells, seeds ${seedRange(matrix.seeds)}; deltas against ${matrix.baseline} in points.`,
    '',
    '### Summary',
    '',
    ...md(SUMMARY_HEADER, summaryRows(matrix.summary)),
    '',
    `### Success against ${matrix.baseline}, per cell: median over the seeds [worst seed]`,
    '',
    ...md(
      ['cell', 'half', 'oracle', matrix.baseline, ...others.map((o) => o.name)],
      matrix.cells.map((c) => [
        c.id,
        c.half,
        pct(c.oracleSuccess),
        pct(c.rows[base]?.success ?? 0),
        ...others.map(({ r }) => {
          const row = c.rows[r]
          return row === undefined ? '-' : `${points(row.delta).trim()} [${points(row.deltaWorst).trim()}]`
        }),
      ]),
    ),
    '',
    '### Share of the oracle, per cell (median over the seeds)',
    '',
    ...md(
      ['cell', ...matrix.rows],
      matrix.cells.map((c) => [c.id, ...matrix.rows.map((_, r) => pct(c.rows[r]?.oracleShare ?? 0))]),
    ),
    '',
  ].join('\n')
}

// ---- HTML --------------------------------------------------------------------------------------

/** A diverging colour for a delta in points: red below 0, green above, white at 0, saturated at 20. */
const deltaColour = (delta: number): string => {
  const t = Math.min(1, Math.abs(delta) / 20)
  const to = (full: number) => Math.round(255 - (255 - full) * t)
  return delta < 0 ? `rgb(255,${to(90)},${to(90)})` : `rgb(${to(80)},${to(200)},${to(110)})`
}

/** A sequential colour for a share of the oracle: white at 1, dark orange at 0.5 or less. */
const shareColour = (share: number): string => {
  const t = Math.max(0, Math.min(1, (1 - share) * 2))
  return `rgb(255,${Math.round(255 - 125 * t)},${Math.round(255 - 215 * t)})`
}

const heatTable = (
  matrix: QualityMatrix,
  title: string,
  columns: ReadonlyArray<number>,
  cellOf: (line: CellLine, r: number) => { readonly text: string; readonly colour: string; readonly tip: string },
): string => {
  const head = columns.map((r) => `<th class="rot"><div>${escapeHtml(matrix.rows[r] ?? '')}</div></th>`).join('')
  const body = matrix.cells
    .map((line) => {
      const tds = columns
        .map((r) => {
          const c = cellOf(line, r)
          return `<td style="background:${c.colour}" title="${escapeHtml(c.tip)}">${escapeHtml(c.text)}</td>`
        })
        .join('')
      return `<tr class="${line.kind}"><th title="${escapeHtml(line.description)}">${escapeHtml(line.id)}</th><td class="half">${line.half}</td><td>${pct(line.oracleSuccess)}</td>${tds}</tr>`
    })
    .join('\n')
  return `<h2>${escapeHtml(title)}</h2>
<table class="heat"><thead><tr><th>cell</th><th>half</th><th>oracle</th>${head}</tr></thead>
<tbody>
${body}
</tbody></table>`
}

/**
 * The matrix as a self-contained HTML page (no scripts, no network): a heat map of each
 * strategy's delta to the baseline per cell (red where it loses, green where it wins; the worst
 * seed in the cell's tooltip), a heat map of the share of the oracle, the summary table and the
 * definitions. Byte-identical for the same matrix.
 */
export const renderQualityHtml = (matrix: QualityMatrix): string => {
  const base = matrix.rows.indexOf(matrix.baseline)
  const others = matrix.rows.map((_, r) => r).filter((r) => r !== base)
  const deltaMap = heatTable(
    matrix,
    `Success against ${matrix.baseline}, in points (median over seeds ${seedRange(matrix.seeds)})`,
    others,
    (line, r) => {
      const row = line.rows[r]
      if (row === undefined) return { text: '-', colour: '#fff', tip: '' }
      return {
        text: points(row.delta).trim(),
        colour: deltaColour(row.delta),
        tip: `${matrix.rows[r]} on ${line.id}: ${points(row.delta).trim()} median, ${points(row.deltaWorst).trim()} worst seed; success ${pct(row.success)}; needless ${row.needless}; wasted ${row.wasted}`,
      }
    },
  )
  const shareMap = heatTable(
    matrix,
    'Share of the oracle (median over the seeds)',
    matrix.rows.map((_, r) => r),
    (line, r) => {
      const row = line.rows[r]
      if (row === undefined) return { text: '-', colour: '#fff', tip: '' }
      return {
        text: (row.oracleShare * 100).toFixed(0),
        colour: shareColour(row.oracleShare),
        tip: `${matrix.rows[r]} on ${line.id}: ${pct(row.oracleShare)} of the oracle (worst seed ${pct(row.oracleShareWorst)})`,
      }
    },
  )
  const summary = `<h2>Summary</h2>
<table class="summary"><thead><tr>${SUMMARY_HEADER.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>
<tbody>
${summaryRows(matrix.summary)
  .map((cells) => `<tr>${cells.map((c, i) => (i === 0 ? `<th>${escapeHtml(c)}</th>` : `<td>${escapeHtml(c)}</td>`)).join('')}</tr>`)
  .join('\n')}
</tbody></table>`
  const definitions = `<h2>Definitions</h2>
<dl>
${DEFINITIONS.map(([term, meaning]) => `<dt>${escapeHtml(term)}</dt><dd>${escapeHtml(meaning)}</dd>`).join('\n')}
</dl>`
  const style = `<style>
table.heat td { min-width: 34px; font-variant-numeric: tabular-nums; }
table.heat th.rot { height: 150px; vertical-align: bottom; padding: 0 2px; }
table.heat th.rot div { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; margin: 0 auto; }
table.heat tr.noise th { font-style: italic; }
table.heat td.half { color: #666; }
table.summary td { white-space: nowrap; }
dt { font-weight: 600; margin-top: 6px; }
</style>`
  return page(
    'quality matrix',
    `${style}
<h1>Quality matrix</h1>
<p>${matrix.rows.length} strategies on ${matrix.cells.length} cells of the scenario space (noise cells in italics), seeds ${seedRange(matrix.seeds)}; baseline: ${escapeHtml(matrix.baseline)}. Hover a cell for its worst seed and figures.</p>
${deltaMap}
${shareMap}
${summary}
${definitions}`,
  )
}
