/**
 * Evaluation of predictive detection: when strategies shed load on degradations that build up
 * slowly, how often they trip on traffic that never justifies it, and what that costs. Used by
 * `breaker-sim evaluate` (your configs) and `pnpm bench:prediction` (the library's parts).
 */
import type { Strategy } from '@datapunk/breaker'
import { scenarios } from './builtInScenarios.js'
import type { Scenario } from './Scenario.js'
import { type RunSummary, simulate } from './simulate.js'

/** What happened to one strategy's runs of one scenario: medians over the seeds. */
export interface PredictionOutcome {
  /** Median share of requests answered successfully. */
  readonly success: number
  /** Median calls let into a failing upstream. */
  readonly wasted: number
  /** Median rejected requests that would have succeeded. */
  readonly needless: number
  /** Median collapses of a fragile upstream. */
  readonly collapses: number
}

/** One strategy's evaluation. Times in seconds; `null` where most seeds never got there. */
export interface PredictionRow {
  /** The config's name. */
  readonly strategy: string
  /** From the start of `slow-degradation` to the first request shed (median), and the seeds that never shed. */
  readonly degradationShedS: number | null
  /** Seeds on which it never shed load on `slow-degradation`. */
  readonly degradationNever: number
  /** The same on `brownout`, and the lead time: before the true failure rate reached 50% (negative: after). */
  readonly brownoutShedS: number | null
  /** Lead time on `brownout`, in s: load shed before the true failure rate reached 50% (negative: after). */
  readonly brownoutLeadS: number | null
  /** Trips over the whole stretched noisy scenarios (`dayHours` of bursty errors, of latency spikes). */
  readonly noisyTrips: number
  /** Trips over the stretched latency-spikes scenario. */
  readonly spikesTrips: number
  /** Success, wasted calls, needless rejections, collapses on the scenarios of {@link OUTCOME_SCENARIOS}. */
  readonly outcomes: Readonly<Record<string, PredictionOutcome>>
}

/** What `evaluatePrediction` measured: one row per config, over `seeds` and `dayHours` of noise. */
export interface PredictionEvaluation {
  /** The held-out seeds it ran. */
  readonly seeds: ReadonlyArray<number>
  /** Hours of each noisy scenario, for the false-trip counts. */
  readonly dayHours: number
  /** One row per config, in the order given. */
  readonly rows: ReadonlyArray<PredictionRow>
}

/** The scenarios whose costs an evaluation reports. */
export const OUTCOME_SCENARIOS = ['outage', 'brownout', 'fragile-recovery', 'noisy-but-healthy'] as const

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

/** The median of the known values when most are known, else `null`. */
const medianKnown = (xs: ReadonlyArray<number | null>): number | null => {
  const known = xs.filter((x): x is number => x !== null)
  return known.length * 2 > xs.length ? median(known) : null
}

const builtIn = (name: string): Scenario => {
  const scenario = scenarios[name]
  if (scenario === undefined) throw new Error(`missing built-in scenario ${name}`)
  return scenario
}

/**
 * A built-in scenario of repeated bursts (`noisy-but-healthy`, `self-healing-spikes`) stretched to
 * `hours`: its burst and the healthy segment after it, repeated at its period.
 */
