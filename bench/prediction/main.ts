/**
 * `pnpm bench:prediction`: the change-point detectors against the reactive failure-rate threshold
 * they are added to, on held-out seeds (101..120: the defaults were chosen on seeds 1..5). For each
 * detection: when it first sheds load on a slow degradation and a brown-out (and how long before
 * the upstream's true failure rate reaches 50%), and how often it trips on traffic that never
 * justifies a trip (bursty errors, self-healing latency spikes), per simulated day.
 *
 *   pnpm bench:prediction [--seeds A..B] [--quick]
 *
 * Writes bench/out/prediction.json. Not a test: the core's tests assert the detectors' behaviour.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { adaptiveThrottle, type CircuitConfigInput, circuit, type Strategy, type TripConfigInput } from '@datapunk/breaker'
import { type RunSummary, type Scenario, scenarios, simulate } from '@datapunk/breaker-sim'

const args = process.argv.slice(2)
const seedsAt = args.indexOf('--seeds')
const seedSpec = seedsAt >= 0 ? (args[seedsAt + 1] ?? '') : args.includes('--quick') ? '101..102' : '101..120'
const range = /^(\d+)\.\.(\d+)$/.exec(seedSpec)
if (range === null) throw new Error(`--seeds: expected A..B, got ${seedSpec}`)
const seeds = Array.from({ length: Number(range[2]) - Number(range[1]) + 1 }, (_, i) => Number(range[1]) + i)

const reactive = {
  kind: 'failure-rate',
  threshold: 0.5,
  minimumCalls: 20,
  window: { kind: 'time', durationMs: 10_000, buckets: 10 },
} as const satisfies TripConfigInput
const failureShift = { kind: 'change-point', signal: 'failure' } as const satisfies TripConfigInput
const latencyShift = { kind: 'change-point', signal: 'latency' } as const satisfies TripConfigInput

const DETECTIONS: ReadonlyArray<readonly [string, TripConfigInput]> = [
  ['failure rate (reactive)', reactive],
  ['consecutive failures', { kind: 'consecutive-failures', threshold: 10 }],
  ['+ change-point, failures', { kind: 'any-of', detectors: [reactive, failureShift] }],
  ['+ change-point, latency', { kind: 'any-of', detectors: [reactive, latencyShift] }],
  ['+ change-point, both', { kind: 'any-of', detectors: [reactive, failureShift, latencyShift] }],
]
const circuitWith = (name: string, trip: TripConfigInput) =>
  circuit({ name, trip, recovery: { kind: 'classic', probes: 1 }, openFor: { kind: 'constant', ms: 5_000 } } satisfies CircuitConfigInput)
const strategies: ReadonlyArray<Strategy<unknown>> = [
  ...DETECTIONS.map(([name, trip]) => circuitWith(name, trip)),
  // Throttling alone: a circuit that never trips, inside the throttle.
  adaptiveThrottle(circuit({ name: 'adaptive throttle alone', trip: { kind: 'consecutive-failures', threshold: 1_000_000 } })),
  adaptiveThrottle(circuitWith('throttle + change-point, latency', { kind: 'any-of', detectors: [reactive, latencyShift] })),
] as ReadonlyArray<Strategy<unknown>>

const runsOf = (name: string): RunSummary[][] => {
  const scenario = scenarios[name]
  if (scenario === undefined) throw new Error(`missing scenario ${name}`)
  const per = strategies.map(() => [] as RunSummary[])
  for (const seed of seeds) {
    simulate(scenario, strategies, { seed }).forEach((run, i) => {
      per[i]?.push(run.summary)
    })
  }
  return per
}

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}
/** Median seconds to shed load (a trip or a throttled request); a run that never did counts as the whole scenario. */
const detectS = (runs: RunSummary[], durationMs: number) => median(runs.map((r) => (r.timeToShedMs ?? durationMs) / 1000))
const leadS = (runs: RunSummary[]) => {
  const known = runs.flatMap((r) => (r.leadTimeMs === null ? [] : [r.leadTimeMs / 1000]))
  return known.length * 2 > runs.length ? median(known) : null
}

