/**
 * The quality matrix: every row (strategy) on every cell of the scenario space over many seeds,
 * next to the oracle on the same draws, reduced to what decides between strategies: success
 * against the baseline (median and worst seed), share of the oracle's goodput, counterfactual
 * needless rejections, caller time lost on failures, collapses, and false trips per simulated day
 * on the noise cells. Deterministic: the result does not depend on the number of worker threads.
 */
import type { Kinds, Strategy } from '@datapunk/breaker'
import { meanRps } from '../Scenario.js'
import { type RunSummary, simulateWithOracle } from '../simulate.js'
import { median } from '../stats.js'
import { BASELINE, type QualityRow, strategyOfRow } from './rows.js'
import type { Cell, Half } from './space.js'

/** What one policy did on one cell and seed: the figures the matrix keeps. */
export interface Figures {
  /** Requests in the run. */
  readonly requests: number
  /** Requests that got a successful response. */
  readonly succeeded: number
  /** Calls let into the upstream that failed. */
  readonly wasted: number
  /** Rejected requests that would have succeeded. */
  readonly needless: number
  /** Seconds callers spent waiting on calls that failed. */
  readonly callerSecondsLost: number
  /** Trips. */
  readonly opens: number
  /** Trips per simulated day. */
  readonly tripsPerDay: number
  /** Times a fragile upstream was brought down again. */
  readonly collapses: number
  /** Seconds back to full traffic after the recovery, or null if it never got there. */
  readonly fullS: number | null
  /** Seconds from the incident to the first request shed (a trip or a throttle), or null if none was. */
  readonly shedS: number | null
}

/** One cell on one seed: the oracle's figures and each row's, in row order. */
export interface CellSeed {
  /** The cell's id (`outage@200`). */
  readonly cell: string
  /** The seed of the run. */
  readonly seed: number
  /** The oracle's figures on the same draws. */
  readonly oracle: Figures
  /** Each row's figures, in the matrix's row order. */
  readonly rows: ReadonlyArray<Figures>
}

const figuresOf = (s: RunSummary): Figures => ({
  requests: s.requests,
  succeeded: s.succeeded,
  wasted: s.wasted,
  needless: s.needless,
  callerSecondsLost: Math.round(s.callerSecondsLost * 1000) / 1000,
  opens: s.opens,
  tripsPerDay: s.tripsPerDay,
  collapses: s.collapses,
  fullS: s.timeToFullMs === null ? null : s.timeToFullMs / 1000,
  shedS: s.timeToShedMs === null ? null : s.timeToShedMs / 1000,
})

/** Simulates every strategy and the oracle on one cell and seed. */
export const runCellSeed = (cell: Cell, seed: number, strategies: ReadonlyArray<Strategy<unknown>>): CellSeed => {
  const { runs, oracle } = simulateWithOracle(cell.scenario, strategies, { seed, bucketMs: cell.scenario.durationMs })
  return { cell: cell.id, seed, oracle: figuresOf(oracle.summary), rows: runs.map((run) => figuresOf(run.summary)) }
}

// ---- statistics ------------------------------------------------------------------------------

/** A policy's success rate: its successes over all requests (1 with no requests). */
export const successOf = (f: Figures): number => (f.requests === 0 ? 1 : f.succeeded / f.requests)

/** A policy's share of the oracle's goodput (1 where the oracle served nothing either). */
export const oracleShareOf = (f: Figures, oracle: Figures): number => (oracle.succeeded === 0 ? 1 : f.succeeded / oracle.succeeded)

/** One row on one cell, over the seeds. */
export interface CellRow {
  /** Median success rate, in [0, 1]. */
  readonly success: number
  /** Success minus the baseline's on the same seed, in percentage points: the median and the worst seed. */
  readonly delta: number
  /** The worst seed's delta. */
  readonly deltaWorst: number
  /** Successes over the oracle's on the same seed: the median and the worst seed. */
  readonly oracleShare: number
  /** The worst seed's share of the oracle. */
  readonly oracleShareWorst: number
  /** Median needless rejections. */
  readonly needless: number
  /** Median calls wasted on a failing upstream. */
  readonly wasted: number
  /** Median seconds callers lost waiting on failed calls. */
  readonly callerSecondsLost: number
  /** Median collapses of a fragile upstream. */
  readonly collapses: number
  /** Trips per simulated day (median over the seeds); on a noise cell every trip is false. */
  readonly tripsPerDay: number
  /** Median seconds back to full traffic over the seeds that got there, null if most never did. */
  readonly fullS: number | null
  /** Median seconds from the incident to the first request shed, over the seeds that shed, null if most never did. */
  readonly shedS: number | null
}

