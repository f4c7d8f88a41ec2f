/**
 * The HTML report opens in headless Chromium (Debian's `chromium` package, from
 * scripts/system-deps.sh) without errors and shows its charts.
 */
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  candidatesOf,
  demoStrategies,
  paretoFront,
  parseSpace,
  renderHtml,
  renderSeedHtml,
  renderText,
  renderTuneHtml,
  scenarios,
  simulate,
  simulateSummaries,
  tuneAll,
} from '@datapunk/breaker-sim'
import { afterAll, describe, expect, it } from 'vitest'
import { browser, Headless } from '../../../test/support/chromium.js'
import { ticks } from '../src/html.js'

const fragile = scenarios['fragile-recovery']
if (fragile === undefined) throw new Error('missing scenario')

const chromium = new Headless()
afterAll(() => chromium.close())

describe.runIf(browser.run)('the HTML report', () => {
  const dir = mkdtempSync(join(tmpdir(), 'breaker-report-'))
  const file = join(dir, 'report.html')
  const html = renderHtml(fragile, simulate(fragile, demoStrategies(), { seed: 1 }), 1)
  writeFileSync(file, html)

  it('is self-contained and deterministic', () => {
    expect(html).toBe(renderHtml(fragile, simulate(fragile, demoStrategies(), { seed: 1 }), 1))
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/)
  })

  it('renders in headless Chromium with its three charts, their series and the summary table', async () => {
    const page = await chromium.dom(file)
    const dom = { stdout: page.markup }
    const count = (pattern: RegExp) => (dom.stdout.match(pattern) ?? []).length
    expect(count(/<svg class="chart"/g)).toBe(3)
    expect(count(/class="series series-admitted"/g)).toBe(3)
    expect(count(/class="series series-errors"/g)).toBe(3)
    expect(count(/<table class="summary"/g)).toBe(1)
    // The time axis is labelled along its length (five simulated minutes: every 50 s), not only at its ends.
    const labels = [...dom.stdout.matchAll(/class="tick-label"[^>]*>([^<]*)</g)].map(([, l]) => l)
    expect(labels.slice(0, 7)).toEqual(['0 s', '50 s', '100 s', '150 s', '200 s', '250 s', '300 s'])
    // Under each, the load and latency chart: requests/s offered and let through, the latency of what got through.
    expect(count(/<svg class="load-chart"/g)).toBe(3)
    for (const series of ['offered-rps', 'admitted-rps', 'latency'])
      expect(dom.stdout).toMatch(new RegExp(`class="load-chart"[^]*class="series series-${series}"`))
    // Its axes: requests per second on the left (at most 200 here: 0, 100, 200 or finer), milliseconds on the right.
    const load = dom.stdout.slice(dom.stdout.indexOf('<svg class="load-chart"'))
    const loadLabels = [...load.slice(0, load.indexOf('</svg>')).matchAll(/class="tick-label"[^>]*>([^<]*)</g)].map(([, l]) => l)
    expect(loadLabels).toContain('0')
    expect(loadLabels).toContain('200')
    expect(loadLabels.filter((l) => l?.endsWith(' s'))).toEqual(['0 s', '50 s', '100 s', '150 s', '200 s', '250 s', '300 s'])
    // What each column means, in the page itself.
    expect(dom.stdout).toContain('<dt>needless</dt><dd>rejected requests that would have succeeded (the upstream as it was then)</dd>')
    expect(count(/<dt>/g)).toBe(9)
    expect(page.errors).toEqual([])
  })

  it('takes a screenshot that is a real picture', async () => {
    const png = join(dir, 'report.png')
    await chromium.screenshot(file, { width: 1000, height: 1500 }, png)
    expect(existsSync(png)).toBe(true)
    expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG')
    expect(statSync(png).size).toBeGreaterThan(20_000) // charts, not a blank page
  })
})

