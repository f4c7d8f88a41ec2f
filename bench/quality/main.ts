/**
 * `pnpm bench:quality`: the quality matrix. Every strategy the library ships (and every part
 * combination the docs recommend) on every cell of the scenario space, over 20 held-out seeds,
 * (the learned predictor trained here on the train half), next to the oracle on the same draws: its delta to classic half-open per cell (median and
 * worst seed), its share of the oracle, false trips on the noise cells, and summary rows.
 *
 *   pnpm bench:quality [--quick] [--seeds A..B] [--cells all|train|test|quick|ID,...] [--rows NAME,...] [--workers N] [--html PATH] [--markdown PATH]
 *
 * `--rows +cusum,gradual` runs only those strategies next to classic (the baseline every delta is
 * against), for work on one of them; the learned predictor is trained only when `+learned` runs.
 * `--quick` runs a small spread of cells over 3 seeds (CI). Writes bench/out/quality.json (the
 * whole matrix), with --html a heat map, with --markdown the tables of bench/quality/RESULTS.md. Not a test: the simulator's tests assert behaviour.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  BASELINE,
  libraryRows,
  qualityMatrix,
  qualitySpace,
  renderQualityHtml,
  renderQualityMarkdown,
  renderQualityText,
  selectCells,
  trainPredictor,
} from '@datapunk/breaker-sim'

const args = process.argv.slice(2)
const optionOf = (flag: string): string | undefined => {
  const i = args.indexOf(flag)
  return i < 0 ? undefined : args[i + 1]
}
const quick = args.includes('--quick')
const seedSpec = optionOf('--seeds') ?? (quick ? '101..103' : '101..120')
const range = /^(\d+)\.\.(\d+)$/.exec(seedSpec)
if (range === null) throw new Error(`--seeds: expected A..B, got ${seedSpec}`)
const seeds = Array.from({ length: Number(range[2]) - Number(range[1]) + 1 }, (_, i) => Number(range[1]) + i)
const selected = selectCells(optionOf('--cells') ?? (quick ? 'quick' : 'all'))
if ('unknown' in selected) throw new Error(`--cells: no cell or family named ${selected.unknown.join(', ')}`)
const workers = Number(optionOf('--workers') ?? availableParallelism())

const rowsWanted = optionOf('--rows')
  ?.split(',')
  .filter((r) => r !== '')
const known = libraryRows({
  learnedModel: { bias: 0, weights: { failureRate: 0, failureRateChange: 0, logLatencyRatio: 0, logLatencyRatioChange: 0 } },
}).map((r) => r.name)
const unknownRows = (rowsWanted ?? []).filter((r) => !known.includes(r))
if (unknownRows.length > 0) throw new Error(`--rows: no strategy named ${unknownRows.join(', ')} (there are ${known.join(', ')})`)
const runs = (name: string) => rowsWanted === undefined || name === BASELINE || rowsWanted.includes(name)

// The learned predictor needs a model: trained here on the train half only (up to 1,000 requests/s,
// seeds 1..3), never on the test half or on the seeds the matrix reports.
const trainedAt = performance.now()
const trainCells = qualitySpace().filter((c) => c.half === 'train' && c.rps >= 20 && c.rps <= 1_000)
const trained = runs('+learned')
  ? trainPredictor({
      scenarios: (quick ? trainCells.slice(0, 4) : trainCells).map((c) => c.scenario),
      seeds: quick ? [1] : [1, 2, 3],
      horizonMs: 30_000,
    })
  : undefined
if (trained !== undefined)
  console.log(
    `learned predictor: trained on ${trained.examples} buckets (${trained.positives} positive) of ${quick ? 4 : trainCells.length} train cells in ${((performance.now() - trainedAt) / 1000).toFixed(0)} s\n`,
  )

const started = performance.now()
const showProgress = process.stderr.isTTY === true
const rows = libraryRows(trained === undefined ? {} : { learnedModel: trained.model }).filter((r) => runs(r.name))
const matrix = await qualityMatrix(rows, selected.cells, seeds, {
  workers,
  onProgress: (done, total) => {
    if (!showProgress) return
    const elapsed = (performance.now() - started) / 1000
    const left = done === 0 ? 0 : (elapsed / done) * (total - done)
    process.stderr.write(`\r${done}/${total} (cell, seed) pairs, ${elapsed.toFixed(0)} s, about ${left.toFixed(0)} s left   `)
  },
})
if (showProgress) process.stderr.write('\n')
const seconds = (performance.now() - started) / 1000

console.log(renderQualityText(matrix))
console.log(
  `\n${selected.cells.length} cells x ${seeds.length} seeds x ${matrix.rows.length} strategies and the oracle in ${seconds.toFixed(0)} s on ${workers} worker threads (node ${process.version})`,
)

const out = fileURLToPath(new URL('../../out/', import.meta.url))
mkdirSync(out, { recursive: true })
writeFileSync(
  `${out}quality.json`,
  `${JSON.stringify({ seedRange: seedSpec, seconds: Math.round(seconds), workers, ...matrix }, null, 2)}\n`,
)
/** Writes a rendering of the matrix where an option asks for it. */
const writeIfAsked = (flag: string, render: () => string): void => {
  const target = optionOf(flag)
  if (target === undefined) return
  const path = resolve(target)
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, render())
  console.log(`wrote ${path}`)
}
writeIfAsked('--markdown', () => renderQualityMarkdown(matrix))
writeIfAsked('--html', () => renderQualityHtml(matrix))