/** One cell's line of the matrix. */
export interface CellLine {
  /** The cell's id: family and rate (`outage@200`). */
  readonly id: string
  /** Its incident or noise shape (`outage`, `fragile-warn-50`, ...). */
  readonly family: string
  /** `incident`, or `noise` (nothing justifies a trip). */
  readonly kind: 'incident' | 'noise'
  /** Its traffic, in requests per second. */
  readonly rps: number
  /** `train` (defaults and tuned configs are chosen on it) or `test` (they are reported on it). */
  readonly half: Half
  /** Whether its upstream collapses under load while recovering. */
  readonly fragile: boolean
  /** Whether its incident shows a sign before it strikes (a latency creep, an error ramp). */
  readonly precursor: boolean
  /** What happens, in a sentence. */
  readonly description: string
  /** The oracle's median success rate. */
  readonly oracleSuccess: number
  /** Each row's figures on this cell, in the matrix's row order. */
  readonly rows: ReadonlyArray<CellRow>
}

/** A row's figures over the whole matrix. */
export interface RowSummary {
  /** The row's name. */
  readonly name: string
  /** The cell where its median delta to the baseline is lowest, and that delta. */
  readonly worstCell: { readonly id: string; readonly delta: number }
  /** The median over cells of the median delta. */
  readonly medianCellDelta: number
  /** The lowest delta on any seed of any cell. */
  readonly worstSeed: { readonly id: string; readonly delta: number }
  /** Cells where its median delta is below -2 points. */
  readonly cellsLost: number
  /** Cells where its median delta is above +2 points. */
  readonly cellsWon: number
  /** The median and the lowest over cells of the median share of the oracle. */
  readonly medianOracleShare: number
  /** The cell where its median share of the oracle is lowest, and that share. */
  readonly worstOracleShare: { readonly id: string; readonly share: number }
  /** The most false trips per simulated day on any noise cell (median over seeds). */
  readonly falseTripsPerDay: { readonly id: string; readonly perDay: number }
  /** Collapses summed over cells (medians over seeds). */
  readonly collapses: number
}

/** The whole matrix. */
export interface QualityMatrix {
  /** The row every delta is against (`classic` by default). */
  readonly baseline: string
  /** The rows' names, in order. */
  readonly rows: ReadonlyArray<string>
  /** The seeds every cell ran. */
  readonly seeds: ReadonlyArray<number>
  /** One line per cell, in the space's order. */
  readonly cells: ReadonlyArray<CellLine>
  /** One summary per row, in row order. */
  readonly summary: ReadonlyArray<RowSummary>
}

const cellRow = (results: ReadonlyArray<CellSeed>, r: number, base: number): CellRow => {
  const mine = results.map((x) => x.rows[r] as Figures)
  const deltas = results.map((x) => (successOf(x.rows[r] as Figures) - successOf(x.rows[base] as Figures)) * 100)
  const shares = results.map((x) => oracleShareOf(x.rows[r] as Figures, x.oracle))
  const reached = mine.flatMap((f) => (f.fullS === null ? [] : [f.fullS]))
  const shed = mine.flatMap((f) => (f.shedS === null ? [] : [f.shedS]))
  return {
    success: median(mine.map(successOf)),
    delta: median(deltas),
    deltaWorst: Math.min(...deltas),
    oracleShare: median(shares),
    oracleShareWorst: Math.min(...shares),
    needless: median(mine.map((f) => f.needless)),
    wasted: median(mine.map((f) => f.wasted)),
    callerSecondsLost: median(mine.map((f) => f.callerSecondsLost)),
    collapses: median(mine.map((f) => f.collapses)),
    tripsPerDay: median(mine.map((f) => f.tripsPerDay)),
    fullS: reached.length * 2 > mine.length ? median(reached) : null,
    shedS: shed.length * 2 > mine.length ? median(shed) : null,
  }
}

