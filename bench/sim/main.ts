/**
 * `pnpm bench:sim`: simulated requests per second through each demo strategy, and the time of a
 * one-hour scenario at 1,000 requests/s with the three strategies. Not a test; --quick runs a
 * short scenario only to prove the benchmark runs.
 */
import { demoStrategies, type Scenario, scenarios, simulate } from '@datapunk/breaker-sim'

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
if (quick) console.log('(--quick: a short scenario; the numbers only prove the benchmark runs)')
