/**
 * `pnpm bench:defaults`: honest defaults. For each default of a part, the tuner picks a value on
 * the train half of the scenario space over seeds 1..10 (default cost: goodput lost against the
 * oracle plus a quarter of the calls wasted; at most one false trip a day on any noise cell), and
 * the shipped default and the chosen value are then both reported on the test half over seeds
 * 101..120, which the choice never saw. Each knob is varied alone from the matrix's baseline
 * (failure rate 50% over 10 s, classic half-open, 5 s open), or from the part's own row.
 *
 *   pnpm bench:defaults [--quick] [--workers N] [--knobs PATH,PATH]
 *
 * Writes bench/out/defaults.json. `--quick` runs one knob on a few cells and seeds (CI).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import {
  best,
  type Candidate,
  candidatesOf,
  DEFAULT_WEIGHTS,
  type Evaluation,
  libraryRows,
  parseSpace,
  qualitySpace,
  selectCells,
  tuneAll,
} from '@datapunk/breaker-sim'

interface Knob {
  /** The part and setting, as the docs name it. */
  readonly name: string
  /** The row whose config the knob varies. */
  readonly row: string
  readonly path: string
  readonly values: ReadonlyArray<number>
  /** The value the library ships (what a config that leaves the setting out gets). */
  readonly shipped: number
}

const KNOBS: ReadonlyArray<Knob> = [
  { name: 'failure-rate minimumCalls', row: 'classic', path: 'trip.minimumCalls', values: [5, 10, 20, 50], shipped: 10 },
  { name: 'classic probes', row: 'classic', path: 'recovery.probes', values: [1, 3, 10], shipped: 1 },
  {
    name: 'open duration (constant) ms',
    row: 'classic',
    path: 'openFor.ms',
    values: [1_000, 5_000, 15_000, 30_000, 60_000],
    shipped: 1_000,
  },
  { name: 'gradual stageCalls', row: 'gradual', path: 'recovery.stageCalls', values: [5, 10, 20, 50], shipped: 10 },
  { name: 'gradual initialRate', row: 'gradual', path: 'recovery.initialRate', values: [0.05, 0.1, 0.25, 0.5], shipped: 0.25 },
  {
    name: 'gradual failureRateThreshold',
    row: 'gradual',
    path: 'recovery.failureRateThreshold',
    values: [0.1, 0.2, 0.35, 0.5],
    shipped: 0.5,
  },
  // How fast the ramp climbs once clean: the first step, how much it may double, how short a stage may be.
  { name: 'gradual increment', row: 'gradual', path: 'recovery.increment', values: [0.05, 0.1, 0.2, 0.4], shipped: 0.1 },
  { name: 'gradual maxSpeed', row: 'gradual', path: 'recovery.maxSpeed', values: [1, 2, 4, 8], shipped: 4 },
  { name: 'gradual stageMs', row: 'gradual', path: 'recovery.stageMs', values: [0, 250, 500, 1_000], shipped: 500 },
  { name: 'gradual burstMs', row: 'gradual', path: 'recovery.burstMs', values: [0, 250, 500, 1_000, 2_000], shipped: 500 },
  {
    name: 'consecutive-failures threshold (no default: the demo uses 10)',
    row: 'consecutive+backoff',
    path: 'trip.threshold',
    values: [5, 10, 20, 50],
    shipped: 10,
  },
]

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const workersAt = args.indexOf('--workers')
const workers = workersAt >= 0 ? Number(args[workersAt + 1]) : availableParallelism()
const space = qualitySpace()
const pick = (selector: string) => {
  const picked = selectCells(selector, space)
  if ('unknown' in picked) throw new Error(`no cells ${picked.unknown.join(', ')}`)
  return picked.cells
}
const trainCells = quick ? pick('outage@2,partial-30@20,noise-bursts-40@20') : pick('train')
const testCells = quick ? pick('outage@20,flapping@20,noise-background-5@2') : pick('test')
const trainSeeds = quick ? [1] : Array.from({ length: 10 }, (_, i) => i + 1)
const testSeeds = quick ? [101] : Array.from({ length: 20 }, (_, i) => i + 101)
const constraints = { falseTripsPerDay: 1 }
const rows = libraryRows()

