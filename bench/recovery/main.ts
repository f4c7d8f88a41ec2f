/**
 * `pnpm bench:recovery`: gradual recovery against classic half-open on the scenarios of the
 * gradual-recovery issue, medians over 20 seeds, next to the gradual recovery of commit 6ba9c57
 * (before the evidence-driven ramp), and whether each target holds. The medians of today's code
 * are computed by this run; the earlier ones are read from `before.json`, recorded by this same
 * program from the old core (see `--record-before` below and bench/recovery/README.md).
 *
 *   pnpm bench:recovery [--seeds A..B] [--quick]
 *   pnpm bench:recovery --record-before /path/to/old/packages/core/dist/index.js [--label TEXT]
 *
 * Writes bench/out/recovery.json. Not a test: the simulator's tests assert behaviour.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Strategy } from '@datapunk/breaker'
import { demoDetection, demoStrategies, type RunSummary, scenarios, simulate } from '@datapunk/breaker-sim'

const SCENARIOS = ['outage', 'brownout', 'flapping', 'fragile-recovery', 'fragile-cliff', 'cascading'] as const

/** The medians of one strategy on one scenario over the seeds. */
interface Row {
  readonly success: number
  readonly wasted: number
  readonly needless: number
  /** Seconds back to full traffic (median over the seeds that got there), and how many never did. */
  readonly fullS: number | null
  readonly never: number
  readonly collapses: number
}

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

const rowOf = (runs: ReadonlyArray<RunSummary>): Row => {
  const reached = runs.flatMap((r) => (r.timeToFullMs === null ? [] : [r.timeToFullMs / 1000]))
  return {
    success: median(runs.map((r) => r.successRate)),
    wasted: median(runs.map((r) => r.wasted)),
    needless: median(runs.map((r) => r.needless)),
    // More seeds that never got back than did: the median is "never".
    fullS: reached.length * 2 > runs.length ? median(reached) : null,
    never: runs.length - reached.length,
    collapses: median(runs.map((r) => r.collapses)),
  }
}

type Table = Record<string, Record<string, Row>>

const measure = (strategies: ReadonlyArray<Strategy<unknown>>, seeds: ReadonlyArray<number>): Table => {
  const table: Table = {}
  for (const name of SCENARIOS) {
    const scenario = scenarios[name]
    if (scenario === undefined) throw new Error(`missing scenario ${name}`)
    const perStrategy = strategies.map(() => [] as RunSummary[])
    for (const seed of seeds) {
      simulate(scenario, strategies, { seed }).forEach((run, i) => {
        perStrategy[i]?.push(run.summary)
      })
    }
    table[name] = Object.fromEntries(strategies.map((s, i) => [s.name, rowOf(perStrategy[i] ?? [])]))
  }
  return table
}

const args = process.argv.slice(2)
const optionOf = (flag: string): string | undefined => {
  const i = args.indexOf(flag)
  return i < 0 ? undefined : args[i + 1]
}
const seedSpec = optionOf('--seeds') ?? (args.includes('--quick') ? '1..3' : '1..20')
const range = /^(\d+)\.\.(\d+)$/.exec(seedSpec)
if (range === null) throw new Error(`--seeds: expected A..B, got ${seedSpec}`)
const seeds = Array.from({ length: Number(range[2]) - Number(range[1]) + 1 }, (_, i) => Number(range[1]) + i)
const here = fileURLToPath(new URL('../../recovery/', import.meta.url))
const beforePath = `${here}before.json`

const recordBefore = optionOf('--record-before')
if (recordBefore !== undefined) {
  // The old core's `circuit`, with the demo's gradual config of that time and its defaults.
  const old = (await import(recordBefore)) as { circuit: (config: unknown) => Strategy<unknown> }
  const common = { trip: demoDetection, openFor: { kind: 'constant', ms: 5_000 } }
  const strategies = [
    old.circuit({
      ...common,
      name: 'demo config',
      recovery: { kind: 'gradual', initialRate: 0.1, increment: 0.1, maxSpeed: 1, stageCalls: 20, stageMs: 10_000 },
    }),
    old.circuit({ ...common, name: 'defaults', recovery: { kind: 'gradual' } }),
  ]
  const table = measure(strategies, seeds)
  const label = optionOf('--label') ?? recordBefore
  writeFileSync(beforePath, `${JSON.stringify({ core: label, seeds: seedSpec, table }, null, 2)}\n`)
  console.log(`recorded ${beforePath}`)
  process.exit(0)
}