describe.runIf(browser.run)('the multi-seed and tuner reports', () => {
  const dir = mkdtempSync(join(tmpdir(), 'breaker-reports-'))
  const outage = scenarios.outage
  if (outage === undefined) throw new Error('missing scenario')
  const detection = { kind: 'failure-rate', threshold: 0.5, minimumCalls: 20, window: { kind: 'count', size: 50 } }
  const configs = [
    { name: 'classic', trip: detection },
    { name: 'gradual', trip: detection, recovery: { kind: 'gradual' } },
  ]

  it('shows the median and range of every metric per strategy, over the seeds', async () => {
    const seeds = [1, 2, 3]
    const html = renderSeedHtml(outage, simulateSummaries(configs, outage, seeds, undefined), seeds)
    expect(renderSeedHtml(outage, simulateSummaries(configs, outage, seeds, undefined), seeds)).toBe(html)
    const file = join(dir, 'seeds.html')
    writeFileSync(file, html)
    const dom = { stdout: (await chromium.dom(file)).markup }
    expect((dom.stdout.match(/<tr><th>(classic|gradual)<\/th>/g) ?? []).length).toBe(2)
    expect(dom.stdout).toContain('(3 seeds, 1..3)')
    expect(dom.stdout).toContain('<dt>lead</dt>')
    expect(dom.stdout).not.toContain('<dt>peak rps after recovery</dt>') // not a column of this table
    expect(dom.stdout).not.toMatch(/<script/)
  })

  it('draws a lead-time bar per strategy where the upstream reaches 50% failures, and none where it does not', async () => {
    const brownout = scenarios.brownout
    if (brownout === undefined) throw new Error('missing scenario')
    const seeds = [1, 2]
    const overTenSeconds = {
      kind: 'failure-rate',
      threshold: 0.5,
      minimumCalls: 20,
      window: { kind: 'time', durationMs: 10_000, buckets: 10 },
    }
    const reactive = { name: 'classic', trip: overTenSeconds }
    const predictive = {
      name: 'predictive',
      trip: { kind: 'any-of', detectors: [overTenSeconds, { kind: 'change-point', signal: 'latency' }] },
    }
    const html = renderSeedHtml(brownout, simulateSummaries([reactive, predictive], brownout, seeds, undefined), seeds)
    const file = join(dir, 'lead.html')
    writeFileSync(file, html)
    const dom = { stdout: (await chromium.dom(file)).markup }
    const bars = [...dom.stdout.matchAll(/<rect class="lead"[^>]*fill="(#[0-9a-f]+)"><title>([^<]+)<\/title>/g)].map((m) => [m[1], m[2]])
    expect(bars.map(([, title]) => title?.split(':')[0])).toEqual(['classic', 'predictive'])
    expect(bars[0]?.[0]).toBe('#c62828') // the threshold sheds load after the 50% mark
    expect(bars[1]?.[0]).toBe('#2e7d32') // the change-point detector before it
    expect(renderSeedHtml(outage, simulateSummaries(configs, outage, seeds, undefined), seeds)).toContain('lead-chart')
    const noisy = scenarios['noisy-but-healthy']
    if (noisy === undefined) throw new Error('missing scenario')
    expect(renderSeedHtml(noisy, simulateSummaries(configs, noisy, seeds, undefined), seeds)).not.toContain('lead-chart')
  })

  it('draws every candidate, the Pareto front and the chosen config', async () => {
    const space = parseSpace(
      {
        base: { name: 't', trip: { kind: 'consecutive-failures', threshold: 5 } },
        parameters: [{ path: 'trip.threshold', values: [2, 5, 10, 20, 40] }],
      },
      's.json',
    )
    if (space._tag === 'Left') throw new Error(space.left)
    const candidates = candidatesOf(space.right, 10)
    if (candidates._tag === 'Left') throw new Error(candidates.left)
    const evaluations = await tuneAll(
      candidates.right,
      { kind: 'scenario', scenario: outage, seeds: [1] },
      space.right.weights ?? ({} as never),
      { workers: 1 },
    )
    const valid = evaluations.filter((e) => e.valid)
    const chosen = [...valid].sort((a, b) => a.cost - b.cost)[0]
    if (chosen === undefined) throw new Error('no valid candidate')
    const describe = (e: (typeof evaluations)[number]) => `threshold ${String(candidates.right[e.index]?.values['trip.threshold'])}`
    const file = join(dir, 'tune.html')
    writeFileSync(file, renderTuneHtml('tuned on outage', evaluations, paretoFront(evaluations), chosen, describe))
    const dom = { stdout: (await chromium.dom(file)).markup }
    expect((dom.stdout.match(/class="candidate"/g) ?? []).length).toBe(valid.length)
    expect((dom.stdout.match(/class="chosen"/g) ?? []).length).toBe(1)
    expect((dom.stdout.match(/class="pareto"/g) ?? []).length).toBe(1)
    // Both axes carry ticks from 0, each label a round value.
    const labels = [...dom.stdout.matchAll(/class="tick-label"[^>]*>([^<]*)</g)].map(([, l]) => Number(l))
    expect(labels.filter((v) => v === 0)).toHaveLength(2)
    expect(labels.length).toBeGreaterThanOrEqual(6)
    expect(labels.every((v) => Number.isFinite(v) && Number((v / 10 ** Math.floor(Math.log10(v || 1))).toFixed(6)) % 0.5 === 0)).toBe(true)
    const png = join(dir, 'tune.png')
    await chromium.screenshot(file, { width: 960, height: 700 }, png)
    expect(statSync(png).size).toBeGreaterThan(10_000)
  })
})

