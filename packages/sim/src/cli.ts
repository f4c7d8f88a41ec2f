#!/usr/bin/env node
/**
 * breaker-sim: runs strategies side by side on a scenario and prints charts and a summary.
 * `pnpm demo` runs it with the defaults: the fragile-recovery scenario, seed 1.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { renderHtml } from './html.js'
import { renderText } from './report.js'
import { scenarios } from './Scenario.js'
import { simulate } from './simulate.js'
import { demoStrategies } from './strategies.js'

const usage = `usage: breaker-sim [--scenario NAME] [--seed N] [--html PATH] [--list] [--help]

Runs classic half-open, gradual recovery and consecutive-failures-with-backoff on the same
simulated traffic (same seed, same draws) and shows what each did to callers and to the upstream.

options:
  --scenario NAME   one of: ${Object.keys(scenarios).join(', ')} (default: fragile-recovery)
  --seed N          a non-negative integer; same seed, same output (default: 1)
  --html PATH       also write a self-contained HTML report (inline charts, no network) to PATH
  --list            list the scenarios with their descriptions
  --help            this text`

const fail = (message: string): never => {
  process.stderr.write(`breaker-sim: ${message}\n\n${usage}\n`)
  process.exit(2)
}

const options = {
  scenario: { type: 'string' },
  seed: { type: 'string' },
  html: { type: 'string' },
  list: { type: 'boolean' },
  help: { type: 'boolean' },
} as const

const parse = () => {
  try {
    return parseArgs({ options, strict: true, allowPositionals: false })
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error))
  }
}
const parsed = parse()
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

const runs = simulate(scenario, demoStrategies(), { seed })
process.stdout.write(`${renderText(scenario, runs, seed)}\n`)
if (values.html !== undefined) {
  const path = resolve(values.html)
  try {
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, renderHtml(scenario, runs, seed))
  } catch (error) {
    process.stderr.write(
      `breaker-sim: could not write the HTML report to ${path}: ${error instanceof Error ? error.message : String(error)}\n`,
    )
    process.exit(1)
  }
  process.stdout.write(`\nHTML report: ${path}\n`)
}
