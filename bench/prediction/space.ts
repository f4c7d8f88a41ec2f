/**
 * `pnpm bench:prediction-space`: the predictive detectors judged on the quality matrix's scenario
 * space at a false-trip budget: the yardstick the prediction issue asks for.
 *
 * A static failure-rate threshold (the demo's 10 s window, 20 calls at least) is swept from 50%
 * down to 20%, and each predictive part over its sensitivity: the change-point detector on
 * failures and on latency (its `threshold`), the trend forecast (its `horizonMs`), the CUSUM
 * detector (its `falseTripsPerDay`, on each signal and on both). Every setting
 * runs with classic half-open and a 5 s open time.
 *
 * 1. **Calibration, on the train half**: the most sensitive static threshold whose false trips
 *    stay within the budget (at most one a simulated day, median over the seeds) on every noise
 *    cell of the train half; then, for each predictive part added to the demo's 50% threshold
 *    (`any-of`, as the docs recommend adding it; 50% alone never trips on the matrix's noise), its
 *    most sensitive setting that keeps the budget. A part earns its place if it does better than
 *    the best a threshold alone does at the same budget.
 *    A threshold chosen on the train half may break the budget on the test half's noise (its
 *    false-trip rate depends on the traffic): the most sensitive threshold that keeps the budget
 *    on both halves (a choice only hindsight can make) is a second reference, and one family adds
 *    both CUSUM signals to it instead of to 50%.
 * 2. **Report, on the test half** (fragile cells aside: they test recovery), over held-out seeds:
 *    whether the chosen settings kept the budget on the test half's noise cells, and when each
 *    sheds load on every incident cell, against the best threshold alone. The prediction issue's
 *    target: at least 10 s earlier on every incident with a precursor (an error ramp, a latency
 *    creep), never later on incidents without one.
 *
 *   pnpm bench:prediction-space [--calibrate-seeds A..B] [--seeds A..B] [--families a,b] [--ablation] [--quick] [--markdown FILE]
 *
 * `--families learned` runs the learned predictor alone (with the references); `--ablation` adds
 * two more ways of training it (without the averaged features, with the classes weighed alike) to show
 * what each buys.
 *
 * Writes bench/out/prediction-space.json; `--markdown FILE` also writes the printed report there
 * (bench/prediction/SPACE.md is the latest full run's, which test/readme-claims.test.ts reads).
 * Not a test.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import {
  type CellLine,
  type QualityMatrix,
  type QualityRow,
  qualityMatrix,
  qualitySpace,
  shedLead,
  worstNoiseCell,
} from '@datapunk/breaker-sim'
import { LEARNED_VARIANTS, leaveOneKindOut } from './learned.js'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const seedsOf = (flag: string, fallback: string): number[] => {
  const at = args.indexOf(flag)
  const spec = at >= 0 ? (args[at + 1] ?? '') : fallback
  const range = /^(\d+)\.\.(\d+)$/.exec(spec)
  if (range === null) throw new Error(`${flag}: expected A..B, got ${spec}`)
  return Array.from({ length: Number(range[2]) - Number(range[1]) + 1 }, (_, i) => Number(range[1]) + i)
}
const calibrationSeeds = seedsOf('--calibrate-seeds', quick ? '1..1' : '1..5')
const reportSeeds = seedsOf('--seeds', quick ? '101..101' : '101..120')
/** At most this many false trips a simulated day on every noise cell (median over the seeds). */
const BUDGET_PER_DAY = 1
/** How much earlier than the best threshold alone a predictive part must shed on a precursor. */
const LEAD_TARGET_S = 10

const window = { kind: 'time', durationMs: 10_000, buckets: 10 } as const
const reactive = { kind: 'failure-rate', threshold: 0.5, minimumCalls: 20, window } as const
const classicParts = { recovery: { kind: 'classic', probes: 1 }, openFor: { kind: 'constant', ms: 5_000 } } as const