export const stretched = (name: string, hours: number): Scenario => {
  const base = builtIn(name)
  const [healthy, burst, after, next] = base.health
  if (healthy === undefined || burst === undefined || after === undefined || next === undefined) {
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

/**
 * Evaluates `strategies` over `seeds` (use seeds you did not tune on): `slow-degradation` and
 * `brownout` for when load is shed, `dayHours` of `noisy-but-healthy` and of
 * `self-healing-spikes` (the first seed) for false trips, and {@link OUTCOME_SCENARIOS} for costs.
 * Deterministic.
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { evaluatePrediction } from '@datapunk/breaker-sim'
 * const reactive = circuit({ name: 'reactive', trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 20, window: { kind: 'time', durationMs: 10000, buckets: 10 } } })
 * const [row] = evaluatePrediction([reactive], { seeds: [101], dayHours: 0.25 }).rows
 * row?.degradationShedS // null: a 50% threshold never trips on a degradation that stops at 30% errors
 */
export const evaluatePrediction = (
  strategies: ReadonlyArray<Strategy<unknown>>,
  options: {
    readonly seeds: ReadonlyArray<number>
    readonly dayHours: number
    /** Told after each simulation: how many are done, of how many. */
    readonly onProgress?: (done: number, total: number) => void
  },
): PredictionEvaluation => {
  const { seeds, dayHours } = options
  // The simulations: every seed of the degradation and of each outcome scenario, one day of each noise.
  const total = seeds.length * (1 + OUTCOME_SCENARIOS.length) + 2
  let done = 0
  const ran = <T>(result: T): T => {
    options.onProgress?.(++done, total)
    return result
  }
  const runsOf = (scenario: Scenario): RunSummary[][] => {
    const per = strategies.map(() => [] as RunSummary[])
    for (const seed of seeds) {
      ran(simulate(scenario, strategies, { seed })).forEach((run, i) => {
        per[i]?.push(run.summary)
      })
    }
    return per
  }
  const trips = (scenario: Scenario) => ran(simulate(scenario, strategies, { seed: seeds[0] ?? 1 })).map((r) => r.summary.opens)
  const degradation = runsOf(builtIn('slow-degradation'))
  const brownout = runsOf(builtIn('brownout'))
  const costs = OUTCOME_SCENARIOS.map((name) => [name, name === 'brownout' ? brownout : runsOf(builtIn(name))] as const)
  const noisy = trips(stretched('noisy-but-healthy', dayHours))
  const spikes = trips(stretched('self-healing-spikes', dayHours))
  const rows = strategies.map((strategy, i): PredictionRow => {
    const d = degradation[i] ?? []
    const b = brownout[i] ?? []
    return {
      strategy: strategy.name,
      degradationShedS: medianKnown(d.map((r) => (r.timeToShedMs === null ? null : r.timeToShedMs / 1000))),
      degradationNever: d.filter((r) => r.timeToShedMs === null).length,
      brownoutShedS: medianKnown(b.map((r) => (r.timeToShedMs === null ? null : r.timeToShedMs / 1000))),
      brownoutLeadS: medianKnown(b.map((r) => (r.leadTimeMs === null ? null : r.leadTimeMs / 1000))),
      noisyTrips: noisy[i] ?? 0,
      spikesTrips: spikes[i] ?? 0,
      outcomes: Object.fromEntries(
        costs.map(([name, per]) => {
          const runs = per[i] ?? []
          return [
            name,
            {
              success: median(runs.map((r) => r.successRate)),
              wasted: median(runs.map((r) => r.wasted)),
              needless: median(runs.map((r) => r.needless)),
              collapses: median(runs.map((r) => r.collapses)),
            },
          ]
        }),
      ),
    }
  })
  return { seeds, dayHours, rows }
}

/** Columns aligned as the other commands print them: the first to the left, the rest to the right, two spaces apart. */
const aligned = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string[] => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const format = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')
  return [format(header), ...rows.map(format)]
}

/** The evaluation as two tables (aligned like `run`'s): shedding and false trips, then costs. */
export const renderPrediction = (evaluation: PredictionEvaluation): string => {
  const { seeds, dayHours, rows } = evaluation
  const seconds = (x: number | null) => (x === null ? 'never' : `${x.toFixed(1)} s`)
  const first = seeds[0] ?? 0
  const last = seeds[seeds.length - 1] ?? 0
  const shedding = rows.map((r) => {
    const degradation =
      r.degradationShedS === null
        ? `never (${r.degradationNever} of ${seeds.length} seeds)`
        : `${seconds(r.degradationShedS)}${r.degradationNever > 0 ? ` (${r.degradationNever} never)` : ''}`
    return [r.strategy, degradation, seconds(r.brownoutShedS), seconds(r.brownoutLeadS), String(r.noisyTrips), String(r.spikesTrips)]
  })
  const costs = rows.map((r) => [
    r.strategy,
    ...OUTCOME_SCENARIOS.map((name) => {
      const o = r.outcomes[name]
      return o === undefined
        ? '-'
        : `${(o.success * 100).toFixed(1)}% / ${Math.round(o.wasted)} / ${Math.round(o.needless)} / ${o.collapses}`
    }),
  ])
  return [
    `Medians over seeds ${first}..${last} (${seeds.length}); false trips over ${dayHours} simulated h of each noisy pattern`,
    '',
    ...aligned(
      [
        'strategy',
        'slow degradation: shed',
        'brown-out: shed',
        'brown-out: lead',
        `noisy: trips in ${dayHours} h`,
        `spikes: trips in ${dayHours} h`,
      ],
      shedding,
    ),
    '',
    'success / wasted / needless / collapses:',
    '',
    ...aligned(['strategy', ...OUTCOME_SCENARIOS], costs),
  ].join('\n')
}
