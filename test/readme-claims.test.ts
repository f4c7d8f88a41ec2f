/**
 * The numbers the README and the demo state about gradual recovery against classic half-open
 * come from somewhere a test can read: the quality matrix's latest full run
 * (bench/quality/RESULTS.md, written by `pnpm bench:quality`) and the demo's own run. Each
 * claim is recomputed here from that source, so a new matrix run that changes them fails until
 * the text says what the run shows.
 */
import { readFileSync } from 'node:fs'
import { demoStrategies, scenarios, simulate } from '@datapunk/breaker-sim'
import { describe, expect, it } from 'vitest'

const read = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8')
/** Text with every run of white space as one space (claims wrap differently in each place). */
const flat = (text: string) => text.replace(/\s+/g, ' ')
const readme = flat(read('../README.md'))
const demoNote = flat(read('../packages/sim/src/cli.ts'))

/** Gradual recovery's median delta against classic per cell, from the matrix's per-cell table. */
const gradualByCell = (): Map<string, number> => {
  const results = read('../bench/quality/RESULTS.md')
  const table = results.slice(results.indexOf('### Success against classic, per cell'))
  const lines = table.split('\n').filter((l) => l.startsWith('|'))
  const header = (lines[0] ?? '').split('|').map((c) => c.trim())
  const column = header.indexOf('gradual')
  const out = new Map<string, number>()
  for (const line of lines.slice(2)) {
    const cells = line.split('|').map((c) => c.trim())
    if (cells.length !== header.length) break
    out.set(cells[1] ?? '', Number.parseFloat(cells[column] ?? ''))
  }
  return out
}

describe('what the README and the demo say about gradual recovery', () => {
  const cells = gradualByCell()
  const fragile = [...cells].filter(([cell]) => cell.startsWith('fragile-'))
  const rest = [...cells].filter(([cell]) => !cell.startsWith('fragile-'))

  it('reads the whole matrix: 80 cells, a median for each', () => {
    expect(cells.size).toBe(80)
    for (const median of cells.values()) expect(Number.isFinite(median)).toBe(true)
  })

  it('"within 2 points of classic on every cell but flapping, where three recoveries cost 2.0 to 2.5"', () => {
    const lost = rest.filter(([, median]) => median <= -2)
    expect(lost.length).toBeGreaterThan(0)
    for (const [cell] of lost) expect(cell).toMatch(/^flapping@/)
    expect(Math.min(...lost.map(([, m]) => m))).toBeGreaterThanOrEqual(-2.5)
    expect(readme).toContain(
      'within 2 points of classic on every cell of [the quality matrix](bench/quality/README.md) but flapping, where three recoveries cost 2.0 to 2.5',
    )
    expect(demoNote).toContain('it loses 2 to 2.5 points to classic')
    expect(demoNote).toContain('it is within 2 points of classic on every cell but flapping')
  })

  it('"19 to 61 points ahead on nine of the eleven fragile cells"', () => {
    expect(fragile).toHaveLength(11)
    const ahead = fragile.map(([, m]) => m).filter((m) => Math.round(m) >= 19)
    expect(ahead).toHaveLength(9)
    expect(Math.round(Math.min(...ahead))).toBe(19)
    expect(Math.round(Math.max(...ahead))).toBe(61)
    expect(demoNote).toContain('19 to 61 points ahead on nine of the eleven fragile cells')
  })

  it('the demo: classic brings the upstream down again and again (9 times), gradual once', () => {
    const demo = scenarios['fragile-recovery']
    if (demo === undefined) throw new Error('the demo scenario is missing')
    const runs = simulate(demo, demoStrategies(), { seed: 1 })
    const collapses = Object.fromEntries(runs.map((r) => [r.summary.strategy, r.summary.collapses]))
    expect(collapses).toMatchObject({ classic: 9, gradual: 1 })
    expect(readme).toContain('brings the upstream down again and again (9 times); gradual recovery brings it down once')
  })
})

/**
 * What the README says about prediction on the scenario space, from the latest full run of
 * `pnpm bench:prediction-space` (bench/prediction/SPACE.md, written by the bench itself).
 */