/** A predictive part and its settings, from the least sensitive to the most. */
interface Family {
  readonly name: string
  /** What is swept, for the tables. */
  readonly knob: string
  readonly settings: ReadonlyArray<{ readonly value: number; readonly part: Record<string, unknown> }>
  /** Added to the hindsight threshold (the most sensitive that keeps the budget on both halves) instead of the 50% one. */
  readonly onHeld?: boolean
}

const STATIC_THRESHOLDS = [0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2]
/** The built-in CUSUM on failures and on latency, in one part (`extra` for both). */
const bothSignals = (name: string, extra: Record<string, unknown>): Family => ({
  name,
  knob: 'falseTripsPerDay',
  settings: [0.1, 1, 10].map((value) => ({
    value,
    part: {
      kind: 'any-of',
      detectors: [
        { kind: 'cusum', signal: 'failure', falseTripsPerDay: value, ...extra },
        { kind: 'cusum', signal: 'latency', falseTripsPerDay: value, ...extra },
      ],
    },
  })),
})

const ALL_FAMILIES: ReadonlyArray<Family> = [
  {
    name: '+change-point, failures',
    knob: 'threshold',
    settings: [4_800, 2_400, 1_200, 600, 300, 150, 75].map((value) => ({
      value,
      part: { kind: 'change-point', signal: 'failure', threshold: value },
    })),
  },
  {
    name: '+change-point, latency',
    knob: 'threshold',
    settings: [48_000, 24_000, 12_000, 6_000, 3_000, 1_500].map((value) => ({
      value,
      part: { kind: 'change-point', signal: 'latency', threshold: value },
    })),
  },
  // The CUSUM detector (`{ kind: 'cusum' }`): its threshold comes from the false-trip rate it is told.
  {
    name: '+cusum, failures',
    knob: 'falseTripsPerDay',
    settings: [0.03, 0.1, 0.3, 1, 3, 10].map((value) => ({ value, part: { kind: 'cusum', signal: 'failure', falseTripsPerDay: value } })),
  },
  {
    name: '+cusum, latency',
    knob: 'falseTripsPerDay',
    settings: [0.03, 0.1, 0.3, 1, 3, 10].map((value) => ({ value, part: { kind: 'cusum', signal: 'latency', falseTripsPerDay: value } })),
  },
  // Both signals in one part: what the issue's target needs (an error ramp and a latency creep),
  // with its defaults, and without the persistence rule (to show what that rule buys).
  bothSignals('+cusum, both', {}),
  bothSignals('+cusum, both, no persistence', { persist: false }),
  // Both signals added to the hindsight threshold, the one they are compared with: never later than
  // it by construction (any of the two trips), so this asks whether they add false trips and how
  // much earlier they shed.
  { ...bothSignals('+cusum, both, on hindsight', {}), onHeld: true },
  // An EWMA chart of the failure rate: the trend forecast one bucket ahead with a trend smoothed to
  // almost nothing (weight 0.01; 0 is not accepted), so its forecast is its level, an EWMA of weight 0.3.
  {
    name: '+ewma',
    knob: 'threshold',
    settings: [0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2].map((value) => ({
      value,
      part: { kind: 'trend-forecast', trendWeight: 0.01, levelWeight: 0.3, horizonMs: 1_000, threshold: value },
    })),
  },
  {
    name: '+trend-forecast',
    knob: 'horizonMs',
    settings: [1_000, 2_000, 5_000, 10_000, 20_000, 30_000].map((value) => ({ value, part: { kind: 'trend-forecast', horizonMs: value } })),
  },
]

/** `--families cusum,trend`: only the families whose name contains one of these (for work on one of them). */
const familiesAt = args.indexOf('--families')
const only = familiesAt >= 0 ? (args[familiesAt + 1] ?? '').split(',').filter((f) => f !== '') : []
const FAMILIES = only.length === 0 ? ALL_FAMILIES : ALL_FAMILIES.filter((f) => only.some((o) => f.name.includes(o)))
/** `--families learned` (or no `--families`): the learned predictor, one incident kind held out at a time (learned.ts). */
const LEARNED = only.length === 0 || only.includes('learned')
if (FAMILIES.length === 0 && !LEARNED) throw new Error(`--families: none of ${only.join(', ')} names a family (or learned)`)

