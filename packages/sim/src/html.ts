import { RUN_COLUMNS, RUN_DEFINITIONS } from './definitions.js'
import type { Scenario } from './Scenario.js'
import type { Run, RunSummary } from './simulate.js'
import { median } from './stats.js'
import type { Evaluation } from './tune.js'

export const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c)

const WIDTH = 900
const HEIGHT = 160
const PAD = 40

/** The most characters of a name the lead-time chart shows (a longer one ends in an ellipsis; its title has it whole). */
const MAX_NAME = 56

const PHASE_COLOR = { closed: '#e8f5e9', open: '#ffcdd2', 'half-open': '#fff3cd' } as const
/** The errors series: purple, far from the dark red of "upstream down" under it. */
const ERRORS_COLOR = '#8e24aa'

/**
 * Axis ticks from 0 to `max` at a round step (1, 2 or 5 times a power of ten) giving about `count`
 * intervals: the values, in order, the last one at most `max`.
 */
export const ticks = (max: number, count = 5): ReadonlyArray<number> => {
  if (!(max > 0 && Number.isFinite(max))) return [0]
  const rough = max / count
  const power = 10 ** Math.floor(Math.log10(rough))
  const step = ([1, 2, 5, 10].find((m) => m * power >= rough) ?? 10) * power
  const out: number[] = []
  for (let i = 0; i * step <= max * (1 + 1e-9); i++) out.push(Number((i * step).toPrecision(12)))
  return out
}

/** Ticks along a horizontal axis at `y`: a short mark and a label under it (at `labelY`) for each value. */
const xTicks = (
  values: ReadonlyArray<number>,
  at: (v: number) => string,
  y: number,
  label: (v: number) => string,
  labelY = y + 15,
): string =>
  values
    .map(
      (v) =>
        `<line class="tick" x1="${at(v)}" y1="${y}" x2="${at(v)}" y2="${y + 4}" stroke="#555"/><text class="tick-label" x="${at(v)}" y="${labelY}" font-size="10" text-anchor="middle">${label(v)}</text>`,
    )
    .join('')

/** Ticks along a vertical axis at `x`: a short mark and a label left of it for each value. */
export const yTicks = (values: ReadonlyArray<number>, at: (v: number) => string, x: number, label: (v: number) => string): string =>
  values
    .map(
      (v) =>
        `<line class="tick" x1="${x - 4}" y1="${at(v)}" x2="${x}" y2="${at(v)}" stroke="#555"/><text class="tick-label" x="${x - 6}" y="${Number(at(v)) + 3}" font-size="10" text-anchor="end">${label(v)}</text>`,
    )
    .join('')

/** The time axis of a run's charts: `seconds` long, labelled at round steps along it. */
const timeAxis = (seconds: number): string =>
  xTicks(
    ticks(seconds, 10),
    (t) => (PAD + (t / seconds) * (WIDTH - 2 * PAD)).toFixed(1),
    HEIGHT - PAD,
    (t) => `${t} s`,
    HEIGHT - 8,
  )

/** One strategy's chart: phase bands, upstream outages, admitted share and error rate over time. */
const chart = (scenario: Scenario, run: Run): string => {
  const n = run.buckets.length
  const w = (WIDTH - 2 * PAD) / Math.max(1, n)
  const y = (v: number) => (PAD + (1 - v) * (HEIGHT - 2 * PAD)).toFixed(1)
  const x = (i: number) => (PAD + i * w).toFixed(1)
  const bands = run.buckets
    .map(
      (b, i) =>
        `<rect class="phase phase-${b.phase}" x="${x(i)}" y="${PAD}" width="${w.toFixed(1)}" height="${HEIGHT - 2 * PAD}" fill="${PHASE_COLOR[b.phase]}"/>`,
    )
    .join('')
  const outages = run.buckets
    .map((b, i) =>
      b.upstreamDown
        ? `<rect class="upstream-down" x="${x(i)}" y="${HEIGHT - PAD + 4}" width="${w.toFixed(1)}" height="6" fill="#b71c1c"/>`
        : '',
    )
    .join('')
  const line = (values: number[], color: string, name: string) =>
    `<polyline class="series series-${name}" fill="none" stroke="${color}" stroke-width="2" points="${values.map((v, i) => `${(PAD + (i + 0.5) * w).toFixed(1)},${y(v)}`).join(' ')}"/>`
  const admitted = run.buckets.map((b) => (b.requests === 0 ? 0 : b.admitted / b.requests))
  // Errors as a share of all requests (what callers got), not of the few admitted: one failed probe
  // while open is a speck, not a bar to 100%.
  const errors = run.buckets.map((b) => (b.requests === 0 ? 0 : b.failed / b.requests))
  const seconds = scenario.durationMs / 1000
  return `<svg class="chart" role="img" aria-label="${escapeHtml(run.summary.strategy)} over time" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" xmlns="http://www.w3.org/2000/svg">
${bands}${outages}
<line x1="${PAD}" y1="${HEIGHT - PAD}" x2="${WIDTH - PAD}" y2="${HEIGHT - PAD}" stroke="#555"/>
<line x1="${PAD}" y1="${PAD}" x2="${PAD}" y2="${HEIGHT - PAD}" stroke="#555"/>
<text x="${PAD - 4}" y="${PAD + 4}" font-size="10" text-anchor="end">100%</text>
<text x="${PAD - 4}" y="${HEIGHT - PAD + 4}" font-size="10" text-anchor="end">0</text>
${timeAxis(seconds)}
${line(admitted, '#1565c0', 'admitted')}
${line(errors, ERRORS_COLOR, 'errors')}
</svg>`
}