describe('what the README says about predictive detection on the scenario space', () => {
  const space = read('../bench/prediction/SPACE.md')
  const lines = space.split('\n')
  const chosen = (label: string) => {
    const line = lines.find((l) => l.trimStart().startsWith(label))
    if (line === undefined) throw new Error(`SPACE.md has no line for ${label}`)
    return line
  }
  /** The shed-time table: its columns by header, and per cell the gain over the threshold (s; 0 where the same). */
  const table = () => {
    const at = lines.findIndex((l) => l.trimStart().startsWith('cell '))
    const header = (lines[at] ?? '').trim().split(/ {2,}/)
    const rows = new Map<string, { precursor: boolean; gains: Map<string, number> }>()
    for (const line of lines.slice(at + 1)) {
      const cells = line.trim().split(/ {2,}/)
      if (cells.length !== header.length) break
      const gains = new Map<string, number>()
      header.slice(3).forEach((name, i) => {
        const gain = /\(([+-]\d+\.\d)\)/.exec(cells[i + 3] ?? '')
        gains.set(name, gain === null ? 0 : Number(gain[1]))
      })
      rows.set(cells[0] ?? '', { precursor: cells[1] === 'yes', gains })
    }
    return rows
  }
  const LIBRARY = ['+change-point, failures', '+change-point, latency', '+trend-forecast']

  it('"no predictive part the library ships ... sheds load more than 2.5 s earlier than a static 35% threshold at the same budget on an error ramp or a latency creep"', () => {
    expect(chosen('static threshold')).toContain('threshold 0.35')
    const rows = [...table().values()]
    const gains = rows.filter((r) => r.precursor).flatMap((r) => LIBRARY.map((p) => r.gains.get(p) ?? Number.NaN))
    expect(gains).toHaveLength(12)
    expect(Math.max(...gains)).toBe(2.5)
    expect(readme).toContain(
      'sheds load more than 2.5 s earlier than a static 35% threshold at the same budget on an error ramp or a latency creep',
    )
  })

  it('"the change-point detector on failures does shed 1 to 3 s sooner on outages at 1,000 requests/s and more"', () => {
    const outages = [...table()].filter(([id]) => /^outage[a-z-]*@(1000|5000|10000)$/.test(id))
    expect(outages.length).toBeGreaterThan(0)
    for (const [, r] of outages) {
      expect(r.gains.get('+change-point, failures')).toBeGreaterThanOrEqual(1)
      expect(r.gains.get('+change-point, failures')).toBeLessThanOrEqual(3)
    }
    expect(readme).toContain('change-point detector on failures does shed 1 to 3 s sooner on outages at 1,000 requests/s and more')
  })

  it('"chosen on the train half, 35% trips 96 times a day on 12% chronic errors at 2 requests/s"', () => {
    expect(chosen('static threshold')).toMatch(/test +96 \(noise-chronic-12@2\)/)
    expect(readme).toContain('chosen on the train half, 35% trips 96 times a day on 12% chronic errors at 2 requests/s')
  })

  it('"on failures 11 s earlier on an error ramp at 1,000 requests/s and 7 s at 20, also without a false trip"', () => {
    const rows = table()
    expect(Math.round(rows.get('error-ramp@1000')?.gains.get('+cusum, failures') ?? 0)).toBe(11)
    expect(Math.round(rows.get('error-ramp@20')?.gains.get('+cusum, failures') ?? 0)).toBe(7)
    expect(chosen('+cusum, failures')).toMatch(/train +0 \(-\), test +0 \(-\)/)
    expect(readme).toContain('on failures 11 s earlier on an error ramp at 1,000 requests/s and 7 s at 20, also without a false trip')
  })

  it('"both in one part, with a persistence rule on failures, shed load 15 s or more earlier on all four incidents with a precursor, still without a false trip"', () => {
    const rows = [...table().values()]
    const ahead = rows.filter((r) => r.precursor && (r.gains.get('+cusum, persistent') ?? 0) >= 15)
    expect(ahead).toHaveLength(4)
    expect(chosen('+cusum, persistent')).toMatch(/train +0 \(-\), test +0 \(-\)/)
    // "though up to N s later than the threshold on sudden failures at 2 requests/s"
    const late = [...table()].filter(([id]) => id.endsWith('@2')).map(([, r]) => r.gains.get('+cusum, persistent') ?? 0)
    const worst = -Math.min(...late)
    expect(readme).toContain(
      `both in one part, with a persistence rule on failures, shed load 15 s or more earlier on all four incidents with a precursor, still without a false trip, though up to ${worst.toFixed(1)} s later than the threshold on sudden failures at 2 requests/s`,
    )
  })

  it('"a latency CUSUM prototype sheds load 27 to 28 s earlier on a latency creep, with no false trip on any noise cell"', () => {
    const creep = [...table()].filter(([id]) => id.startsWith('latency-creep@'))
    expect(creep).toHaveLength(2)
    for (const [, r] of creep) {
      // "27 to 28 s", rounded.
      expect(Math.round(r.gains.get('+cusum, latency') ?? 0)).toBeGreaterThanOrEqual(27)
      expect(Math.round(r.gains.get('+cusum, latency') ?? 0)).toBeLessThanOrEqual(28)
    }
    expect(chosen('+cusum, latency')).toMatch(/train +0 \(-\), test +0 \(-\)/)
    expect(readme).toContain('sheds load 27 to 28 s earlier on a latency creep, with no false trip on any noise cell')
  })
})
