import type { Scenario } from './Scenario.js'
import type { Run } from './simulate.js'

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c)

const WIDTH = 900
const HEIGHT = 160
const PAD = 40

const PHASE_COLOR = { closed: '#e8f5e9', open: '#ffcdd2', 'half-open': '#fff3cd' } as const

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
  const errors = run.buckets.map((b) => (b.admitted === 0 ? 0 : b.failed / b.admitted))
  const seconds = scenario.durationMs / 1000
  return `<svg class="chart" role="img" aria-label="${escapeHtml(run.summary.strategy)} over time" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" xmlns="http://www.w3.org/2000/svg">
${bands}${outages}
<line x1="${PAD}" y1="${HEIGHT - PAD}" x2="${WIDTH - PAD}" y2="${HEIGHT - PAD}" stroke="#555"/>
<line x1="${PAD}" y1="${PAD}" x2="${PAD}" y2="${HEIGHT - PAD}" stroke="#555"/>
<text x="${PAD - 4}" y="${PAD + 4}" font-size="10" text-anchor="end">100%</text>
<text x="${PAD - 4}" y="${HEIGHT - PAD + 4}" font-size="10" text-anchor="end">0</text>
<text x="${PAD}" y="${HEIGHT - 8}" font-size="10">0 s</text>
<text x="${WIDTH - PAD}" y="${HEIGHT - 8}" font-size="10" text-anchor="end">${seconds} s</text>
${line(admitted, '#1565c0', 'admitted')}
${line(errors, '#c62828', 'errors')}
</svg>`
}

const seconds = (ms: number | null): string => (ms === null ? '-' : `${(ms / 1000).toFixed(1)} s`)

/**
 * A self-contained HTML report (charts as inline SVG, no scripts, no network): per strategy, the
 * phase over time (green closed, red open, amber half-open), upstream outages (dark red marks),
 * the share of requests admitted (blue) and the error rate of what got through (red); then the
 * summary table. Deterministic: the same runs give the same bytes.
 */
export const renderHtml = (scenario: Scenario, runs: ReadonlyArray<Run>, seed: number): string => {
  const rows = runs
    .map(
      ({ summary: s }) =>
        `<tr><th>${escapeHtml(s.strategy)}</th><td>${(s.successRate * 100).toFixed(1)}%</td><td>${s.wasted}</td><td>${s.needless}</td><td>${seconds(s.timeToDetectMs)}</td><td>${seconds(s.timeToFullMs)}</td><td>${s.opens}</td><td>${s.oscillations}</td><td>${s.collapses}</td><td>${s.peakRecoveryRps}</td></tr>`,
    )
    .join('\n')
  const sections = runs
    .map((run) => `<section class="strategy"><h2>${escapeHtml(run.summary.strategy)}</h2>\n${chart(scenario, run)}\n</section>`)
    .join('\n')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Datapunk Breaker: ${escapeHtml(scenario.name)} (seed ${seed})</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin-top: 16px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th:first-child { text-align: left; }
.legend span { display: inline-block; margin-right: 16px; }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: middle; margin-right: 4px; }
</style>
</head>
<body>
<h1>${escapeHtml(scenario.name)} <small>(seed ${seed})</small></h1>
<p>${escapeHtml(scenario.description)}</p>
<p class="legend"><span><i class="swatch" style="background:#1565c0"></i>admitted share</span><span><i class="swatch" style="background:#c62828"></i>errors let through</span><span><i class="swatch" style="background:${PHASE_COLOR.closed}"></i>closed</span><span><i class="swatch" style="background:${PHASE_COLOR.open}"></i>open</span><span><i class="swatch" style="background:${PHASE_COLOR['half-open']}"></i>half-open</span><span><i class="swatch" style="background:#b71c1c"></i>upstream down</span></p>
${sections}
<table class="summary">
<thead><tr><th>strategy</th><th>success</th><th>wasted</th><th>needless</th><th>detect</th><th>back to full</th><th>opens</th><th>oscillations</th><th>collapses</th><th>peak rps after recovery</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</body>
</html>
`
}