/** The columns of the report over seeds: the terms it defines. */
const SEED_TERMS = ['success', 'wasted', 'needless', 'detect', 'lead', 'back to full', 'opens', 'collapses']

/** The colours of the load chart's series. */
const LOAD_COLOR = { 'offered-rps': '#757575', 'admitted-rps': '#1565c0', latency: '#ef6c00' } as const

/**
 * One strategy's load and latency over time: requests per second offered and let through (left
 * axis), and the mean latency of the calls let through (right axis, failures and timeouts
 * included; a gap where none was).
 */
const loadChart = (scenario: Scenario, run: Run): string => {
  const n = run.buckets.length
  const w = (WIDTH - 2 * PAD) / Math.max(1, n)
  const perSecond = 1000 / run.bucketMs
  const offered = run.buckets.map((b) => b.requests * perSecond)
  const admitted = run.buckets.map((b) => b.admitted * perSecond)
  const rpsTicks = ticks(Math.max(1, ...offered), 4)
  const rpsMax = Math.max(rpsTicks[rpsTicks.length - 1] ?? 1, ...offered)
  const latencies = run.buckets.map((b) => b.latencyMs)
  const msTicks = ticks(Math.max(1, ...latencies.map((v) => v ?? 0)), 4)
  const msMax = Math.max(msTicks[msTicks.length - 1] ?? 1, ...latencies.map((v) => v ?? 0))
  const yOf = (v: number, max: number) => (PAD + (1 - v / max) * (HEIGHT - 2 * PAD)).toFixed(1)
  const xOf = (i: number) => (PAD + (i + 0.5) * w).toFixed(1)
  const line = (values: ReadonlyArray<number | null>, max: number, name: keyof typeof LOAD_COLOR) => {
    // A null value breaks the line: one polyline per run of known values.
    const parts: string[][] = [[]]
    values.forEach((v, i) => {
      if (v === null) parts.push([])
      else parts[parts.length - 1]?.push(`${xOf(i)},${yOf(v, max)}`)
    })
    return parts
      .filter((points) => points.length > 0)
      .map(
        (points) =>
          `<polyline class="series series-${name}" fill="none" stroke="${LOAD_COLOR[name]}" stroke-width="2" points="${points.join(' ')}"/>`,
      )
      .join('')
  }
  const right = WIDTH - PAD
  const seconds = scenario.durationMs / 1000
  const rightTicks = msTicks
    .map(
      (v) =>
        `<line class="tick" x1="${right}" y1="${yOf(v, msMax)}" x2="${right + 4}" y2="${yOf(v, msMax)}" stroke="#555"/><text class="tick-label" x="${right + 6}" y="${Number(yOf(v, msMax)) + 3}" font-size="10" text-anchor="start">${v}</text>`,
    )
    .join('')
  return `<svg class="load-chart" role="img" aria-label="${escapeHtml(run.summary.strategy)}: load and latency over time" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" xmlns="http://www.w3.org/2000/svg">
<line x1="${PAD}" y1="${HEIGHT - PAD}" x2="${right}" y2="${HEIGHT - PAD}" stroke="#555"/>
<line x1="${PAD}" y1="${PAD}" x2="${PAD}" y2="${HEIGHT - PAD}" stroke="#555"/>
<line x1="${right}" y1="${PAD}" x2="${right}" y2="${HEIGHT - PAD}" stroke="#555"/>
<text x="${PAD}" y="${PAD - 8}" font-size="10" text-anchor="middle">req/s</text>
<text x="${right}" y="${PAD - 8}" font-size="10" text-anchor="middle">ms</text>
${yTicks(
  rpsTicks,
  (v) => yOf(v, rpsMax),
  PAD,
  (v) => String(v),
)}${rightTicks}
${timeAxis(seconds)}
${line(offered, rpsMax, 'offered-rps')}${line(admitted, rpsMax, 'admitted-rps')}${line(latencies, msMax, 'latency')}
</svg>`
}