describe('the terminal report', () => {
  it('never runs a label into its chart, whatever the strategy names', () => {
    const base = demoStrategies()
    const named = [
      ...base,
      { ...(base[0] as (typeof base)[number]), name: 'a-config-file-with-a-very-long-name-indeed.json' },
    ] as typeof base
    const text = renderText(fragile, simulate(fragile, named, { seed: 1 }), 1)
    const rows = text.split('\n').filter((line) => /[·█▒▁▂▃▄▅▆▇]{10}/.test(line))
    expect(rows.length).toBeGreaterThan(0)
    // Every chart starts in the same column, two spaces at least after its label.
    const starts = new Set(rows.map((row) => row.search(/[·█▒▁▂▃▄▅▆▇]{10}/)))
    expect(starts.size).toBe(1)
    const [start = 0] = starts
    for (const row of rows) expect(row.slice(start - 2, start)).toBe('  ')
    expect(text).toContain('a-config-file-with-a-very-long-name…: upstream')
  })
})

describe('the lead-time chart', () => {
  it('widens its name column for long names and cuts a very long one short, whole in its title', () => {
    const brownout = scenarios.brownout
    if (brownout === undefined) throw new Error('missing scenario')
    const long = 'a config whose name goes on and on about what it is and what it is not'
    const trip = { kind: 'failure-rate', threshold: 0.5, minimumCalls: 20, window: { kind: 'time', durationMs: 10_000, buckets: 10 } }
    const named = (name: string) => renderSeedHtml(brownout, simulateSummaries([{ name, trip }], brownout, [1], undefined), [1])
    const nameOf = (html: string) => /<text class="lead-name" x="([\d.]+)"[^>]*>([^<]*)<title>([^<]*)<\/title>/.exec(html)
    const short = nameOf(named('short'))
    const cut = nameOf(named(long))
    expect(short?.[2]).toBe('short')
    expect(cut?.[2]).toMatch(/^a config whose name goes on.*…$/)
    expect(cut?.[2]).toHaveLength(56)
    expect(cut?.[3]).toBe(long)
    // Room for the text at about 7 px a character, right-aligned at x.
    expect(Number(cut?.[1])).toBeGreaterThanOrEqual(7 * 56)
    expect(Number(short?.[1])).toBeLessThan(Number(cut?.[1]))
  })
})

describe('axis ticks', () => {
  it('runs from 0 at a round step (1, 2 or 5 times a power of ten), about as many as asked, never past the end', () => {
    expect(ticks(300, 10)).toEqual([0, 50, 100, 150, 200, 250, 300])
    expect(ticks(3_600, 10)).toEqual([0, 500, 1000, 1500, 2000, 2500, 3000, 3500])
    expect(ticks(17.3)).toEqual([0, 5, 10, 15])
    expect(ticks(1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1])
    expect(ticks(0)).toEqual([0])
    expect(ticks(Number.NaN)).toEqual([0])
  })
})
