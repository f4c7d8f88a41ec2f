/**
 * Early warning judged on the scenario space at a false-trip budget, against baselines computed in
 * the same run: what `breaker-sim evaluate --space` prints. The reference is the most sensitive
 * static failure-rate threshold that keeps the budget on every noise cell of both halves (the best
 * a threshold alone can do at that budget); the baselines are an EWMA chart of the failure rate and
 * the Bernoulli CUSUM (both signals), each added to the reference and calibrated on the train
 * half's noise. Your configs run as they are. Everything is reported on the test half.
 */
import type { Kinds } from '@datapunk/breaker'
import { type HeldOutCandidate, heldOutModels, incidentKind } from './heldOut.js'
import { type CellLine, type QualityMatrix, qualityMatrix } from './matrix.js'
import type { QualityRow } from './rows.js'
import type { Cell } from './space.js'
import { qualitySpace } from './space.js'

/** Options of {@link earlyWarning}. */
export interface EarlyWarningOptions {
  /** Seeds the baselines are calibrated on (train half's noise), e.g. 1..5. */
  readonly calibrationSeeds: ReadonlyArray<number>
  /** Seeds everything is reported on (test half), e.g. 101..120. */
  readonly seeds: ReadonlyArray<number>
  /** At most this many false trips a simulated day on every noise cell (median over the seeds). Default 1. */
  readonly budgetPerDay?: number
  /** Worker threads. */
  readonly workers: number
  /** The cells to use (default: the whole space); the train half's noise calibrates, the test half reports. */
  readonly cells?: ReadonlyArray<Cell>
  /**
   * Also the learned predictor, one incident kind held out at a time: a model per kind, trained on
   * the train half's other kinds and noise (the calibration seeds), added to the reference with its
   * probability calibrated to the budget, shown on each test cell by the model that never saw the
   * cell's kind (see `heldOutModels`).
   */
  readonly learned?: boolean
  /** A module whose `kinds` export adds part kinds (loaded in every worker), and the kinds themselves. */
  readonly kindsModule?: string
  /** The kinds themselves, for this thread (with `kindsModule`). */
  readonly kinds?: Kinds
  /** Told as each phase goes: its name, and (cell, seed) pairs done of the total. */
  readonly onProgress?: (phase: string, done: number, total: number) => void
}

/** A column of the evaluation: the reference, a baseline or one of your configs. */
export interface EarlyWarningColumn {
  /** Its name in the table. */
  readonly name: string
  /** What it is: `reference`, `baseline`, `learned` (one kind held out at a time) or `config`. */
  readonly role: 'reference' | 'baseline' | 'learned' | 'config'
  /** The setting chosen for a reference or baseline (its threshold or false-trip rate); null for your configs, or where no setting kept the budget. */
  readonly setting: number | null
  /** The test half's noise cell it tripped most on (false trips a day, median over the seeds). */
  readonly worstNoise: { readonly cell: string; readonly perDay: number }
  /** Whether it kept the budget on every noise cell of the test half. */
  readonly withinBudget: boolean
}

/** One incident cell of the test half: when each column first shed load. */
export interface EarlyWarningLine {
  /** The cell's id (`error-ramp@20`). */
  readonly cell: string
  /** Whether its incident shows a sign before it strikes. */
  readonly precursor: boolean
  /** Seconds from the incident to the first request shed (median over the seeds), per column; null where most seeds never shed. */
  readonly shedS: ReadonlyArray<number | null>
}

/** What {@link earlyWarning} measured. */
export interface EarlyWarning {
  /** The false-trip budget: at most this many a simulated day on every noise cell. */
  readonly budgetPerDay: number
  /** The seeds the baselines were calibrated on. */
  readonly calibrationSeeds: ReadonlyArray<number>
  /** The seeds everything was reported on. */
  readonly seeds: ReadonlyArray<number>
  /** The reference first, then the baselines that kept the budget, then your configs. */
  readonly columns: ReadonlyArray<EarlyWarningColumn>
  /** The test half's incident cells, fragile ones aside (they test recovery, not detection). */
  readonly lines: ReadonlyArray<EarlyWarningLine>
  /** With `learned`: each held-out kind's model, its size and the probability chosen (null: none kept the budget, so the reference alone stands for it). */
  readonly heldOut?: ReadonlyArray<{
    readonly kind: string
    readonly examples: number
    readonly positives: number
    readonly probability: number | null
  }>
}