const seconds = (ms: number | null): string => (ms === null ? '-' : `${(ms / 1000).toFixed(1)} s`)

/**
 * A self-contained HTML report (charts as inline SVG, no scripts, no network): per strategy, the
 * phase over time (green closed, red open, amber half-open), upstream outages (dark red marks),
 * the share of requests admitted (blue) and the share of requests that got an upstream error
 * (purple); under it
 * the load (requests per second offered, grey, and let through, blue) and the mean latency of
 * what got through (orange); then the summary table and what each metric means. Deterministic:
 * the same runs give the same bytes.
 */
export const renderHtml = (scenario: Scenario, runs: ReadonlyArray<Run>, seed: number): string => {
  const rows = runs
    .map(
      ({ summary: s }) =>
        `<tr><th>${escapeHtml(s.strategy)}</th><td>${(s.successRate * 100).toFixed(1)}%</td><td>${s.wasted}</td><td>${s.needless}</td><td>${seconds(s.timeToDetectMs)}</td><td>${seconds(s.timeToFullMs)}</td><td>${s.opens}</td><td>${s.oscillations}</td><td>${s.collapses}</td><td>${s.peakRecoveryRps}</td></tr>`,
    )
    .join('\n')
  const sections = runs
    .map(
      (run) =>
        `<section class="strategy"><h2>${escapeHtml(run.summary.strategy)}</h2>\n${chart(scenario, run)}\n${loadChart(scenario, run)}\n</section>`,
    )
    .join('\n')
  return page(
    `${scenario.name} (seed ${seed})`,
    `<h1>${escapeHtml(scenario.name)} <small>(seed ${seed})</small></h1>
<p>${escapeHtml(scenario.description)}</p>
<p class="legend"><span><i class="swatch" style="background:#1565c0"></i>admitted share</span><span><i class="swatch" style="background:${ERRORS_COLOR}"></i>errors let through (share of all requests)</span><span><i class="swatch" style="background:${PHASE_COLOR.closed}"></i>closed</span><span><i class="swatch" style="background:${PHASE_COLOR.open}"></i>open</span><span><i class="swatch" style="background:${PHASE_COLOR['half-open']}"></i>half-open</span><span><i class="swatch" style="background:#b71c1c"></i>upstream down</span></p>
<p class="legend"><span><i class="swatch" style="background:${LOAD_COLOR['offered-rps']}"></i>requests/s offered</span><span><i class="swatch" style="background:${LOAD_COLOR['admitted-rps']}"></i>requests/s let through</span><span><i class="swatch" style="background:${LOAD_COLOR.latency}"></i>mean latency of calls let through (right axis, ms)</span></p>
${sections}
<table class="summary">
<thead><tr><th>strategy</th><th>success</th><th>wasted</th><th>needless</th><th>detect</th><th>back to full</th><th>opens</th><th>oscillations</th><th>collapses</th><th>peak rps after recovery</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
${definitionsHtml(RUN_COLUMNS)}`,
  )
}

/** What each metric of a run means, as a definition list (the terminal report prints the same text). */
export const definitionsHtml = (terms: ReadonlyArray<string>): string =>
  `<h2>Definitions</h2>\n<dl class="definitions">\n${RUN_DEFINITIONS.filter(([term]) => terms.includes(term))
    .map(([term, text]) => `<dt>${escapeHtml(term)}</dt><dd>${escapeHtml(text)}</dd>`)
    .join('\n')}\n</dl>`

