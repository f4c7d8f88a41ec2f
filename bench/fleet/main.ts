/**
 * `pnpm bench:fleet`: fleet mode across a space of incidents the defaults were not chosen on.
 * The defaults (`significance` 0.05, `maxFleetOpened` 0, the support rules) were chosen on the
 * fleet model's own cells (200 requests/s, 1% background errors, failure rate 50% over 10 s,
 * `minimumCalls` 20 or 40, 4 to 100 replicas); this reports them on other request rates,
 * background error rates, trip thresholds, fleet sizes and fault widths, from a quiet start and
 * after healthy traffic, over held-out seeds. For each cell, alone and in fleet mode:
 *
 * - a shared fault (every replica): calls wasted until every replica is open, and the ratio;
 * - a local fault (1 replica, or a third): failed calls until the faulty ones are open (fleet
 *   minus alone, median), and good calls the healthy replicas rejected (worst seed, fleet and alone).
 *
 *   pnpm bench:fleet [--quick]
 *
 * Prints the cells where fleet mode does worse than alone, then a summary; writes
 * bench/out/fleet.json. Not a test: `packages/sim/test/fleet.test.ts` asserts behaviour.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { circuit, type Strategy } from '@datapunk/breaker'
import { type FleetRun, simulateFleet } from '@datapunk/breaker-sim'

const quick = process.argv.includes('--quick')
const seeds = Array.from({ length: quick ? 3 : 10 }, (_, i) => 100 + i)
const rates = quick ? [50, 500] : [50, 500, 3000]
const baselines = quick ? [0, 0.08] : [0, 0.03, 0.08]
const sizes = quick ? [6, 30] : [3, 6, 30]
const trips = [
  { minimumCalls: 10, threshold: 0.3 },
  { minimumCalls: 50, threshold: 0.5 },
] as const

const median = (xs: ReadonlyArray<number>): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? 0

interface Row {
  readonly rps: number
  readonly baseline: number
  readonly replicas: number
  readonly quiet: boolean
  readonly minimumCalls: number
  readonly threshold: number
  readonly faulty: number
  readonly aloneWasted: number
  readonly fleetWasted: number
  /** Median over seeds of fleet minus alone, failed calls until the faulty replicas are open. */
  readonly extraWasted: number
  readonly aloneRejectedWorst: number
  readonly fleetRejectedWorst: number
}

const rows: Row[] = []
for (const rps of rates)
  for (const baseline of baselines)
    for (const replicas of sizes)
      for (const quiet of [true, false])
        for (const { minimumCalls, threshold } of trips) {
          const strategy = circuit({
            trip: { kind: 'failure-rate', threshold, minimumCalls, window: { kind: 'time', durationMs: 10_000, buckets: 10 } },
            openFor: { kind: 'constant', ms: 600_000 },
          }) as Strategy<unknown>
          for (const faulty of [...new Set([1, Math.max(1, Math.floor(replicas / 3)), replicas])]) {
            const options = {
              replicas,
              faulty,
              rps,
              baselineFailureRate: baseline,
              strategy,
              syncMs: 200,
              outageAtMs: quiet ? 0 : 15_000,
              horizonMs: 30_000,
            }
            const alone: FleetRun[] = seeds.map((seed) => simulateFleet({ ...options, shared: false, seed }))
            const fleet: FleetRun[] = seeds.map((seed) => simulateFleet({ ...options, shared: true, seed }))
            rows.push({
              rps,
              baseline,
              replicas,
              quiet,
              minimumCalls,
              threshold,
              faulty,
              aloneWasted: median(alone.map((r) => r.wasted)),
              fleetWasted: median(fleet.map((r) => r.wasted)),
              extraWasted: median(fleet.map((r, i) => r.wasted - (alone[i]?.wasted ?? 0))),
              aloneRejectedWorst: Math.max(...alone.map((r) => r.healthyRejected)),
              fleetRejectedWorst: Math.max(...fleet.map((r) => r.healthyRejected)),
            })
          }
        }

const label = (r: Row) =>
  `${r.rps} req/s, ${r.baseline * 100}% background, ${r.replicas} replicas, ${r.quiet ? 'quiet start' : 'after traffic'}, trip ${r.threshold * 100}%/${r.minimumCalls}, fault on ${r.faulty === r.replicas ? 'all' : r.faulty}`
const local = rows.filter((r) => r.faulty < r.replicas)
const shared = rows.filter((r) => r.faulty === r.replicas)
const worse = local.filter((r) => r.fleetRejectedWorst > r.aloneRejectedWorst || r.extraWasted > 0)
for (const r of worse)
  console.log(
    `${label(r)}: healthy rejected (worst seed) ${r.fleetRejectedWorst} in fleet mode, ${r.aloneRejectedWorst} alone; failed calls until the faulty opened ${r.extraWasted >= 0 ? '+' : ''}${r.extraWasted} (median, fleet minus alone)`,
  )
const ratios = shared.map((r) => r.aloneWasted / Math.max(1, r.fleetWasted))
const summary = {
  seeds: `${seeds[0]}..${seeds[seeds.length - 1]}`,
  cells: rows.length,
  localCells: local.length,
  localCellsWithoutHealthyRejections: local.filter((r) => r.fleetRejectedWorst === 0).length,
  localCellsWhereFleetRejectsMoreThanAlone: local.filter((r) => r.fleetRejectedWorst > r.aloneRejectedWorst).length,
  worstExtraHealthyRejected: Math.max(0, ...local.map((r) => r.fleetRejectedWorst - r.aloneRejectedWorst)),
  localCellsWhereFaultyOpenLater: local.filter((r) => r.extraWasted > 0).length,
  worstMedianExtraFailedCalls: Math.max(0, ...local.map((r) => r.extraWasted)),
  sharedWastedRatioMedian: Number(median(ratios).toFixed(2)),
  sharedWastedRatioMin: Number(Math.min(...ratios).toFixed(2)),
  sharedWastedRatioMax: Number(Math.max(...ratios).toFixed(2)),
}
console.log(summary)
const out = resolve(dirname(fileURLToPath(import.meta.url)), '../../out/fleet.json')
mkdirSync(dirname(out), { recursive: true })
writeFileSync(out, JSON.stringify({ summary, rows }, null, 1))
