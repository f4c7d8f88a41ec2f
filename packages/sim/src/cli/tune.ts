/** `breaker-sim tune`: searches a config space for the cheapest config on cells of the scenario space, a scenario or a trace. */

import { writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { scenarios } from '../builtInScenarios.js'
import { renderTuneHtml } from '../html.js'
import type { Scenario } from '../Scenario.js'
import { readScenarioFile } from '../ScenarioFile.js'
import {
  best,
  candidatesOf,
  DEFAULT_WEIGHTS,
  type Evaluation,
  edgeWarnings,
  paretoFront,
  parseSpace,
  type Target,
  tuneAll,
  type Weights,
} from '../tune.js'
import { named, nameOf } from '../tuneSpace.js'
import {
  CliExit,
  cellsOption,
  fail,
  kindsOption,
  parseOptions,
  parseSeeds,
  positiveInt,
  print,
  readJson,
  readTrace,
  writeHtml,
} from './common.js'
import { progressLine } from './progress.js'

/** The seeds as text: `1..3`, or `1,5,9`. */
const seedText = (seeds: ReadonlyArray<number>): string =>
  seeds.length > 1 && seeds.every((s, i) => s === (seeds[0] ?? 0) + i) ? `${seeds[0]}..${seeds.at(-1)}` : seeds.join(',')

/** The cost a space asks for, in words. */
const costText = (weights: Weights): string =>
  Object.entries(weights)
    .filter(([, w]) => w !== undefined && w > 0)
    .map(([name, w]) => `${w} x ${name}`)
    .join(' + ') || '0 (every weight is 0)'

/** Where the candidates are evaluated, from the options: cells of the space (the default), a scenario, a scenario file or a trace. */
function targetOf(values: Record<string, string | undefined>): { readonly target: Target; readonly where: string } {
  const given = [values.cells, values.scenario, values['scenario-file'], values.trace].filter((v) => v !== undefined)
  if (given.length > 1) fail('tune: give at most one of --cells, --scenario, --scenario-file, --trace')
  if (given.length === 1 && values.cells === undefined && values.rps !== undefined)
    fail('tune: --rps builds the cells of the space at your traffic levels; it does not apply to --scenario, --scenario-file or --trace')
  if (values.trace !== undefined) {
    const events = readTrace(values.trace)
    return { target: { kind: 'trace', events }, where: `the trace ${values.trace} (${events.length} events)` }
  }
  if (values.scenario !== undefined || values['scenario-file'] !== undefined) {
    let scenario: Scenario
    if (values['scenario-file'] !== undefined) {
      const decoded = readScenarioFile(values['scenario-file'])
      if (decoded._tag === 'Left') fail(decoded.left)
      scenario = decoded.right
    } else {
      const name = values.scenario ?? ''
      scenario = Object.hasOwn(scenarios, name) ? (scenarios[name] as Scenario) : fail(`unknown scenario "${name}" (see --list)`)
    }
    const seeds = parseSeeds(values.seeds ?? '1')
    return { target: { kind: 'scenario', scenario, seeds }, where: `${scenario.name}, seeds ${seedText(seeds)}` }
  }
  const selector = values.cells ?? 'train'
  const cells = cellsOption(selector, values['max-rps'], values.rps)
  const seeds = parseSeeds(values.seeds ?? '1..3')
  const at = values.rps === undefined ? '' : ` at ${values.rps} requests/s`
  const limit = `${at}${values['max-rps'] === undefined ? '' : ` up to ${values['max-rps']} requests/s`}`
  return { target: { kind: 'cells', cells, seeds }, where: `${cells.length} cells (${selector}${limit}), seeds ${seedText(seeds)}` }
}

export async function tuneCommand(args: string[]): Promise<void> {
  const values = parseOptions(
    args,
    {
      space: { type: 'string' },
      cells: { type: 'string' },
      'max-rps': { type: 'string' },
      rps: { type: 'string' },
      scenario: { type: 'string' },
      'scenario-file': { type: 'string' },
      trace: { type: 'string' },
      seeds: { type: 'string' },
      budget: { type: 'string' },
      workers: { type: 'string' },
      kinds: { type: 'string' },
      out: { type: 'string' },
      html: { type: 'string' },
    },
    'tune',
  )
  const spacePath = values.space ?? fail('tune: --space FILE is required')
  const space = parseSpace(readJson(spacePath), spacePath)
  if (space._tag === 'Left') fail(space.left)
  const { target, where } = targetOf(values)
  const kinds = await kindsOption(values.kinds)
  const budget = positiveInt(values.budget, 'budget', 100, 100_000)
  const workers = positiveInt(values.workers, 'workers', availableParallelism(), 64)
  const candidates = candidatesOf(space.right, budget)
  if (candidates._tag === 'Left') fail(`tune: ${candidates.left}`)
  const weights = space.right.weights ?? DEFAULT_WEIGHTS
  const constraints = space.right.constraints ?? {}
  const progress = progressLine('tune, candidates')
  const evaluations = await tuneAll(candidates.right, target, weights, {
    workers,
    constraints,
    onProgress: progress.update,
    ...(values.kinds === undefined ? {} : { kindsModule: resolve(values.kinds) }),
    ...(kinds === undefined ? {} : { kinds }),
  })
  progress.end()
  const invalid = evaluations.filter((e) => !e.valid)
  const valid = evaluations.filter((e) => e.valid)
  if (valid.length === 0) fail(`tune: no candidate config is valid; the first problem: ${invalid[0]?.problem ?? 'none'}`)
  const winner = best(evaluations)
  const byIndex = new Map(candidates.right.map((c) => [c.index, c]))
  const describe = (e: Evaluation) =>
    Object.entries(byIndex.get(e.index)?.values ?? {})
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(' ')
  const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1))
  const lines = reportLines(evaluations, constraints, weights, describe, {
    candidates: candidates.right.length,
    invalid: invalid.length,
    where,
  })
  if (winner === undefined) {
    print(`${lines.join('\n')}\n`)
    const fewest = Math.min(...valid.map((e) => e.falseTripsPerDay))
    throw new CliExit(
      1,
      `breaker-sim: tune: no candidate keeps the false-trip budget (${constraints.falseTripsPerDay} a day); the fewest false trips any made: ${fmt(fewest)} a day\n`,
    )
  }
  const chosen = byIndex.get(winner.index)
  const out = resolve(values.out ?? 'tuned.json')
  const config = named(chosen?.config, nameOf(space.right.base) ?? 'tuned')
  try {
    writeFileSync(out, `${JSON.stringify(config, null, 2)}\n`)
  } catch (error) {
    throw new CliExit(1, `breaker-sim: cannot write ${out}: ${error instanceof Error ? error.message : String(error)}\n`)
  }
  lines.push('', `best: ${describe(winner)} (cost ${fmt(winner.cost)}), written to ${out}`)
  for (const warning of chosen === undefined ? [] : edgeWarnings(space.right, chosen)) lines.push(`warning: ${warning}`)
  print(`${lines.join('\n')}\n`)
  if (values.html !== undefined)
    writeHtml(values.html, renderTuneHtml(`tuned on ${where}`, evaluations, paretoFront(evaluations), winner, describe))
}