/**
 * Reduces per-seed results to the matrix: `results` holds every (cell, seed) pair of `cells` and
 * `seeds`, in any order; rows are compared with `baseline` (a row name).
 */
export const reduceMatrix = (
  rows: ReadonlyArray<string>,
  baseline: string,
  cells: ReadonlyArray<Cell>,
  seeds: ReadonlyArray<number>,
  results: ReadonlyArray<CellSeed>,
): QualityMatrix => {
  const base = rows.indexOf(baseline)
  if (base < 0) throw new Error(`the baseline ${baseline} is not a row`)
  const byCell = new Map<string, CellSeed[]>()
  for (const r of results) byCell.set(r.cell, [...(byCell.get(r.cell) ?? []), r])
  const lines: CellLine[] = cells.map((cell) => {
    const mine = [...(byCell.get(cell.id) ?? [])].sort((a, b) => a.seed - b.seed)
    if (mine.length !== seeds.length) throw new Error(`cell ${cell.id}: ${mine.length} results for ${seeds.length} seeds`)
    return {
      id: cell.id,
      family: cell.family,
      kind: cell.kind,
      rps: cell.rps,
      half: cell.half,
      fragile: cell.fragile,
      precursor: cell.precursor,
      description: cell.scenario.description,
      oracleSuccess: median(mine.map((x) => successOf(x.oracle))),
      rows: rows.map((_, r) => cellRow(mine, r, base)),
    }
  })
  const summary = rows.map((name, r): RowSummary => {
    const mine = lines.map((line) => ({ id: line.id, kind: line.kind, row: line.rows[r] as CellRow }))
    const lowest = <A>(xs: ReadonlyArray<A>, by: (a: A) => number): A | undefined =>
      xs.reduce<A | undefined>((lo, x) => (lo === undefined || by(x) < by(lo) ? x : lo), undefined)
    const worst = lowest(mine, (m) => m.row.delta)
    const worstSeed = lowest(mine, (m) => m.row.deltaWorst)
    const worstShare = lowest(mine, (m) => m.row.oracleShare)
    const noisiest = lowest(
      mine.filter((m) => m.kind === 'noise'),
      (m) => -m.row.tripsPerDay,
    )
    return {
      name,
      worstCell: { id: worst?.id ?? '-', delta: worst?.row.delta ?? 0 },
      medianCellDelta: median(mine.map((m) => m.row.delta)),
      worstSeed: { id: worstSeed?.id ?? '-', delta: worstSeed?.row.deltaWorst ?? 0 },
      cellsLost: mine.filter((m) => m.row.delta < -2).length,
      cellsWon: mine.filter((m) => m.row.delta > 2).length,
      medianOracleShare: median(mine.map((m) => m.row.oracleShare)),
      worstOracleShare: { id: worstShare?.id ?? '-', share: worstShare?.row.oracleShare ?? 1 },
      falseTripsPerDay: { id: noisiest?.id ?? '-', perDay: noisiest?.row.tripsPerDay ?? 0 },
      collapses: mine.reduce((n, m) => n + m.row.collapses, 0),
    }
  })
  return { baseline, rows, seeds, cells: lines, summary }
}

// ---- running it --------------------------------------------------------------------------------

/** Options of {@link qualityMatrix}. */
export interface MatrixOptions {
  /** Worker threads; 1 runs on this thread. The result does not depend on it. */
  readonly workers: number
  /** The row every other is compared with (default: `classic`, which must then be a row). */
  readonly baseline?: string
  /** A module whose `kinds` export adds part kinds (loaded in every worker), and the kinds themselves for this thread. */
  readonly kindsModule?: string
  /** The kinds themselves, for this thread (with `kindsModule`). */
  readonly kinds?: Kinds
  /** Called as (cell, seed) pairs finish: how many are done, of how many. */
  readonly onProgress?: (done: number, total: number) => void
}

/** A (cell, seed) pair to simulate, by index into the cells. */
export interface Unit {
  readonly cell: number
  readonly seed: number
}