const staticTrip = (threshold: number) => ({ ...reactive, threshold })
const row = (name: string, trip: unknown): QualityRow => ({ name, config: { name, trip, ...classicParts } })
const staticName = (threshold: number) => `static ${threshold}`
const partName = (family: Family, value: number) => `${family.name} ${family.knob}=${value}`
/** `classic` is every matrix's baseline: the demo's 50% threshold. */
const CLASSIC = row('classic', reactive)

const space = qualitySpace()
const trainNoise = space.filter((c) => c.half === 'train' && c.kind === 'noise')
const test = space.filter((c) => c.half === 'test' && !c.fragile)
const workers = Math.max(1, availableParallelism())
const started = performance.now()
const progress = (label: string) => (done: number, total: number) => {
  if (process.stderr.isTTY) process.stderr.write(`\r${label}: ${done}/${total}   `)
}

const column = (m: QualityMatrix, name: string): number => m.rows.indexOf(name)
/** The noise cell with the most false trips a day (median over the seeds). */
const worstNoise = (m: QualityMatrix, name: string): { id: string; perDay: number } => {
  const w = worstNoiseCell(m, name)
  return { id: w.cell, perDay: w.perDay }
}
const within = (m: QualityMatrix, name: string) => worstNoise(m, name).perDay <= BUDGET_PER_DAY

// 1. The threshold, then each part added to it, calibrated on the train half's noise.
const staticCalibration = await qualityMatrix(
  [CLASSIC, ...STATIC_THRESHOLDS.map((t) => row(staticName(t), staticTrip(t)))],
  trainNoise,
  calibrationSeeds,
  { workers, onProgress: progress('calibrating the threshold') },
)
const threshold = STATIC_THRESHOLDS.filter((t) => within(staticCalibration, staticName(t))).at(-1)
if (threshold === undefined) throw new Error('no static threshold keeps the budget on the train half')
const STATIC = staticName(threshold)
// 1b. Hindsight: the thresholds on the test half's noise too. The threshold chosen on the train half
// may break the budget there (a threshold's false-trip rate depends on the traffic); the most
// sensitive one that keeps it on both halves is a second reference, one only hindsight can choose.
const testNoise = test.filter((c) => c.kind === 'noise')
const staticOnTest = await qualityMatrix(
  [CLASSIC, ...STATIC_THRESHOLDS.map((t) => row(staticName(t), staticTrip(t)))],
  testNoise,
  reportSeeds,
  { workers, onProgress: progress('the thresholds on the test half') },
)
const held = STATIC_THRESHOLDS.filter((t) => within(staticCalibration, staticName(t)) && within(staticOnTest, staticName(t))).at(-1)
if (held === undefined) throw new Error('no static threshold keeps the budget on both halves')
const HELD = `${staticName(held)} (hindsight)`

const partRows = FAMILIES.flatMap((family) =>
  family.settings.map((s) =>
    row(partName(family, s.value), { kind: 'any-of', detectors: [family.onHeld === true ? staticTrip(held) : reactive, s.part] }),
  ),
)
const partCalibration = await qualityMatrix([CLASSIC, ...partRows], trainNoise, calibrationSeeds, {
  workers,
  onProgress: progress('calibrating the parts'),
})
const chosen = FAMILIES.map((family) => {
  const pick = family.settings.filter((s) => within(partCalibration, partName(family, s.value))).at(-1)
  return { family, pick, row: pick === undefined ? null : partName(family, pick.value) }
})