/** The report of a tuning run: the ten best candidates, the Pareto front, and what the columns mean. */
function reportLines(
  evaluations: ReadonlyArray<Evaluation>,
  constraints: { readonly falseTripsPerDay?: number },
  weights: Parameters<typeof costText>[0],
  describe: (e: Evaluation) => string,
  run: { readonly candidates: number; readonly invalid: number; readonly where: string },
): string[] {
  const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1))
  const budgetText = constraints.falseTripsPerDay === undefined ? '' : `; at most ${constraints.falseTripsPerDay} false trips a day`
  const header = ['rank', 'cost', 'shortfall', 'wasted %', 'wasted', 'needless', 'false/day', 'collapses', 'detect s', 'full s']
  const ranked = evaluations
    .filter((e) => e.valid)
    .sort((a, b) => Number(b.withinConstraints) - Number(a.withinConstraints) || a.cost - b.cost || a.index - b.index)
  const rows = ranked
    .slice(0, 10)
    .map((e, i) => [
      String(i + 1),
      fmt(e.cost),
      fmt(e.oracleShortfall),
      fmt(e.wastedShare),
      fmt(e.wasted),
      fmt(e.needless),
      `${fmt(e.falseTripsPerDay)}${e.withinConstraints ? '' : '!'}`,
      fmt(e.collapses),
      fmt(e.detectSeconds),
      fmt(e.backToFullSeconds),
    ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: ReadonlyArray<string>, tail: string) =>
    `${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')}  ${tail}`
  return [
    `tuned ${run.candidates} candidates on ${run.where}${run.invalid > 0 ? ` (${run.invalid} invalid, skipped)` : ''}`,
    `cost: ${costText(weights)}${budgetText}`,
    '',
    line(header, 'parameters'),
    ...rows.map((r, i) => line(r, describe(ranked[i] as Evaluation))),
    '',
    'Pareto front (wasted vs needless: no other candidate is better on both):',
    // Candidates with the same figures share one line.
    ...sameFigures(paretoFront(evaluations)).map((same) => {
      const first = same[0] as Evaluation
      const more = same.length > 1 ? ` (and ${same.length - 1} more with the same figures)` : ''
      return `  wasted ${fmt(first.wasted)}, needless ${fmt(first.needless)}: ${describe(first)}${more}`
    }),
    '',
    "shortfall: points of the oracle's successes not served; wasted %: points of all requests sent into failure;",
    'needless: rejected requests that would have succeeded; false/day: trips per day on the worst noise cell (! over the budget).',
  ]
}

/** Runs of evaluations with equal wasted and needless figures, in order. */
function sameFigures(evaluations: ReadonlyArray<Evaluation>): Evaluation[][] {
  const groups: Evaluation[][] = []
  for (const e of evaluations) {
    const last = groups.at(-1)?.[0]
    if (last !== undefined && last.wasted === e.wasted && last.needless === e.needless) groups.at(-1)?.push(e)
    else groups.push([e])
  }
  return groups
}
