#!/usr/bin/env node
/**
 * breaker-sim: runs strategies side by side on a scenario and prints charts and a summary.
 * `pnpm demo` runs it with the defaults: the fragile-recovery scenario, seed 1.
 */
import { parseArgs } from 'node:util'
import { renderText } from './report.js'
import { scenarios } from './Scenario.js'
import { simulate } from './simulate.js'
import { demoStrategies } from './strategies.js'

const usage = `usage: breaker-sim [--scenario NAME] [--seed N] [--list] [--help]

Runs classic half-open, gradual recovery and consecutive-failures-with-backoff on the same
simulated traffic (same seed, same draws) and shows what each did to callers and to the upstream.

options:
  --scenario NAME   one of: ${Object.keys(scenarios).join(', ')} (default: fragile-recovery)
  --seed N          a non-negative integer; same seed, same output (default: 1)
  --list            list the scenarios with their descriptions
  --help            this text`

const fail = (message: string): never => {
  process.stderr.write(`breaker-sim: ${message}\n\n${usage}\n`)
  process.exit(2)
}

let parsed: ReturnType<
  typeof parseArgs<{
    options: { scenario: { type: 'string' }; seed: { type: 'string' }; list: { type: 'boolean' }; help: { type: 'boolean' } }
  }>
>
try {
  parsed = parseArgs({
    options: { scenario: { type: 'string' }, seed: { type: 'string' }, list: { type: 'boolean' }, help: { type: 'boolean' } },
    strict: true,
    allowPositionals: false,
  })
} catch (error) {
  fail(error instanceof Error ? error.message : String(error))
  process.exit(2)
}
const { values } = parsed
if (values.help === true) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}
if (values.list === true) {
  for (const s of Object.values(scenarios)) process.stdout.write(`${s.name.padEnd(18)} ${s.description}\n`)
  process.exit(0)
}
const name = values.scenario ?? 'fragile-recovery'
const scenario = scenarios[name] ?? fail(`unknown scenario "${name}"`)
const seedText = values.seed ?? '1'
const seed =
  /^\d+$/.test(seedText) && Number.isSafeInteger(Number(seedText))
    ? Number(seedText)
    : fail(`--seed: expected a non-negative integer, got "${seedText}"`)

process.stdout.write(`${renderText(scenario, simulate(scenario, demoStrategies(), { seed }), seed)}\n`)