/** The name of the learned predictor's column. */
export const HELD_OUT_COLUMN = 'learned, kind held out'

/** The demo's failure-rate detection (10 s, 20 calls at least), at `threshold`. */
const thresholdTrip = (threshold: number) =>
  ({ kind: 'failure-rate', threshold, minimumCalls: 20, window: { kind: 'time', durationMs: 10_000, buckets: 10 } }) as const
const CLASSIC_PARTS = { recovery: { kind: 'classic', probes: 1 }, openFor: { kind: 'constant', ms: 5_000 } } as const
const row = (name: string, trip: unknown): QualityRow => ({ name, config: { name, trip, ...CLASSIC_PARTS } })
/** Every matrix has `classic`: the demo's 50% threshold. */
const CLASSIC = row('classic', thresholdTrip(0.5))
const THRESHOLDS = [0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2]

/** A baseline part, over its settings from the least sensitive to the most. */
const BASELINES: ReadonlyArray<{ readonly name: string; readonly settings: ReadonlyArray<number>; readonly part: (v: number) => unknown }> =
  [
    {
      // The trend forecast one bucket ahead with its trend smoothed to almost nothing: an EWMA (weight 0.3) of the failure rate.
      name: 'EWMA',
      settings: THRESHOLDS,
      part: (v) => ({ kind: 'trend-forecast', trendWeight: 0.01, levelWeight: 0.3, horizonMs: 1_000, threshold: v }),
    },
    {
      name: 'CUSUM',
      settings: [0.1, 1, 10],
      part: (v) => ({
        kind: 'any-of',
        detectors: [
          { kind: 'cusum', signal: 'failure', falseTripsPerDay: v },
          { kind: 'cusum', signal: 'latency', falseTripsPerDay: v },
        ],
      }),
    },
  ]

/** The noise cell of `m` where row `name` tripped most (median false trips a day). */
export const worstNoiseCell = (m: QualityMatrix, name: string): { cell: string; perDay: number } => {
  const r = m.rows.indexOf(name)
  let worst = { cell: '-', perDay: 0 }
  for (const line of m.cells) {
    const perDay = line.rows[r]?.tripsPerDay ?? 0
    if (line.kind === 'noise' && perDay > worst.perDay) worst = { cell: line.id, perDay }
  }
  return worst
}

/**
 * How much earlier (seconds, positive) row `name` first shed load on a cell than row `reference`;
 * +Infinity where only it shed, -Infinity where only the reference did, 0 where neither did.
 */
export const shedLead = (m: QualityMatrix, line: CellLine, name: string, reference: string): number => {
  const mine = line.rows[m.rows.indexOf(name)]?.shedS ?? null
  const base = line.rows[m.rows.indexOf(reference)]?.shedS ?? null
  if (mine === null && base === null) return 0
  if (mine === null) return Number.NEGATIVE_INFINITY
  if (base === null) return Number.POSITIVE_INFINITY
  return base - mine
}

/** Names are checked before any simulation: a config named like a row added here would merge with it. */
const refuseClashes = (configs: ReadonlyArray<QualityRow>): void => {
  const taken = new Set([
    CLASSIC.name,
    HELD_OUT_COLUMN,
    ...THRESHOLDS.map((t) => `threshold ${t}`),
    ...BASELINES.flatMap((b) => b.settings.map((v) => `+${b.name} ${v}`)),
  ])
  const names = configs.map((c) => c.name)
  const clash = names.find((name, i) => taken.has(name) || name.startsWith('+learned without ') || names.indexOf(name) !== i)
  if (clash !== undefined) throw new Error(`earlyWarning: a config has the name of a baseline or of another config ("${clash}"): rename it`)
}

