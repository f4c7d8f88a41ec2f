/**
 * The numbers the README and the demo state about gradual recovery against classic half-open
 * come from somewhere a test can read: the quality matrix's latest full run
 * (bench/quality/RESULTS.md, written by `pnpm bench:quality`) and the demo's own run. Each
 * claim is recomputed here from that source, so a new matrix run that changes them fails until
 * the text says what the run shows.
 */
import { readFileSync } from 'node:fs'
import { strategyFromConfig } from '@datapunk/breaker'
import { demoStrategies, libraryRows, scenarios, simulate } from '@datapunk/breaker-sim'
import { describe, expect, it } from 'vitest'

const read = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8')
/** Text with every run of white space as one space (claims wrap differently in each place). */
const flat = (text: string) => text.replace(/\s+/g, ' ')
const readme = flat(read('../README.md'))
const demoNote = flat(read('../packages/sim/src/cli/main.ts'))

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

  it('reads the whole matrix: 82 cells, a median for each', () => {
    expect(cells.size).toBe(82)
    for (const median of cells.values()) expect(Number.isFinite(median)).toBe(true)
  })

  it('"within 2 points of classic on every cell but flapping at 5,000 requests/s, where three recoveries cost 2.1"', () => {
    const lost = rest.filter(([, median]) => median < -2)
    expect(lost.map(([cell]) => cell)).toEqual(['flapping@5000'])
    expect(lost.map(([, m]) => m)).toEqual([-2.1])
    expect(cells.get('flapping@1000')).toBe(-2.0)
    expect(readme).toContain(
      'within 2 points of classic on every cell of [the quality matrix](bench/quality/README.md) but flapping at 5,000 requests/s, where three recoveries cost 2.1',
    )
    expect(readme).toContain('but flapping at 5,000 requests/s (2.1 points: each of three recoveries costs a ramp; 2.0 at 1,000)')
    expect(demoNote).toContain('it loses up to 2.1 points to classic')
    expect(demoNote).toContain('it is within 2 points of classic on every cell but flapping at 5,000 requests/s')
  })

  it('"21 to 60 points ahead on eleven of the thirteen fragile cells"', () => {
    expect(fragile).toHaveLength(13)
    const ahead = fragile.map(([, m]) => m).filter((m) => Math.round(m) >= 20)
    expect(ahead).toHaveLength(11)
    expect(Math.round(Math.min(...ahead))).toBe(21)
    expect(Math.round(Math.max(...ahead))).toBe(60)
    expect(demoNote).toContain('21 to 60 points ahead on eleven of the thirteen fragile cells')
    expect(readme).toContain('21 to 60 points ahead on eleven of the thirteen fragile cells')
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

/** A summary row of the matrix's latest full run, by strategy name (the tables are padded: cells trimmed). */
const summaryRow = (name: string): ReadonlyArray<string> => {
  const text = read('../bench/quality/RESULTS.md')
  const summary = text.slice(text.indexOf('### Summary'), text.indexOf('### Success against classic'))
  return (
    summary
      .split('\n')
      .map((l) => l.split('|').map((c) => c.trim()))
      .find((cells) => cells[1] === name) ?? []
  )
}
/** A summary row by column name. */
const summaryOf = (name: string) => {
  const row = summaryRow(name)
  // | strategy | median cell | worst cell | worst seed | lost >2 | won >2 | oracle share | worst oracle share | false trips/day | collapses |
  return { median: row[2], worstCell: row[3], lost: row[5], won: row[6], oracle: row[7], falseTrips: row[9], collapses: row[10] }
}

describe('what the README says the cusum detector costs on the quality matrix', () => {
  it('"lose more than 2 points on 9 of 82 cells, up to 5.3 (a latency creep at 1,000 requests/s) ... 262 collapses against 266.5, and trip on no noise cell"', () => {
    expect(read('../bench/quality/RESULTS.md')).toContain('on 82 cells')
    expect(summaryOf('+cusum')).toMatchObject({ worstCell: '-5.3 latency-creep@1000', lost: '9', falseTrips: '0', collapses: '262' })
    expect(summaryOf('classic').collapses).toBe('266.5')
    expect(readme).toContain(
      'lose more than 2 points on 9 of 82 cells, up to 5.3 (a latency creep at 1,000 requests/s), because shedding early on an upstream that only degrades rejects calls that would still have succeeded',
    )
    expect(readme).toContain(
      'they save no fragile upstream the threshold does not (262 collapses against 266.5), and trip on no noise cell',
    )
  })
})

describe('what the README says about the throttle around gradual recovery', () => {
  it('"loses to classic half-open on no cell (worst -0.9 ...), wins 26 cells by more than 2 points (14 ..., twelve fragile ones, by 21 to 56 points), 98.9% ... against 97.6%, 61.5 times against 266.5"', () => {
    expect(demoNote).toContain('loses no cell of the space to classic and wins 26, fragile ones included')
    expect(summaryOf('throttle+gradual')).toEqual({
      median: '+0.6',
      worstCell: '-0.9 flapping@20',
      lost: '0',
      won: '26',
      oracle: '98.9%',
      falseTrips: '0',
      collapses: '61.5',
    })
    expect(summaryOf('classic').oracle).toBe('97.6%')
    const results = read('../bench/quality/RESULTS.md')
    const table = results.slice(results.indexOf('### Success against classic, per cell'), results.indexOf('### Share of the oracle'))
    const lines = table.split('\n').filter((l) => l.startsWith('|'))
    const column = (lines[0] ?? '')
      .split('|')
      .map((c) => c.trim())
      .indexOf('throttle+gradual')
    const cells = lines.slice(2).map((l) => l.split('|').map((c) => c.trim()))
    const of = (c: ReadonlyArray<string>) => /^([+-]?\d+\.\d) \[([+-]?\d+\.\d)\]$/.exec(c[column] ?? '')
    const fragileWins = cells
      .filter((c) => (c[1] ?? '').startsWith('fragile-'))
      .map((c) => Number(of(c)?.[1]))
      .filter((d) => d > 2)
    expect(fragileWins).toHaveLength(12)
    expect([Math.round(Math.min(...fragileWins)), Math.round(Math.max(...fragileWins))]).toEqual([21, 56])
    const steady = cells.filter((c) => !(c[1] ?? '').startsWith('fragile-'))
    // More than 2 in the summary's unrounded figures.
    expect(steady.filter((c) => Number(of(c)?.[1]) >= 2)).toHaveLength(14)
    const worstSeeds = steady.map((c) => [c[1], Number(of(c)?.[2])] as const).sort(([, a], [, b]) => a - b)
    expect(worstSeeds[0]).toEqual(['partial-50@1000', -4.4])
    // The README's config is the row's, named for the example, and reads as a strategy.
    const raw = read('../README.md')
    const block = raw.slice(raw.indexOf('**Throttle and gradual recovery together**'))
    const json = JSON.parse(/```json\n([\s\S]*?)```/.exec(block)?.[1] ?? 'null') as { circuit: { name: string } }
    const shipped = libraryRows().find((r) => r.name === 'throttle+gradual')?.config as { circuit: { name: string } }
    expect({ ...json, circuit: { ...json.circuit, name: shipped.circuit.name } }).toEqual(shipped)
    expect(strategyFromConfig(json)._tag).toBe('Right')
    expect(readme).toContain(
      "it loses to classic half-open on no cell (worst -0.9 on flapping at 20 requests/s; no seed of a cell whose upstream is not fragile loses more than 5: the worst 4.4, on a partial recovery at 50% errors and 1,000 requests/s), wins 26 cells by more than 2 points (14 where the upstream degrades, flaps or returns in steps, and twelve fragile ones, by 21 to 56 points), keeps 98.9% of the oracle's goodput at the median cell against classic's 97.6%, never trips on noise, and collapses fragile upstreams 61.5 times against classic's 266.5",
    )
  })
})

describe('what the README and `train` say about the learned predictor', () => {
  it('"it wins no cell of the quality matrix by more than 2 points and loses 5, up to 3.9"', () => {
    expect(summaryOf('+learned')).toMatchObject({
      worstCell: '-3.9 cascading@1000',
      lost: '5',
      won: '0',
      falseTrips: '0',
      collapses: '262.5',
    })
    expect(readme).toContain(
      'it costs success as the CUSUM does, less often: more than 2 points on 5 of 82 cells, up to 3.9 (cascading failures at 1,000 requests/s), with no cell won by more than 2, no false trip, and no fragile upstream saved (262.5 collapses against 266.5)',
    )
    expect(demoNote).toContain(
      'it costs up to 3.9 points where an upstream only degrades: it wins no cell by more than 2 points and loses 5',
    )
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
    const rows = new Map<string, { precursor: boolean; gains: Map<string, number>; sheds: Map<string, number> }>()
    for (const line of lines.slice(at + 1)) {
      const cells = line.trim().split(/ {2,}/)
      if (cells.length !== header.length) break
      const gains = new Map<string, number>()
      const sheds = new Map<string, number>()
      header.slice(2).forEach((name, i) => {
        const cell = cells[i + 2] ?? ''
        const gain = /\(([+-]\d+\.\d)\)/.exec(cell)
        gains.set(name, gain === null ? 0 : Number(gain[1]))
        sheds.set(name, Number.parseFloat(cell))
      })
      rows.set(cells[0] ?? '', { precursor: cells[1] === 'yes', gains, sheds })
    }
    return rows
  }
  const LIBRARY = ['+change-point, failures', '+change-point, latency', '+trend-forecast']

  it('"neither the change-point detector nor the trend forecast sheds load more than 2.5 s earlier than a static 35% threshold at the same budget on an error ramp or a latency creep"', () => {
    expect(chosen('static threshold')).toContain('threshold 0.35')
    const rows = [...table().values()]
    const gains = rows.filter((r) => r.precursor).flatMap((r) => LIBRARY.map((p) => r.gains.get(p) ?? Number.NaN))
    expect(gains).toHaveLength(12)
    expect(Math.max(...gains)).toBe(2.5)
    expect(readme).toContain(
      'nor the trend forecast sheds load more than 2.5 s earlier than a static 35% threshold at the same budget on an error ramp or a latency creep',
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

  it('"the most sensitive threshold that keeps the budget on both halves (a choice only hindsight makes) is 45%"', () => {
    expect(chosen('(hindsight)')).toMatch(/threshold 0\.45 +the most sensitive that keeps the budget on both halves: test +0 \(-\)/)
    expect(readme).toContain('the most sensitive threshold that keeps the budget on both halves (a choice only hindsight makes) is 45%')
  })

  const HINDSIGHT = 'static 0.45 (hindsight)'
  const BOTH = '+cusum, both, on hindsight'
  it('"sheds load 11 s or more earlier than the 35% threshold on all four incidents with a precursor, and 22 s or more earlier than 45% alone, with no false trip on any noise cell of either half"', () => {
    const precursors = [...table().values()].filter((r) => r.precursor)
    expect(precursors).toHaveLength(4)
    for (const r of precursors) {
      expect(r.gains.get(BOTH)).toBeGreaterThanOrEqual(11)
      expect((r.sheds.get(HINDSIGHT) ?? 0) - (r.sheds.get(BOTH) ?? 0)).toBeGreaterThanOrEqual(22)
    }
    expect(chosen(BOTH)).toMatch(/falseTripsPerDay 10 +train +0 \(-\), test +0 \(-\)/)
    expect(readme).toContain(
      'sheds load 11 s or more earlier than the 35% threshold on all four incidents with a precursor, and 22 s or more earlier than 45% alone, with no false trip on any noise cell of either half',
    )
  })

  it('"never later than 45% alone, and later than 35% (which breaks the budget) on sudden failures by up to 1.4 s at 2 requests/s and 0.3 s at 20 to 200"', () => {
    const rows = [...table()]
    for (const [, r] of rows) expect(r.sheds.get(BOTH)).toBeLessThanOrEqual(r.sheds.get(HINDSIGHT) ?? 0)
    const late = (suffix: RegExp) =>
      Math.max(0, ...rows.filter(([id, r]) => suffix.test(id) && !r.precursor).map(([, r]) => -(r.gains.get(BOTH) ?? 0)))
    expect(late(/@2$/)).toBe(1.4)
    expect(late(/@(20|200)$/)).toBe(0.3)
    expect(late(/@(1000|5000|10000)$/)).toBe(0)
    expect(readme).toContain(
      'it is never later than 45% alone, and later than 35% (which breaks the budget) on sudden failures by up to 1.4 s at 2 requests/s and 0.3 s at 20 to 200',
    )
  })

  it('"On latency alone it sheds load 28.5 and 29.5 s earlier on the latency creeps; on failures alone, 11.2 and 18.4 s earlier on the error ramps"', () => {
    const rows = table()
    const creep = [...rows].filter(([id]) => id.startsWith('latency-creep@'))
    expect(creep).toHaveLength(2)
    expect(creep.map(([, r]) => r.gains.get('+cusum, latency'))).toEqual([28.5, 29.5])
    expect(rows.get('error-ramp@20')?.gains.get('+cusum, failures')).toBe(11.2)
    expect(rows.get('error-ramp@1000')?.gains.get('+cusum, failures')).toBe(18.4)
    for (const part of ['+cusum, latency', '+cusum, failures']) expect(chosen(part)).toMatch(/train +0 \(-\), test +0 \(-\)/)
    expect(readme).toContain(
      'On latency alone it sheds load 28.5 and 29.5 s earlier on the latency creeps; on failures alone, 11.2 and 18.4 s earlier on the error ramps',
    )
  })

  /** The learned section: per held-out kind (the predictor as `train` fits it), the gain over the hindsight threshold per cell. */
  const heldOut = () => {
    const at = lines.findIndex((l) => l.startsWith('The learned predictor, one incident kind held out at a time'))
    const kinds = new Map<string, { header: string; gains: Map<string, number> }>()
    let current: { header: string; gains: Map<string, number> } | undefined
    for (const line of lines.slice(at + 1)) {
      const kind = /^ {2}held out: ([a-z ]+) \(/.exec(line)
      if (kind !== null) {
        current = { header: line, gains: new Map() }
        kinds.set(kind[1] ?? '', current) // the shipped variant has no [label]
        continue
      }
      if (/^ {2}held out: /.test(line)) current = undefined
      const cell = /^ {4}(\S+@\d+) .*against 0\.45: +([+-]?\d+\.\d) s$/.exec(line)
      if (cell !== null && current !== undefined) current.gains.set(cell[1] ?? '', Number(cell[2]))
    }
    return kinds
  }

  it('"14 to 15 s earlier than 45% alone on latency creeps it never saw, 30 to 49 s on cascading failures, about 2 s on outages and partial failures from 20 requests/s up, no false trip; 0 to 0.7 s on error ramps"', () => {
    const kinds = heldOut()
    expect([...kinds.keys()].sort()).toEqual(['cascading', 'error ramp', 'latency creep', 'outage', 'partial failure'])
    for (const { header } of kinds.values()) expect(header).toContain('test noise: 0 false trips a day at worst')
    const gains = (kind: string) => [...(kinds.get(kind)?.gains ?? new Map<string, number>()).values()]
    expect(Math.floor(Math.min(...gains('latency creep')))).toBe(14)
    expect(Math.floor(Math.max(...gains('latency creep')))).toBe(15)
    expect(Math.floor(Math.min(...gains('cascading')))).toBe(30)
    expect(Math.floor(Math.max(...gains('cascading')))).toBe(49)
    expect(Math.min(...gains('error ramp'))).toBe(0)
    expect(Math.max(...gains('error ramp'))).toBe(0.7)
    for (const kind of ['outage', 'partial failure'])
      for (const [cell, gain] of kinds.get(kind)?.gains ?? []) {
        if (/@2$/.test(cell) || cell.startsWith('cold-down')) continue
        expect(gain).toBeGreaterThanOrEqual(1.3)
        expect(gain).toBeLessThanOrEqual(2.2)
      }
    expect(readme).toContain(
      'It sheds load 14 to 15 s earlier than 45% alone on latency creeps it never saw, 30 to 49 s earlier on cascading failures and about 2 s earlier on outages and partial failures from 20 requests/s up, with no false trip on any noise cell; on error ramps it never saw it is no earlier (0 to 0.7 s)',
    )
    expect(demoNote).toContain('a model sheds load 14 to 15 s before the best threshold')
    expect(demoNote).toContain('on latency creeps it never saw, and no sooner on error ramps')
  })

  it('"without them it is about 5 s ahead on the latency creeps"', () => {
    const at = lines.findIndex((l) => l.startsWith('  held out: latency creep [bucket features only]'))
    const gains = lines.slice(at + 1, at + 3).map((l) => Number(/against 0\.45: +([+-]?\d+\.\d) s$/.exec(l)?.[1]))
    expect(gains).toEqual([4.7, 5.5])
    expect(readme).toContain(
      'Its averages over about 10 and 60 buckets make the difference: without them it is about 5 s ahead on the latency creeps',
    )
  })

  it('bench/prediction/README.md: the held-out table says what SPACE.md measured, for each way of training', () => {
    const bench = read('../bench/prediction/README.md')
    const table = new Map(
      bench
        .split('\n')
        .filter((l) => /^\| (latency creep|error ramp|cascading|outage|partial failure) /.test(l))
        .map((l) => {
          const cells = l.split('|').map((c) => c.trim())
          return [cells[1] ?? '', cells.slice(2, 5)] as const
        }),
    )
    /** Each variant's gains per kind, in cell order, from SPACE.md. */
    const gains = (label: string, kind: string): number[] => {
      const header = `  held out: ${kind}${label === '' ? ' (' : ` [${label}] (`}`
      const at = lines.findIndex((l) => l.startsWith(header))
      const out: number[] = []
      for (const line of lines.slice(at + 1)) {
        const m = /^ {4}\S+@\d+ .*against 0\.45: +([+-]?\d+\.\d) s$/.exec(line)
        if (m === null) break
        out.push(Number(m[1]))
      }
      return out
    }
    const show = (x: number) => (x > 0 ? `+${x.toFixed(1)}` : x.toFixed(1))
    const variants = ['', 'bucket features only', 'classes weighed']
    variants.forEach((label, i) => {
      for (const kind of ['latency creep', 'error ramp', 'cascading']) {
        const cell = table.get(kind)?.[i] ?? ''
        expect(cell.startsWith(gains(label, kind).map(show).join(', '))).toBe(true)
      }
    })
    expect(table.get('outage')?.[0]).toBe('+1.3 to +2.2 from 20 requests/s, 0 at 2')
    expect(table.get('partial failure')?.[0]).toBe('+2.0 to +2.2 from 20 requests/s, 0 at 2')
    expect(
      gains('', 'outage')
        .filter((g) => g !== 0)
        .sort((a, b) => a - b)[0],
    ).toBe(1.3)
    expect(Math.max(...gains('', 'outage'), ...gains('', 'partial failure'))).toBe(2.2)
    expect(gains('bucket features only', 'outage')).toEqual(gains('', 'outage')) // "the same"
    expect(Math.max(...gains('bucket features only', 'partial failure'))).toBe(0)
    expect(gains('classes weighed', 'outage')).toEqual(gains('', 'outage')) // "the same"
    expect(Math.max(...gains('classes weighed', 'partial failure'))).toBe(2)
  })
})