/**
 * A built-in scenario of repeated bursts (noisy-but-healthy, self-healing-spikes) stretched to
 * `hours`: its burst and the healthy segment after it, repeated at its period.
 */
const stretched = (name: string, hours: number): Scenario => {
  const base = scenarios[name]
  const [healthy, burst, after, next] = base?.health ?? []
  if (base === undefined || healthy === undefined || burst === undefined || after === undefined || next === undefined) {
    throw new Error(`scenario ${name} is not a repeated burst`)
  }
  const period = next.atMs - burst.atMs
  const durationMs = hours * 3_600_000
  const health = [healthy]
  for (let at = burst.atMs; at + period <= durationMs; at += period) {
    health.push({ ...burst, atMs: at }, { ...after, atMs: at + (after.atMs - burst.atMs) })
  }
  return { ...base, name: `${name}, ${hours} h`, durationMs, health }
}
/** Trips per simulated day over a whole day of traffic that never justifies one (one seed: the day is the sample). */
const tripsPerDay = (scenario: Scenario) => simulate(scenario, strategies, { seed: seeds[0] ?? 101 }).map((r) => r.summary.tripsPerDay)
const dayHours = args.includes('--quick') ? 1 : 24
const noisyDay = tripsPerDay(stretched('noisy-but-healthy', dayHours))
const spikesDay = tripsPerDay(stretched('self-healing-spikes', dayHours))

const degradation = runsOf('slow-degradation')
const brownout = runsOf('brownout')
const noisy = runsOf('noisy-but-healthy')
const spikes = runsOf('self-healing-spikes')
const duration = (name: string) => scenarios[name]?.durationMs ?? 0

const rows = strategies.map((s, i) => {
  const d = degradation[i] ?? []
  const b = brownout[i] ?? []
  const n = noisy[i] ?? []
  const k = spikes[i] ?? []
  return {
    detection: s.name,
    degradationDetectS: detectS(d, duration('slow-degradation')),
    degradationNever: d.filter((r) => r.timeToShedMs === null).length,
    brownoutDetectS: detectS(b, duration('brownout')),
    brownoutLeadS: leadS(b),
    brownoutSuccess: median(b.map((r) => r.successRate)),
    brownoutWasted: median(b.map((r) => r.wasted)),
    noisyTripsPerDay: median(n.map((r) => r.tripsPerDay)),
    noisyTripsPerDayMax: Math.max(...n.map((r) => r.tripsPerDay)),
    spikesTripsPerDay: median(k.map((r) => r.tripsPerDay)),
    spikesTripsPerDayMax: Math.max(...k.map((r) => r.tripsPerDay)),
    noisyDayTrips: noisyDay[i] ?? 0,
    spikesDayTrips: spikesDay[i] ?? 0,
  }
})

const s1 = (x: number | null) => (x === null ? 'never' : `${x.toFixed(1)} s`)
console.log(`Change-point detection vs the reactive threshold, medians over held-out seeds ${seedSpec} (node ${process.version})\n`)
const header = [
  'detection',
  'slow degradation: detect',
  'brown-out: detect',
  'brown-out: lead',
  'brown-out: success / wasted',
  'noisy: trips/day (max), 10 min x seeds',
  'spikes: trips/day (max), 10 min x seeds',
  `noisy: trips in ${dayHours} h`,
  `spikes: trips in ${dayHours} h`,
]
console.log(`| ${header.join(' | ')} |`)
console.log(`| ${header.map(() => '---').join(' | ')} |`)
for (const r of rows) {
  console.log(
    `| ${[
      r.detection,
      r.degradationNever * 2 > seeds.length
        ? `never (${r.degradationNever} of ${seeds.length} seeds)`
        : `${s1(r.degradationDetectS)}${r.degradationNever > 0 ? ` (${r.degradationNever} never)` : ''}`,
      s1(r.brownoutDetectS),
      s1(r.brownoutLeadS),
      `${(r.brownoutSuccess * 100).toFixed(1)}% / ${Math.round(r.brownoutWasted)}`,
      `${r.noisyTripsPerDay.toFixed(0)} (${r.noisyTripsPerDayMax.toFixed(0)})`,
      `${r.spikesTripsPerDay.toFixed(0)} (${r.spikesTripsPerDayMax.toFixed(0)})`,
      ((r.noisyDayTrips * dayHours) / 24).toFixed(0),
      ((r.spikesDayTrips * dayHours) / 24).toFixed(0),
    ].join(' | ')} |`,
  )
}