/**
 * Runs the evaluation: calibration on the train half's noise (and the thresholds on the test
 * half's too), then the report on the test half. Deterministic for the same rows, seeds and space.
 *
 * @example
 * import { earlyWarning, qualitySpace } from '@datapunk/breaker-sim'
 * // Bursty noise to calibrate on and one incident at 20 requests/s, a seed each way, to be quick;
 * // the whole space and seeds 1..5 and 101..120 for a verdict.
 * const cells = qualitySpace().filter((c) => c.rps === 20 && ['noise-bursts-40', 'error-ramp'].includes(c.family))
 * const e = await earlyWarning([], { calibrationSeeds: [1], seeds: [101], workers: 1, cells })
 * e.columns[0]?.role // 'reference'
 * e.lines.some((l) => l.cell === 'error-ramp@20') // true
 */
export const earlyWarning = async (configs: ReadonlyArray<QualityRow>, options: EarlyWarningOptions): Promise<EarlyWarning> => {
  const budget = options.budgetPerDay ?? 1
  refuseClashes(configs)
  const space = options.cells ?? qualitySpace()
  const trainNoise = space.filter((c) => c.half === 'train' && c.kind === 'noise')
  const test = space.filter((c) => c.half === 'test' && !c.fragile)
  const testNoise = test.filter((c) => c.kind === 'noise')
  // Without noise on the train half nothing is calibrated: every setting would pass for within the budget.
  if (trainNoise.length === 0)
    throw new Error('earlyWarning: the cells hold no noise cell of the train half, so no false-trip budget can be kept (add noise-*)')
  const run = (phase: string, rows: ReadonlyArray<QualityRow>, cells: ReadonlyArray<Cell>, seeds: ReadonlyArray<number>) =>
    qualityMatrix(rows, cells, seeds, {
      workers: options.workers,
      ...(options.kindsModule === undefined ? {} : { kindsModule: options.kindsModule }),
      ...(options.kinds === undefined ? {} : { kinds: options.kinds }),
      onProgress: (done, total) => options.onProgress?.(phase, done, total),
    })
  const within = (m: QualityMatrix, name: string) => worstNoiseCell(m, name).perDay <= budget
  const staticRows = THRESHOLDS.map((t) => row(`threshold ${t}`, thresholdTrip(t)))
  const onTrain = await run('the thresholds on the train half', [CLASSIC, ...staticRows], trainNoise, options.calibrationSeeds)
  const onTest = await run('the thresholds on the test half', [CLASSIC, ...staticRows], testNoise, options.seeds)
  const threshold = THRESHOLDS.filter((t) => within(onTrain, `threshold ${t}`) && within(onTest, `threshold ${t}`)).at(-1)
  if (threshold === undefined) throw new Error(`earlyWarning: no failure-rate threshold from 50% down keeps ${budget} false trips a day`)
  const reference = row(`threshold ${threshold}`, thresholdTrip(threshold))
  const candidates = BASELINES.flatMap((b) =>
    b.settings.map((v) => ({ b, v, row: row(`+${b.name} ${v}`, { kind: 'any-of', detectors: [thresholdTrip(threshold), b.part(v)] }) })),
  )
  const models: HeldOutCandidate[] =
    options.learned === true ? heldOutModels(space, thresholdTrip(threshold), options.calibrationSeeds, row) : []
  const calibration = await run(
    'the baselines on the train half',
    [CLASSIC, ...candidates.map((c) => c.row), ...models.flatMap((m) => m.rows.map((r) => r.row))],
    trainNoise,
    options.calibrationSeeds,
  )
  const chosen = BASELINES.flatMap((b) => candidates.filter((c) => c.b === b && within(calibration, c.row.name)).slice(-1))
  const heldOut = models.map((m) => ({ model: m, pick: m.rows.filter((r) => within(calibration, r.row.name)).at(-1) }))
  const heldOutRows = heldOut.flatMap((h) => (h.pick === undefined ? [] : [h.pick.row]))
  const rows = [CLASSIC, reference, ...chosen.map((c) => c.row), ...heldOutRows, ...configs]
  const report = await run('the report on the test half', rows, test, options.seeds)
  return assemble(report, { reference: reference.name, threshold, budget, chosen, heldOut, configs, options })
}