// 2. The chosen settings on the test half, over held-out seeds.
const picked = chosen.flatMap((c) => partRows.filter((r) => r.name === c.row))
const references =
  held === threshold ? [row(STATIC, staticTrip(threshold))] : [row(STATIC, staticTrip(threshold)), row(HELD, staticTrip(held))]
// The learned predictor: a model per held-out incident kind, calibrated like the parts.
const learned = LEARNED
  ? await leaveOneKindOut({
      space,
      calibrationSeeds,
      reportSeeds,
      workers,
      // Added to the threshold it is compared with (never later than it by construction): the
      // question is how much earlier the model sheds, and at what false-trip cost.
      reactive: staticTrip(held),
      row,
      classic: CLASSIC,
      within,
      progress,
      // `--ablation`: also without the averaged features, and with the classes weighed alike.
      variants: args.includes('--ablation') ? LEARNED_VARIANTS : LEARNED_VARIANTS.slice(0, 1),
    })
  : { kinds: [], rows: [] }
const report = await qualityMatrix([CLASSIC, ...references, ...picked, ...learned.rows], test, reportSeeds, {
  workers,
  onProgress: progress('reporting on the test half'),
})
if (process.stderr.isTTY) process.stderr.write('\n')

const fmt = (s: number | null): string => (s === null ? 'never' : `${s.toFixed(1)} s`)
const shedOf = (line: CellLine, name: string): number | null => line.rows[column(report, name)]?.shedS ?? null
/** How much earlier `name` sheds than a threshold alone (positive: earlier; infinite where only one of them sheds). */
const earlier = (line: CellLine, name: string, reference = STATIC): number => shedLead(report, line, name, reference)

