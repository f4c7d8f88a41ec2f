/**
 * The HTML report opens in headless Chromium (Debian's `chromium` package, from
 * scripts/system-deps.sh) without errors and shows its charts.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { demoStrategies, renderHtml, scenarios, simulate } from '@datapunk/breaker-sim'
import { describe, expect, it } from 'vitest'
import { systemProgram } from '../../../test/support/systemProgram.js'

const browser = systemProgram('chromium')

/** Headless Chromium as this machine allows it: no sandbox as root, no background networking. */
const chromium = (args: string[]) =>
  spawnSync(
    browser.require(),
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--enable-logging=stderr',
      `--user-data-dir=${mkdtempSync(join(tmpdir(), 'chromium-'))}`,
      ...args,
    ],
    { encoding: 'utf8', timeout: 120_000 },
  )

const fragile = scenarios['fragile-recovery']
if (fragile === undefined) throw new Error('missing scenario')

describe.runIf(browser.run)('the HTML report', () => {
  const dir = mkdtempSync(join(tmpdir(), 'breaker-report-'))
  const file = join(dir, 'report.html')
  const html = renderHtml(fragile, simulate(fragile, demoStrategies(), { seed: 1 }), 1)
  writeFileSync(file, html)

  it('is self-contained and deterministic', () => {
    expect(html).toBe(renderHtml(fragile, simulate(fragile, demoStrategies(), { seed: 1 }), 1))
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/)
  })

  it('renders in headless Chromium with its three charts, their series and the summary table', () => {
    const dom = chromium(['--dump-dom', `file://${file}`])
    expect(dom.status, dom.stderr).toBe(0)
    const count = (pattern: RegExp) => (dom.stdout.match(pattern) ?? []).length
    expect(count(/<svg class="chart"/g)).toBe(3)
    expect(count(/class="series series-admitted"/g)).toBe(3)
    expect(count(/class="series series-errors"/g)).toBe(3)
    expect(count(/<table class="summary"/g)).toBe(1)
    expect(dom.stderr).not.toMatch(/Uncaught|SyntaxError|Failed to load/)
  })

  it('takes a screenshot that is a real picture', () => {
    const png = join(dir, 'report.png')
    const shot = chromium(['--hide-scrollbars', '--window-size=1000,1500', `--screenshot=${png}`, `file://${file}`])
    expect(shot.status, shot.stderr).toBe(0)
    expect(existsSync(png)).toBe(true)
    expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG')
    expect(statSync(png).size).toBeGreaterThan(20_000) // charts, not a blank page
  })
})