/** The columns and lines of the report: the reference, the baselines chosen, the held-out models (if any), your configs. */
const assemble = (
  report: QualityMatrix,
  a: {
    readonly reference: string
    readonly threshold: number
    readonly budget: number
    readonly chosen: ReadonlyArray<{ readonly v: number; readonly row: QualityRow }>
    readonly heldOut: ReadonlyArray<{
      readonly model: HeldOutCandidate
      readonly pick: { readonly probability: number; readonly row: QualityRow } | undefined
    }>
    readonly configs: ReadonlyArray<QualityRow>
    readonly options: EarlyWarningOptions
  },
): EarlyWarning => {
  const { budget, chosen, heldOut, configs, options } = a
  const reference = { name: a.reference }
  const threshold = a.threshold
  const within = (m: QualityMatrix, name: string) => worstNoiseCell(m, name).perDay <= budget
  const heldOutRows = heldOut.flatMap((h) => (h.pick === undefined ? [] : [h.pick.row]))
  const models = heldOut.map((h) => h.model)
  const column = (name: string, role: EarlyWarningColumn['role'], setting: number | null): EarlyWarningColumn => ({
    name,
    role,
    setting,
    worstNoise: worstNoiseCell(report, name),
    withinBudget: within(report, name),
  })
  // The learned column: each kind's chosen row (the reference where no probability kept the budget).
  const rowForKind = new Map(heldOut.map((h) => [h.model.kind, h.pick?.row.name ?? reference.name]))
  const learnedColumn = (): EarlyWarningColumn => {
    const worst = heldOutRows
      .map((r) => worstNoiseCell(report, r.name))
      .reduce((a, b) => (b.perDay > a.perDay ? b : a), { cell: '-', perDay: 0 })
    return { name: HELD_OUT_COLUMN, role: 'learned', setting: null, worstNoise: worst, withinBudget: worst.perDay <= budget }
  }
  const columns = [
    column(reference.name, 'reference', threshold),
    ...chosen.map((c) => column(c.row.name, 'baseline', c.v)),
    ...(models.length > 0 ? [learnedColumn()] : []),
    ...configs.map((c) => column(c.name, 'config', null)),
  ]
  const rowOfColumn = (c: EarlyWarningColumn, line: CellLine): string =>
    c.role === 'learned' ? (rowForKind.get(incidentKind(line.family)) ?? reference.name) : c.name
  const lines = report.cells
    .filter((l) => l.kind === 'incident')
    .map((l) => ({
      cell: l.id,
      precursor: l.precursor,
      shedS: columns.map((c) => l.rows[report.rows.indexOf(rowOfColumn(c, l))]?.shedS ?? null),
    }))
  return {
    budgetPerDay: budget,
    calibrationSeeds: options.calibrationSeeds,
    seeds: options.seeds,
    columns,
    lines,
    ...(models.length === 0
      ? {}
      : {
          heldOut: heldOut.map((h) => ({
            kind: h.model.kind,
            examples: h.model.examples,
            positives: h.model.positives,
            probability: h.pick?.probability ?? null,
          })),
        }),
  }
}

/** How much earlier than the reference a part must shed on an incident with a precursor to count as early warning. */
export const EARLY_WARNING_LEAD_S = 10

const seconds = (s: number | null): string => (s === null ? 'never' : `${s.toFixed(1)} s`)
const range = (seeds: ReadonlyArray<number>): string => `${seeds[0]}..${seeds.at(-1)}`

/** Seconds `column` shed before the reference on `line` (+Infinity where only it shed, -Infinity where only the reference did). */
const leadOf = (line: EarlyWarningLine, column: number): number => {
  const mine = line.shedS[column] ?? null
  const base = line.shedS[0] ?? null
  if (mine === null && base === null) return 0
  if (mine === null) return Number.NEGATIVE_INFINITY
  if (base === null) return Number.POSITIVE_INFINITY
  return base - mine
}

/**
 * The evaluation as text: what each column is and its false trips, then per incident cell when
 * each first shed load and how much earlier than the reference, then a verdict per column.
 *
 * @example
 * import { renderEarlyWarning } from '@datapunk/breaker-sim'
 * const text = renderEarlyWarning({
 *   budgetPerDay: 1, calibrationSeeds: [1], seeds: [101],
 *   columns: [
 *     { name: 'threshold 0.45', role: 'reference', setting: 0.45, worstNoise: { cell: '-', perDay: 0 }, withinBudget: true },
 *     { name: 'mine', role: 'config', setting: null, worstNoise: { cell: '-', perDay: 0 }, withinBudget: true },
 *   ],
 *   lines: [{ cell: 'error-ramp@20', precursor: true, shedS: [45, 20] }],
 * })
 * text.includes('mine: 1 of 1 incidents with a precursor 10 s or more ahead') // true
 */