const [classic, gradual] = demoStrategies()
if (classic === undefined || gradual === undefined) throw new Error('missing demo strategies')
const now = measure([classic, gradual], seeds)
const before = (JSON.parse(readFileSync(beforePath, 'utf8')) as { table: Table }).table

const pct = (x: number) => `${(x * 100).toFixed(1)}%`
const secs = (r: Row) => (r.fullS === null ? 'never' : `${r.fullS.toFixed(1)} s`)
const cells = (r: Row | undefined) =>
  r === undefined ? ['-', '-', '-', '-'] : [pct(r.success), String(Math.round(r.wasted)), secs(r), String(r.collapses)]

interface Target {
  readonly scenario: string
  readonly text: string
  readonly met: boolean
}
const targets: Target[] = []
const at = (name: string) => {
  const c = now[name]?.classic
  const g = now[name]?.gradual
  if (c === undefined || g === undefined) throw new Error(`missing rows for ${name}`)
  return { c, g, old: before[name]?.['demo config'] }
}
{
  const { c, g } = at('outage')
  targets.push({
    scenario: 'outage',
    text: `success within 2 points of classic (${pct(g.success)} vs ${pct(c.success)})`,
    met: g.success >= c.success - 0.02,
  })
  targets.push({ scenario: 'outage', text: `back to full within 15 s (${secs(g)})`, met: g.fullS !== null && g.fullS <= 15 })
}
for (const name of ['brownout', 'flapping']) {
  const { c, g } = at(name)
  targets.push({
    scenario: name,
    text: `success at least classic's minus 2 points (${pct(g.success)} vs ${pct(c.success)})`,
    met: g.success >= c.success - 0.02,
  })
  targets.push({
    scenario: name,
    text: `fewer wasted calls than classic (${Math.round(g.wasted)} vs ${Math.round(c.wasted)})`,
    met: g.wasted < c.wasted,
  })
}
{
  const { g, old } = at('fragile-recovery')
  targets.push({ scenario: 'fragile-recovery', text: `0 collapses (${g.collapses})`, met: g.collapses === 0 })
  targets.push({ scenario: 'fragile-recovery', text: `success at least 64% (${pct(g.success)})`, met: g.success >= 0.64 })
  const oldFull = old?.fullS ?? null
  targets.push({
    scenario: 'fragile-recovery',
    text: `back to full sooner than before (${secs(g)} vs ${oldFull === null ? 'never' : `${oldFull.toFixed(1)} s`})`,
    met: g.fullS !== null && (oldFull === null || g.fullS < oldFull),
  })
}

console.log(`Gradual recovery vs classic half-open, medians over seeds ${seedSpec} (node ${process.version})`)
console.log('columns: success / wasted / back to full / collapses; "before" is commit 6ba9c57 (bench/recovery/before.json)\n')
const header = ['scenario', 'classic', 'gradual before (demo config)', 'gradual before (defaults)', 'gradual now (defaults)']
const lines = [header, header.map(() => '---')]
for (const name of SCENARIOS) {
  lines.push([
    name,
    cells(now[name]?.classic).join(' / '),
    cells(before[name]?.['demo config']).join(' / '),
    cells(before[name]?.defaults).join(' / '),
    cells(now[name]?.gradual).join(' / '),
  ])
}
for (const line of lines) console.log(`| ${line.join(' | ')} |`)
console.log('\nTargets of the gradual-recovery issue (default config, medians):')
for (const t of targets) console.log(`  ${t.met ? 'met    ' : 'MISSED '} ${t.scenario}: ${t.text}`)
mkdirSync(fileURLToPath(new URL('../../out/', import.meta.url)), { recursive: true })
writeFileSync(
  fileURLToPath(new URL('../../out/recovery.json', import.meta.url)),
  `${JSON.stringify({ seeds: seedSpec, now, before, targets }, null, 2)}\n`,
)