// What each costs and saves: success, wasted calls, needless rejections and collapses.
const OUTCOMES = ['outage', 'brownout', 'fragile-recovery', 'noisy-but-healthy'] as const
const outcomes = OUTCOMES.map((name) => [name, runsOf(name)] as const)
console.log('\nCells: success / wasted / needless / collapses, medians over the same seeds\n')
console.log(`| detection | ${OUTCOMES.join(' | ')} |`)
console.log(`| --- | ${OUTCOMES.map(() => '---').join(' | ')} |`)
const outcomeRows = strategies.map((s, i) => ({
  detection: s.name,
  cells: outcomes.map(([, per]) => {
    const runs = per[i] ?? []
    return {
      success: median(runs.map((r) => r.successRate)),
      wasted: median(runs.map((r) => r.wasted)),
      needless: median(runs.map((r) => r.needless)),
      collapses: median(runs.map((r) => r.collapses)),
    }
  }),
}))
for (const r of outcomeRows) {
  const cells = r.cells.map(
    (c) => `${(c.success * 100).toFixed(1)}% / ${Math.round(c.wasted)} / ${Math.round(c.needless)} / ${c.collapses}`,
  )
  console.log(`| ${r.detection} | ${cells.join(' | ')} |`)
}
const classicCollapses = outcomeRows[0]?.cells[2]?.collapses ?? 0
const throttleCollapses = outcomeRows.find((r) => r.detection === 'adaptive throttle alone')?.cells[2]?.collapses ?? Number.NaN
console.log(
  `\nTarget: adaptive throttling alone keeps the fragile upstream up where the reactive circuit with classic half-open collapses it: ${
    throttleCollapses === 0 && classicCollapses > 0 ? 'met' : 'MISSED'
  } (${throttleCollapses} collapses vs ${classicCollapses})`,
)

// The prediction issue's target: the best predictive part sheds load at least 5 s before the
// reactive baseline on slow degradation and brown-out, with at most 1 false trip per simulated
// day on noisy-but-healthy traffic.
const base = rows[0]
console.log('\nTarget: at least 5 s before the reactive threshold on both, at most 1 false trip a day on noisy traffic:')
for (const r of rows.slice(2)) {
  if (base === undefined) break
  const aheadDegradation = base.degradationDetectS - r.degradationDetectS
  const aheadBrownout = base.brownoutDetectS - r.brownoutDetectS
  const falseTrips = (r.noisyDayTrips * dayHours) / 24
  const met = r.degradationNever * 2 <= seeds.length && aheadDegradation >= 5 && aheadBrownout >= 5 && falseTrips <= 1 && dayHours === 24
  const degradationText =
    r.degradationNever * 2 > seeds.length
      ? 'never sheds load on the slow degradation'
      : base.degradationNever * 2 > seeds.length
        ? `sheds load ${r.degradationDetectS.toFixed(1)} s into the slow degradation (the reactive threshold never does)`
        : `${aheadDegradation.toFixed(1)} s ahead on the slow degradation`
  console.log(
    `  ${met ? 'met    ' : dayHours === 24 ? 'MISSED ' : 'n/a    '} ${r.detection}: ${degradationText}, ${aheadBrownout.toFixed(1)} s ahead on the brown-out, ${falseTrips.toFixed(0)} false trips in ${dayHours} h of noisy traffic`,
  )
}
const out = fileURLToPath(new URL('../../out/', import.meta.url))
mkdirSync(out, { recursive: true })
writeFileSync(`${out}prediction.json`, `${JSON.stringify({ seeds: seedSpec, rows, outcomes: outcomeRows }, null, 2)}\n`)