/** Runs `units` of `cells` for `rows` on this thread. */
export const runUnits = (
  rows: ReadonlyArray<QualityRow>,
  cells: ReadonlyArray<Cell>,
  units: ReadonlyArray<Unit>,
  kinds: Kinds | undefined,
  onDone: (result: CellSeed) => void,
): void => {
  const strategies = rows.map((row) => strategyOfRow(row, kinds))
  for (const unit of units) {
    const cell = cells[unit.cell]
    if (cell === undefined) throw new Error(`no cell ${unit.cell}`)
    onDone(runCellSeed(cell, unit.seed, strategies))
  }
}

/** The simulated requests a cell makes per policy and seed: what its units cost. */
const weightOf = (cell: Cell): number => {
  return (meanRps(cell.scenario.load, cell.scenario.durationMs) * cell.scenario.durationMs) / 1000 + 1_000
}

/**
 * Runs the matrix: every row on every cell over every seed, and the oracle beside them, on
 * `options.workers` threads (the heaviest units first, each to the least loaded worker), reduced
 * by {@link reduceMatrix}.
 *
 * @example
 * import { libraryRows, qualityMatrix, qualitySpace, renderQualityText } from '@datapunk/breaker-sim'
 * const rows = libraryRows().filter((r) => r.name === 'classic' || r.name === 'gradual')
 * const cells = qualitySpace().filter((c) => c.id === 'fragile-cliff-50@200')
 * const matrix = await qualityMatrix(rows, cells, [1, 2, 3], { workers: 1 })
 * matrix.cells[0].rows[1].delta > 30 // true: classic half-open collapses the fragile upstream again and again
 * renderQualityText(matrix).split('\n')[0] // 'Quality matrix: 2 strategies on 1 cells of the scenario space, seeds 1..3'
 */
export const qualityMatrix = async (
  rows: ReadonlyArray<QualityRow>,
  cells: ReadonlyArray<Cell>,
  seeds: ReadonlyArray<number>,
  options: MatrixOptions,
): Promise<QualityMatrix> => {
  const baseline = options.baseline ?? BASELINE
  const names = rows.map((r) => r.name)
  if (new Set(names).size !== names.length) throw new Error(`row names must be distinct, got ${names.join(', ')}`)
  if (!names.includes(baseline)) throw new Error(`the baseline ${baseline} is not a row (rows: ${names.join(', ')})`)
  const units = cells.flatMap((_, cell) => seeds.map((seed) => ({ cell, seed })))
  const total = units.length
  let done = 0
  const results: CellSeed[] = []
  const collect = (result: CellSeed) => {
    results.push(result)
    done++
    options.onProgress?.(done, total)
  }
  const workers = Math.max(1, Math.min(options.workers, units.length))
  if (workers === 1) runUnits(rows, cells, units, options.kinds, collect)
  else {
    const loads = new Array<number>(workers).fill(0)
    const slices: Unit[][] = Array.from({ length: workers }, () => [])
    const byWeight = [...units].sort(
      (a, b) => weightOf(cells[b.cell] as Cell) - weightOf(cells[a.cell] as Cell) || a.cell - b.cell || a.seed - b.seed,
    )
    for (const unit of byWeight) {
      const w = loads.indexOf(Math.min(...loads))
      loads[w] = (loads[w] ?? 0) + weightOf(cells[unit.cell] as Cell)
      slices[w]?.push(unit)
    }
    const { Worker } = await import('node:worker_threads')
    await Promise.all(
      slices.map(
        (slice) =>
          new Promise<void>((resolve, reject) => {
            const worker = new Worker(new URL('../tuneWorker.js', import.meta.url), {
              workerData: { job: 'quality', rows, cells, units: slice, kindsModule: options.kindsModule },
            })
            worker.on('message', (message: CellSeed | 'done') => {
              if (message === 'done') resolve()
              else collect(message)
            })
            worker.once('error', reject)
            worker.once('exit', (code) => {
              if (code !== 0) reject(new Error(`a quality worker stopped with code ${code}`))
            })
          }),
      ),
    )
  }
  return reduceMatrix(names, baseline, cells, seeds, results)
}