const out: string[] = []
const print = (line = '') => out.push(line)
print(
  `Predictive detection on the scenario space at ${BUDGET_PER_DAY} false trip a day (node ${process.version}; calibrated on the train half's ${trainNoise.length} noise cells, seeds ${calibrationSeeds[0]}..${calibrationSeeds.at(-1)}; reported on the test half's ${test.length} cells, fragile ones aside, seeds ${reportSeeds[0]}..${reportSeeds.at(-1)}; ${((performance.now() - started) / 1000).toFixed(0)} s)`,
)
print()
print('Chosen settings (the most sensitive within the budget on the train half), false trips a day on the worst noise cell:')
/** The label column: as wide as the longest family name and two spaces. */
const LABEL = Math.max(30, ...FAMILIES.map((f) => f.name.length + 2))
const budgetLine = (label: string, setting: string, name: string, train: QualityMatrix) => {
  const t = worstNoise(train, name)
  const h = worstNoise(report, name)
  print(
    `  ${label.padEnd(LABEL)}${setting.padEnd(22)}train ${t.perDay.toFixed(0).padStart(5)} (${t.id}), test ${h.perDay.toFixed(0).padStart(5)} (${h.id})${h.perDay > BUDGET_PER_DAY ? '  over the budget on the test half' : ''}`,
  )
}
budgetLine('static threshold', `threshold ${threshold}`, STATIC, staticCalibration)
if (held !== threshold) {
  const h = worstNoise(staticOnTest, staticName(held))
  print(
    `  ${'(hindsight)'.padEnd(LABEL)}${`threshold ${held}`.padEnd(22)}the most sensitive that keeps the budget on both halves: test ${h.perDay.toFixed(0).padStart(5)} (${h.id})`,
  )
}
for (const c of chosen) {
  if (c.row === null) {
    const least = c.family.settings[0]
    const w = least === undefined ? { id: '-', perDay: 0 } : worstNoise(partCalibration, partName(c.family, least.value))
    print(
      `  ${c.family.name.padEnd(LABEL)}none keeps the budget added to its threshold: the least sensitive (${c.family.knob} ${least?.value}) trips ${w.perDay.toFixed(0)} times a day on ${w.id}`,
    )
  } else budgetLine(c.family.name, `${c.family.knob} ${c.pick?.value}`, c.row, partCalibration)
}
print()
const incidents = report.cells.filter((l) => l.kind === 'incident')
const predictive = chosen.filter((c) => c.row !== null)
print('Seconds from the incident to the first request shed (median over the seeds), and how much earlier than the best threshold alone:')
const headers = [STATIC, ...(held === threshold ? [] : [HELD]), ...predictive.map((c) => c.family.name)]
/** Each column as wide as its header and two spaces, 28 at least: no header runs into the next. */
const widths = headers.map((h) => Math.max(28, h.length + 2))
const columns = (cells: ReadonlyArray<string>) => cells.map((c, i) => c.padStart(widths[i] ?? 28)).join('')
print(`  ${'cell'.padEnd(22)}${'precursor'.padEnd(11)}${columns(headers)}`)
for (const line of incidents) {
  const cells = [
    fmt(shedOf(line, STATIC)),
    ...(held === threshold ? [] : [fmt(shedOf(line, HELD))]),
    ...predictive.map((c) => {
      const e = earlier(line, c.row as string)
      const delta = e === 0 ? '' : Number.isFinite(e) ? ` (${e > 0 ? '+' : ''}${e.toFixed(1)})` : e > 0 ? ' (it alone)' : ' (never)'
      return `${fmt(shedOf(line, c.row as string))}${delta}`
    }),
  ]
  print(`  ${line.id.padEnd(22)}${(line.precursor ? 'yes' : 'no').padEnd(11)}${columns(cells)}`)
}
print()
print(
  `Target: at least ${LEAD_TARGET_S} s earlier than the best threshold alone (${threshold}) on every incident with a precursor, never later on the others, within the budget:`,
)
const precursors = incidents.filter((l) => l.precursor)
const verdicts = predictive.map((c) => {
  const name = c.row as string
  const short = precursors.filter((l) => earlier(l, name) < LEAD_TARGET_S)
  const later = incidents.filter((l) => !l.precursor && earlier(l, name) < 0)
  // Against the hindsight threshold (which keeps the budget everywhere): the same two tests.
  const shortHeld = precursors.filter((l) => earlier(l, name, HELD) < LEAD_TARGET_S)
  const laterHeld = incidents.filter((l) => !l.precursor && earlier(l, name, HELD) < 0)
  const budget = within(report, name)
  const met = short.length === 0 && later.length === 0 && budget
  const list = (cells: ReadonlyArray<CellLine>) => (cells.length === 0 ? '' : ` (${cells.map((l) => l.id).join(', ')})`)
  print(
    `  ${met ? 'met   ' : 'MISSED'}  ${c.family.name}: ${precursors.length - short.length} of ${precursors.length} precursor cells ${LEAD_TARGET_S} s ahead or more${list(short)}; later on ${later.length} other cells${list(later)}; ${budget ? 'within' : 'over'} the budget on the test half`,
  )
  if (held !== threshold)
    print(
      `          against ${held} (hindsight): ${precursors.length - shortHeld.length} of ${precursors.length} precursor cells ${LEAD_TARGET_S} s ahead or more${list(shortHeld)}; later on ${laterHeld.length} other cells${list(laterHeld)}`,
    )
  return {
    family: c.family.name,
    setting: c.pick?.value ?? null,
    met,
    shortOn: short.map((l) => l.id),
    laterOn: later.map((l) => l.id),
    hindsight: { threshold: held, shortOn: shortHeld.map((l) => l.id), laterOn: laterHeld.map((l) => l.id) },
    withinBudget: budget,
  }
})
for (const c of chosen.filter((c) => c.row === null)) print(`  MISSED  ${c.family.name}: no setting keeps the budget`)
const learnedVerdicts = LEARNED ? printLearned() : []

