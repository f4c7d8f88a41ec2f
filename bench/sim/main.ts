/**
 * `pnpm bench:sim`: simulated requests per second through each demo strategy, the time of a
 * one-hour scenario at 1,000 requests/s with the three strategies, and a 100-config tune on one
 * thread and across the cores. Not a test; --quick runs short scenarios only to prove it runs.
 */
import { availableParallelism } from 'node:os'
import { candidatesOf, demoStrategies, parseSpace, type Scenario, scenarios, simulate, tuneAll, Weights } from '@datapunk/breaker-sim'

const quick = process.argv.includes('--quick')
const base = scenarios['fragile-recovery']
if (base === undefined) throw new Error('missing scenario')
const hours = quick ? 0.01 : 1
// The fragile-recovery scenario stretched to an hour at 1,000 requests/s (incident and recovery
// stay at the same offsets; the rest is healthy traffic).
const scenario: Scenario = {
  ...base,
  name: `fragile-recovery, ${hours} h at 1,000 rps`,
  durationMs: hours * 3_600_000,
  load: { kind: 'poisson', rps: 1000 },
  fragility: base.fragility === undefined ? undefined : { ...base.fragility, capacityRps: 500 },
} as Scenario

const strategies = demoStrategies()
const started = process.hrtime.bigint()
const runs = simulate(scenario, strategies, { seed: 1 })
const seconds = Number(process.hrtime.bigint() - started) / 1e9
const requests = runs.reduce((n, r) => n + r.summary.requests, 0)
console.log(`${scenario.name}, ${strategies.length} strategies (node ${process.version})`)
console.log(
  `  ${requests.toLocaleString('en-US')} simulated requests in ${seconds.toFixed(2)} s: ${Math.round(requests / seconds).toLocaleString('en-US')} requests/s overall`,
)
for (const strategy of strategies) {
  const t0 = process.hrtime.bigint()
  const [run] = simulate(scenario, [strategy], { seed: 1 })
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  console.log(
    `  ${strategy.name.padEnd(22)} ${Math.round((run?.summary.requests ?? 0) / s)
      .toLocaleString('en-US')
      .padStart(12)} simulated requests/s`,
  )
}

// ---- a 100-config tune, on one thread and across the cores --------------------------------------
{
  const outage = scenarios.outage
  if (outage === undefined) throw new Error('missing scenario')
  const tuneScenario: Scenario = quick
    ? {
        ...outage,
        durationMs: 30_000,
        incidentAtMs: 10_000,
        recoveredAtMs: 20_000,
        health: outage.health.map((h, i) => ({ ...h, atMs: i * 10_000 })),
      }
    : outage
  const space = parseSpace(
    {
      base: {
        name: 'tuned',
        trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 20, window: { kind: 'time', durationMs: 10_000, buckets: 10 } },
      },
      parameters: [
        { path: 'trip.threshold', values: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1] },
        { path: 'trip.minimumCalls', values: [5, 10, 20, 40, 80, 100, 120, 140, 160, 200] },
      ],
    },
    'bench space',
  )
  if (space._tag === 'Left') throw new Error(space.left)
  const candidates = candidatesOf(space.right, 100)
  if (candidates._tag === 'Left') throw new Error(candidates.left)
  const weights = space.right.weights ?? (Weights.decode({}) as { right: Weights }).right
  const target = { kind: 'scenario', scenario: tuneScenario, seeds: [1] } as const
  // The outage's load is Poisson at 200 requests/s: about that many per simulated second.
  const requestsPerCandidate = Math.round((tuneScenario.durationMs / 1000) * 200)
  const timeTune = async (workers: number) => {
    const t0 = process.hrtime.bigint()
    await tuneAll(candidates.right, target, weights, { workers })
    return Number(process.hrtime.bigint() - t0) / 1e9
  }
  const cores = availableParallelism()
  const one = await timeTune(1)
  const all = await timeTune(cores)
  const simulated = requestsPerCandidate * candidates.right.length
  console.log(`\na 100-config tune on ${tuneScenario.name} (${simulated.toLocaleString('en-US')} simulated requests)`)
  console.log(
    `  1 thread      ${one.toFixed(2)} s  ${Math.round(simulated / one)
      .toLocaleString('en-US')
      .padStart(12)} simulated requests/s`,
  )
  console.log(
    `  ${String(cores).padEnd(2)}threads    ${all.toFixed(2)} s  ${Math.round(simulated / all)
      .toLocaleString('en-US')
      .padStart(12)} simulated requests/s (x${(one / all).toFixed(2)})`,
  )
}
if (quick) console.log('(--quick: short scenarios; the numbers only prove the benchmark runs)')