/** The page around a report's body: one self-contained file, no scripts, no network. */
export const page = (title: string, body: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Datapunk Breaker: ${escapeHtml(title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin-top: 16px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th:first-child { text-align: left; }
.legend span { display: inline-block; margin-right: 16px; }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: middle; margin-right: 4px; }
dl.definitions { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; }
dl.definitions dt { font-weight: 600; }
dl.definitions dd { margin: 0; }
</style>
</head>
<body>
${body}
</body>
</html>
`

/**
 * The report of a run over several seeds: per strategy and metric, the median and the range over
 * the seeds, in one table. Deterministic: the same summaries give the same bytes.
 */
export const renderSeedHtml = (
  scenario: Scenario,
  bySeed: ReadonlyArray<ReadonlyArray<RunSummary>>,
  seeds: ReadonlyArray<number>,
): string => {
  const names = bySeed[0]?.map((s) => s.strategy) ?? []
  const cell = (values: ReadonlyArray<number | null>, format: (n: number) => string) => {
    const known = values.filter((v): v is number => v !== null)
    const never = values.length - known.length
    if (known.length === 0) return '<td>-</td>'
    return `<td>${format(median(known))} <small>[${format(Math.min(...known))} to ${format(Math.max(...known))}]${never > 0 ? ` (${never} never)` : ''}</small></td>`
  }
  const rows = names
    .map((name, i) => {
      const runs = bySeed.map((r) => r[i]).filter((r): r is RunSummary => r !== undefined)
      return `<tr><th>${escapeHtml(name)}</th>${cell(
        runs.map((r) => r.successRate * 100),
        (n) => `${n.toFixed(1)}%`,
      )}${cell(
        runs.map((r) => r.wasted),
        (n) => String(Math.round(n)),
      )}${cell(
        runs.map((r) => r.needless),
        (n) => String(Math.round(n)),
      )}${cell(
        runs.map((r) => r.timeToDetectMs),
        (n) => seconds(n),
      )}${cell(
        runs.map((r) => r.leadTimeMs),
        (n) => seconds(n),
      )}${cell(
        runs.map((r) => r.timeToFullMs),
        (n) => seconds(n),
      )}${cell(
        runs.map((r) => r.opens),
        (n) => String(Math.round(n)),
      )}${cell(
        runs.map((r) => r.collapses),
        (n) => String(Math.round(n)),
      )}</tr>`
    })
    .join('\n')
  return page(
    `${scenario.name}, ${seeds.length} seeds`,
    `<h1>${escapeHtml(scenario.name)} <small>(${seeds.length} seeds, ${seeds[0]}..${seeds[seeds.length - 1]})</small></h1>
<p>${escapeHtml(scenario.description)}</p>
<p>Each cell: the median over the seeds, and [the smallest-the largest].</p>
<table class="summary seeds">
<thead><tr><th>strategy</th><th>success</th><th>wasted</th><th>needless</th><th>detect</th><th>lead</th><th>back to full</th><th>opens</th><th>collapses</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
${leadChart(names, bySeed)}
${definitionsHtml(SEED_TERMS)}`,
  )
}

/**
 * Lead time per strategy as horizontal bars (the median over the seeds, a whisker for the range):
 * right of the zero line, load was shed before the upstream's true failure rate reached 50%; left,
 * after. Empty when the scenario never reaches 50% or no strategy shed load.
 */
const leadChart = (names: ReadonlyArray<string>, bySeed: ReadonlyArray<ReadonlyArray<RunSummary>>): string => {
  const leads = names.map((_, i) =>
    bySeed
      .map((r) => r[i]?.leadTimeMs ?? null)
      .filter((v): v is number => v !== null)
      .map((ms) => ms / 1000),
  )
  if (leads.every((l) => l.length === 0)) return ''
  const all = leads.flat()
  const lo = Math.min(0, ...all)
  const hi = Math.max(0, ...all)
  const span = hi - lo || 1
  const ROW = 26
  // Names fit their column: wide enough for the longest (about 7 px a character at 12 px), a very long one cut short.
  const shown = names.map((name, i) => {
    const full = (leads[i] ?? []).length === 0 ? `${name} (never)` : name
    return full.length > MAX_NAME ? `${full.slice(0, MAX_NAME - 1)}…` : full
  })
  const LABEL = Math.min(PAD + 7 * MAX_NAME, Math.max(120, 16 + 7 * Math.max(...shown.map((n) => n.length))))
  const label = (i: number, y: number) =>
    `<text class="lead-name" x="${LABEL - 8}" y="${y + 16}" font-size="12" text-anchor="end">${escapeHtml(shown[i] ?? '')}<title>${escapeHtml(names[i] ?? '')}</title></text>`
  const H = PAD * 2 + ROW * names.length
  const x = (v: number) => (LABEL + ((v - lo) / span) * (WIDTH - LABEL - PAD)).toFixed(1)
  const bars = names
    .map((name, i) => {
      const l = leads[i] ?? []
      const y = PAD + i * ROW
      if (l.length === 0) return label(i, y)
      const m = median(l)
      const left = Math.min(0, m)
      const width = Math.abs(m)
      return `${label(i, y)}<rect class="lead" x="${x(left)}" y="${y + 5}" width="${((width / span) * (WIDTH - LABEL - PAD)).toFixed(1)}" height="14" fill="${m >= 0 ? '#2e7d32' : '#c62828'}"><title>${escapeHtml(name)}: ${m.toFixed(1)} s</title></rect><line x1="${x(Math.min(...l))}" y1="${y + 12}" x2="${x(Math.max(...l))}" y2="${y + 12}" stroke="#333"/>`
    })
    .join('')
  return `<h2>Lead time: load shed before (right) or after (left) the upstream's failure rate reached 50%</h2>
<svg class="chart lead-chart" role="img" aria-label="lead time per strategy" viewBox="0 0 ${WIDTH} ${H}" width="${WIDTH}" height="${H}" xmlns="http://www.w3.org/2000/svg">
<line x1="${x(0)}" y1="${PAD - 4}" x2="${x(0)}" y2="${H - PAD + 4}" stroke="#555"/>
<text x="${x(lo)}" y="${H - 4}" font-size="11">${lo.toFixed(0)} s</text>
<text x="${x(hi)}" y="${H - 4}" font-size="11" text-anchor="end">${hi.toFixed(0)} s</text>
${bars}
</svg>`
}

/**
 * The tuner's report: every valid candidate as a point of wasted (x) against needless (y), the
 * Pareto front joined by a line, the chosen config marked; then the best candidates. One file,
 * deterministic.
 */
export const renderTuneHtml = (
  title: string,
  evaluations: ReadonlyArray<Evaluation>,
  front: ReadonlyArray<Evaluation>,
  chosen: Evaluation,
  describe: (e: Evaluation) => string,
): string => {
  const valid = evaluations.filter((e) => e.valid)
  const maxX = Math.max(1, ...valid.map((e) => e.wasted))
  const maxY = Math.max(1, ...valid.map((e) => e.needless))
  const H = 420
  const x = (v: number) => (PAD + (v / maxX) * (WIDTH - 2 * PAD)).toFixed(1)
  const y = (v: number) => (H - PAD - (v / maxY) * (H - 2 * PAD)).toFixed(1)
  const points = valid
    .map(
      (e) =>
        `<circle class="candidate" cx="${x(e.wasted)}" cy="${y(e.needless)}" r="4" fill="#90a4ae"><title>${escapeHtml(describe(e))}</title></circle>`,
    )
    .join('')
  const line = `<polyline class="pareto" fill="none" stroke="#1565c0" stroke-width="2" points="${front.map((e) => `${x(e.wasted)},${y(e.needless)}`).join(' ')}"/>`
  const mark = `<circle class="chosen" cx="${x(chosen.wasted)}" cy="${y(chosen.needless)}" r="8" fill="none" stroke="#c62828" stroke-width="3"><title>${escapeHtml(describe(chosen))}</title></circle>`
  const top = [...valid]
    .sort((a, b) => a.cost - b.cost || a.index - b.index)
    .slice(0, 10)
    .map(
      (e, i) =>
        `<tr><th>${i + 1}</th><td>${e.cost.toFixed(1)}</td><td>${e.wasted.toFixed(1)}</td><td>${e.needless.toFixed(1)}</td><td>${e.collapses.toFixed(1)}</td><td style="text-align:left">${escapeHtml(describe(e))}</td></tr>`,
    )
    .join('\n')
  return page(
    title,
    `<h1>${escapeHtml(title)}</h1>
<p class="legend"><span><i class="swatch" style="background:#90a4ae"></i>candidate</span><span><i class="swatch" style="background:#1565c0"></i>Pareto front</span><span><i class="swatch" style="background:#c62828"></i>chosen (lowest cost): ${escapeHtml(describe(chosen))}</span></p>
<svg class="chart pareto-chart" role="img" aria-label="wasted against needless" viewBox="0 0 ${WIDTH} ${H}" width="${WIDTH}" height="${H}" xmlns="http://www.w3.org/2000/svg">
<line x1="${PAD}" y1="${H - PAD}" x2="${WIDTH - PAD}" y2="${H - PAD}" stroke="#555"/>
<line x1="${PAD}" y1="${PAD}" x2="${PAD}" y2="${H - PAD}" stroke="#555"/>
${xTicks(ticks(maxX), x, H - PAD, String)}
${yTicks(ticks(maxY), y, PAD, String)}
<text x="${WIDTH - PAD}" y="${H - 4}" font-size="11" text-anchor="end">wasted calls</text>
<text x="${PAD}" y="${PAD - 8}" font-size="11">needless rejections</text>
${points}${line}${mark}
</svg>
<table class="summary tune">
<thead><tr><th>rank</th><th>cost</th><th>wasted</th><th>needless</th><th>collapses</th><th>parameters</th></tr></thead>
<tbody>
${top}
</tbody>
</table>`,
  )
}