/** The learned predictor's section: each held-out kind, its cells against both references, and the same target. */
function printLearned() {
  print()
  print(
    `The learned predictor, one incident kind held out at a time: trained on the train half's other kinds and its noise (20 to 1,000 requests/s, seeds ${calibrationSeeds[0]}..${calibrationSeeds.at(-1)}, horizon 30 s), added to the ${held} threshold, its probability calibrated to the budget on the train half's noise, reported on the held-out kind's test cells:`,
  )
  return learned.kinds.map((k) => {
    const name = k.row
    const variant = k.variant === '' ? '' : ` [${k.variant}]`
    if (name === null) {
      print(
        `  MISSED  without ${k.kind}${variant}: no probability keeps the budget (trained on ${k.examples} buckets, ${k.positives} positive)`,
      )
      return { variant: k.variant, kind: k.kind, probability: null, met: false }
    }
    const w = worstNoise(report, name)
    print(
      `  held out: ${k.kind}${variant} (${k.examples} training buckets, ${k.positives} positive; probability ${k.probability}; test noise: ${w.perDay.toFixed(0)} false trips a day at worst, ${w.id})`,
    )
    const lines = incidents.filter((l) => k.cells.includes(l.id))
    for (const line of lines) {
      const delta = (reference: string) => {
        const e = earlier(line, name, reference)
        return e === 0 ? '0.0' : Number.isFinite(e) ? `${e > 0 ? '+' : ''}${e.toFixed(1)}` : e > 0 ? 'it alone' : 'never'
      }
      print(
        `    ${line.id.padEnd(22)}${(line.precursor ? 'precursor' : '').padEnd(11)}${fmt(shedOf(line, name)).padStart(10)}   against ${threshold}: ${delta(STATIC).padStart(8)} s   against ${held}: ${delta(HELD).padStart(8)} s`,
      )
    }
    const short = lines.filter((l) => l.precursor && earlier(l, name, HELD) < LEAD_TARGET_S)
    const later = lines.filter((l) => !l.precursor && earlier(l, name, HELD) < 0)
    const met = short.length === 0 && later.length === 0 && within(report, name)
    const precursors = lines.filter((l) => l.precursor).length
    print(
      `    ${met ? 'met   ' : 'MISSED'}  ${precursors === 0 ? 'no precursor: never later than' : `${precursors - short.length} of ${precursors} cells ${LEAD_TARGET_S} s or more ahead of`} ${held}${later.length > 0 ? `; later on ${later.map((l) => l.id).join(', ')}` : ''}`,
    )
    return {
      variant: k.variant,
      kind: k.kind,
      probability: k.probability,
      met,
      shortOn: short.map((l) => l.id),
      laterOn: later.map((l) => l.id),
      worstNoise: w,
    }
  })
}
console.log(out.join('\n'))
const markdownAt = args.indexOf('--markdown')
if (markdownAt >= 0) {
  const file = args[markdownAt + 1]
  if (file === undefined) throw new Error('--markdown: expected a file')
  writeFileSync(
    file,
    `# Predictive detection on the scenario space: latest full run\n\nWritten by \`pnpm bench:prediction-space --markdown ${file}\`; what it does and what it says: [README.md](README.md#on-the-scenario-space-at-a-false-trip-budget-pnpm-benchprediction-space).\n\n\`\`\`\n${out.join('\n')}\n\`\`\`\n`,
  )
}

const dir = fileURLToPath(new URL('../../out/', import.meta.url))
mkdirSync(dir, { recursive: true })
const summary = {
  node: process.version,
  quick,
  budgetPerDay: BUDGET_PER_DAY,
  calibrationSeeds,
  reportSeeds,
  threshold,
  hindsightThreshold: held,
  chosen: chosen.map((c) => ({ family: c.family.name, knob: c.family.knob, setting: c.pick?.value ?? null })),
  verdicts,
  learned: { kinds: learned.kinds, verdicts: learnedVerdicts },
  staticCalibration,
  staticOnTest,
  partCalibration,
  report,
}
writeFileSync(`${dir}prediction-space.json`, `${JSON.stringify(summary, null, 2)}\n`)
console.log(`\nwrote ${dir}prediction-space.json`)