export const renderEarlyWarning = (e: EarlyWarning): string => {
  const out: string[] = []
  const reference = e.columns[0]
  out.push(
    `Early warning on the scenario space at ${e.budgetPerDay} false trip${e.budgetPerDay === 1 ? '' : 's'} a day (baselines calibrated on the train half's noise, seeds ${range(e.calibrationSeeds)}; everything reported on the test half, seeds ${range(e.seeds)}; medians over the seeds)`,
    '',
  )
  const label = Math.max(20, ...e.columns.map((c) => c.name.length + 2))
  for (const c of e.columns) {
    const what =
      c.role === 'reference'
        ? 'the most sensitive failure-rate threshold (10 s, 20 calls) within the budget on every noise cell of both halves'
        : c.role === 'baseline'
          ? `added to ${reference?.name}, the most sensitive setting within the budget on the train half`
          : c.role === 'learned'
            ? `a model per incident kind, trained without it, added to ${reference?.name}, its probability calibrated on the train half (${(e.heldOut ?? []).map((h) => `${h.kind}: ${h.probability ?? 'none kept the budget'}`).join(', ')})`
            : 'your config, as it is'
    const trips = `false trips a day on the test half: ${c.worstNoise.perDay.toFixed(1)}${c.worstNoise.cell === '-' ? '' : ` (${c.worstNoise.cell})`}`
    out.push(`  ${c.name.padEnd(label)}${what}; ${trips}${c.withinBudget ? '' : '  OVER THE BUDGET'}`)
  }
  out.push('', 'Seconds from the incident to the first request shed, and (in brackets) how much earlier than the reference:')
  const widths = e.columns.map((c) => Math.max(22, c.name.length + 2))
  const cellWidth = Math.max(22, ...e.lines.map((l) => l.cell.length + 2))
  out.push(`  ${'cell'.padEnd(cellWidth)}${'precursor'.padEnd(11)}${e.columns.map((c, i) => c.name.padStart(widths[i] ?? 22)).join('')}`)
  for (const line of e.lines) {
    const cells = e.columns.map((_, i) => {
      if (i === 0) return seconds(line.shedS[0] ?? null)
      const lead = leadOf(line, i)
      const delta =
        lead === 0 ? '' : Number.isFinite(lead) ? ` (${lead > 0 ? '+' : ''}${lead.toFixed(1)})` : lead > 0 ? ' (it alone)' : ' (never)'
      return `${seconds(line.shedS[i] ?? null)}${delta}`
    })
    out.push(
      `  ${line.cell.padEnd(cellWidth)}${(line.precursor ? 'yes' : 'no').padEnd(11)}${cells.map((c, i) => c.padStart(widths[i] ?? 22)).join('')}`,
    )
  }
  out.push(
    '',
    `Against ${reference?.name} (early warning: ${EARLY_WARNING_LEAD_S} s or more ahead on every incident with a precursor, never later on the others, within the budget):`,
  )
  const precursors = e.lines.filter((l) => l.precursor)
  e.columns.forEach((c, i) => {
    if (i === 0) return
    const ahead = precursors.filter((l) => leadOf(l, i) >= EARLY_WARNING_LEAD_S)
    const later = e.lines.filter((l) => !l.precursor && leadOf(l, i) < 0)
    const met = ahead.length === precursors.length && later.length === 0 && c.withinBudget
    out.push(
      `  ${met ? 'yes' : 'no '}  ${c.name}: ${ahead.length} of ${precursors.length} incidents with a precursor ${EARLY_WARNING_LEAD_S} s or more ahead; later on ${later.length} of ${e.lines.length - precursors.length} without one${later.length === 0 ? '' : ` (${later.map((l) => l.cell).join(', ')})`}; ${c.withinBudget ? 'within' : 'over'} the budget`,
    )
  })
  return out.join('\n')
}