interface Result {
  readonly knob: string
  readonly path: string
  readonly shipped: number
  readonly chosen: number | null
  readonly train: ReadonlyArray<{ readonly value: number; readonly cost: number; readonly withinConstraints: boolean }>
  readonly test: { readonly shipped: Evaluation; readonly chosen: Evaluation | null }
}

const results: Result[] = []
const knobsAt = args.indexOf('--knobs')
const only = knobsAt >= 0 ? (args[knobsAt + 1] ?? '').split(',') : undefined
const chosenKnobs = quick ? KNOBS.slice(0, 1) : KNOBS.filter((k) => only === undefined || only.includes(k.path))
if (chosenKnobs.length === 0) throw new Error(`--knobs: none of ${only?.join(', ')} (knobs: ${KNOBS.map((k) => k.path).join(', ')})`)
for (const knob of chosenKnobs) {
  const base = rows.find((r) => r.name === knob.row)?.config
  const decoded = parseSpace({ base, parameters: [{ path: knob.path, values: knob.values }], constraints }, knob.name)
  if (decoded._tag === 'Left') throw new Error(decoded.left)
  const candidates = candidatesOf(decoded.right, 100)
  if (candidates._tag === 'Left') throw new Error(candidates.left)
  const started = performance.now()
  const onTrain = await tuneAll(candidates.right, { kind: 'cells', cells: trainCells, seeds: trainSeeds }, DEFAULT_WEIGHTS, {
    workers,
    constraints,
  })
  const winner = best(onTrain)
  const knobValue = (c: Candidate | undefined) => c?.values[knob.path] as number
  const chosen = winner === undefined ? null : knobValue(candidates.right[winner.index])
  const testOf = (value: number) => candidates.right.find((c) => knobValue(c) === value)
  const shippedCandidate = testOf(knob.shipped) ?? (candidates.right[0] as Candidate)
  const toTest = chosen === null || chosen === knob.shipped ? [shippedCandidate] : [shippedCandidate, testOf(chosen) as Candidate]
  const onTest = await tuneAll(
    toTest.map((c, index) => ({ ...c, index })),
    { kind: 'cells', cells: testCells, seeds: testSeeds },
    DEFAULT_WEIGHTS,
    { workers, constraints },
  )
  const shippedOnTest = onTest[0] as Evaluation
  const result: Result = {
    knob: knob.name,
    path: knob.path,
    shipped: knob.shipped,
    chosen,
    train: onTrain.map((e) => ({ value: knobValue(candidates.right[e.index]), cost: e.cost, withinConstraints: e.withinConstraints })),
    test: { shipped: shippedOnTest, chosen: chosen === knob.shipped ? shippedOnTest : (onTest[1] ?? null) },
  }
  results.push(result)
  const fmt = (e: Evaluation | null) =>
    e === null
      ? '-'
      : `cost ${e.cost.toFixed(2)} (shortfall ${e.oracleShortfall.toFixed(2)}, wasted ${e.wastedShare.toFixed(2)}%, ${e.falseTripsPerDay.toFixed(1)} false trips/day)`
  console.log(`${knob.name} (${knob.path}) in ${((performance.now() - started) / 1000).toFixed(0)} s`)
  console.log(
    `  train: ${result.train.map((t) => `${t.value}: ${t.cost.toFixed(2)}${t.withinConstraints ? '' : ' (over the false-trip budget)'}`).join(', ')}`,
  )
  console.log(`  chosen on train: ${chosen ?? 'none within the budget'}; shipped: ${knob.shipped}`)
  console.log(`  test, shipped ${knob.shipped}: ${fmt(result.test.shipped)}`)
  if (chosen !== null && chosen !== knob.shipped) console.log(`  test, chosen ${chosen}: ${fmt(result.test.chosen)}`)
}
const out = fileURLToPath(new URL('../../out/', import.meta.url))
mkdirSync(out, { recursive: true })
writeFileSync(
  `${out}defaults.json`,
  `${JSON.stringify({ train: { cells: trainCells.length, seeds: trainSeeds }, test: { cells: testCells.length, seeds: testSeeds }, results }, null, 2)}\n`,
)
