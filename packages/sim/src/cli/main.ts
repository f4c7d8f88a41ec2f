import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { scenarios } from '../builtInScenarios.js'
import { FLEET_SIZES, renderFleetHtml, renderFleetText, sweepFleet } from '../fleet/render.js'
import { renderHtml, renderSeedHtml } from '../html.js'
import { incidentKind } from '../quality/heldOut.js'
import type { Cell } from '../quality/space.js'
import { replay } from '../replay.js'
import { renderSeedTable, renderText } from '../report.js'
import type { Scenario } from '../Scenario.js'
import { readScenarioFile } from '../ScenarioFile.js'
import { simulate, simulateWithOracle } from '../simulate.js'
import { demoStrategies } from '../strategies.js'
import { type Trained, trainPredictor } from '../train.js'
import { simulateSeeds } from '../tune.js'
import {
  type CliIo,
  cellsOption,
  closest,
  fail,
  kindsOption,
  parseOptions,
  parseSeeds,
  passExit,
  positiveInt,
  print,
  readJson,
  readText,
  readTrace,
  runWith,
  strategyFile,
  strategyOf,
  writeHtml,
  writeJson,
} from './common.js'
import { evaluateCommand } from './evaluate.js'
import { COMMANDS, type Command } from './help.js'
import { progressLine } from './progress.js'
import { qualityCommand } from './quality.js'
import { tuneCommand } from './tune.js'

/** What the demo's comparison of classic half-open and gradual recovery shows, and where each wins. */
const RECOVERY_NOTE = `classic vs gradual: classic half-open closes on its first good probe and sends all traffic back at
once. Gradual recovery admits 25%, raises it by 10, 20, then 40 points after clean stages (10 calls or 1.5 s,
and 0.5 s at least), steps back to the last good share when errors rise with it (measured against
its own baseline, so an upstream that errs at every share is admitted as classic admits it),
remembers a share that broke the upstream, paces what it admits in time (a burst of requests is
not a burst of load), and watches at full traffic for 30 s before closing (a relapse reopens it
within a stage or two). What it costs: a ramp of one to two seconds per
recovery (about four at 20 requests/s), so on an upstream that flaps (three recoveries) it loses up to 2.1 points to classic; and an upstream
that breaks without warning (fragile-cliff, and this demo's fragile recovery) is broken once
before the ramp learns where. What it saves: a fragile upstream is broken once, not again and
again. Across the whole scenario space (pnpm bench:quality, 82 cells from 1 to 10,000 requests/s)
it is within 2 points of classic on every cell but flapping at 5,000 requests/s, and 21 to 60 points ahead on eleven of
the thirteen fragile cells; pnpm bench:recovery prints the medians over 20 seeds of the built-in scenarios.
Adaptive throttling around a circuit that trips at 90% and recovers gradually (the README's recommended
composition) loses no cell of the space to classic and wins 26, fragile ones included.`

/** A built-in scenario by its own name only (`toString` or `__proto__` name none). */
const builtIn = (name: string): Scenario | undefined => (Object.hasOwn(scenarios, name) ? scenarios[name] : undefined)
const suggestScenario = (name: string): string => {
  const near = closest(name, Object.keys(scenarios))
  return near === undefined ? '' : ` (did you mean ${near}?)`
}

const commands: Readonly<Record<Command, (args: string[]) => Promise<void> | void>> = {
  run: runCommand,
  tune: tuneCommand,
  quality: qualityCommand,
  replay: replayCommand,
  evaluate: evaluateCommand,
  train: trainCommand,
  fleet: fleetCommand,
}
/**
 * Runs breaker-sim with `argv` (the arguments after the program's name) and returns its exit code:
 * 0 done, 1 a failure, 2 a usage error. What it prints goes to `io` (the process's streams unless
 * given): the bin (`cli.ts`) exits with the code, and tests run commands in their own process.
 * One run at a time.
 */
export function main(argv: ReadonlyArray<string>, io?: CliIo): Promise<number> {
  return runWith(io, async () => {
    const first = argv[0]
    if (first !== undefined && !first.startsWith('-')) {
      const command = commands[first as Command] as ((args: string[]) => Promise<void> | void) | undefined
      if (command === undefined || !Object.hasOwn(commands, first)) {
        const near = closest(first, COMMANDS)
        fail(`unknown command "${first}"${near === undefined ? '' : ` (did you mean ${near}?)`}; the commands are ${COMMANDS.join(', ')}`)
      }
      await command(argv.slice(1))
    } else demo(argv.slice())
  })
}

/** The demo: every demo strategy on one built-in scenario, and the note on classic and gradual recovery. */
function demo(args: string[]): void {
  const values = parseOptions(
    args,
    {
      scenario: { type: 'string' },
      seed: { type: 'string' },
      html: { type: 'string' },
      list: { type: 'boolean' },
    },
    undefined,
  )
  if (values.list === true) {
    for (const s of Object.values(scenarios)) print(`${s.name.padEnd(20)} ${s.description}\n`)
    return
  }
  const name = values.scenario ?? 'fragile-recovery'
  const scenario = builtIn(name) ?? fail(`unknown scenario "${name}"${suggestScenario(name)}`)
  const seedText = values.seed ?? '1'
  const seed =
    /^\d+$/.test(seedText) && Number.isSafeInteger(Number(seedText))
      ? Number(seedText)
      : fail(`--seed: expected a non-negative integer, got "${seedText}"`)

  const runs = simulate(scenario, demoStrategies(), { seed })
  print(`${renderText(scenario, runs, seed)}\n\n${RECOVERY_NOTE}\n`)
  if (values.html !== undefined) writeHtml(values.html, renderHtml(scenario, runs, seed))
}

async function runCommand(args: string[]): Promise<void> {
  const values = parseOptions(
    args,
    {
      config: { type: 'string', multiple: true },
      scenario: { type: 'string' },
      'scenario-file': { type: 'string' },
      seeds: { type: 'string' },
      kinds: { type: 'string' },
      html: { type: 'string' },
      workers: { type: 'string' },
      oracle: { type: 'boolean' },
    },
    'run',
  )
  if (values.config === undefined || values.config.length === 0) fail('run: at least one --config FILE is required')
  if (values.scenario !== undefined && values['scenario-file'] !== undefined) fail('run: give --scenario or --scenario-file, not both')
  const kinds = await kindsOption(values.kinds)
  const file = values['scenario-file']
  let scenario: Scenario
  if (file !== undefined) {
    const decoded = readScenarioFile(file)
    if (decoded._tag === 'Left') fail(decoded.left)
    scenario = decoded.right
  } else {
    const name = values.scenario ?? 'fragile-recovery'
    scenario = builtIn(name) ?? fail(`unknown scenario "${name}"${suggestScenario(name)} (see --list)`)
  }
  const configs = (values.config ?? []).map((path) => {
    const json = readJson(path)
    return { json, strategy: strategyOf(json, path, kinds) }
  })
  const seeds = parseSeeds(values.seeds ?? '1')
  if (seeds.length === 1) {
    const seed = seeds[0] ?? 1
    const strategies = configs.map((c) => c.strategy)
    const both = values.oracle === true ? simulateWithOracle(scenario, strategies, { seed }) : undefined
    const runs = both === undefined ? simulate(scenario, strategies, { seed }) : [...both.runs, both.oracle]
    print(`${renderText(scenario, runs, seed)}\n`)
    if (values.html !== undefined) writeHtml(values.html, renderHtml(scenario, runs, seed))
    return
  }
  const workers = positiveInt(values.workers, 'workers', availableParallelism(), 64)
  const bySeed = await simulateSeeds(
    configs.map((c) => c.json),
    scenario,
    seeds,
    {
      workers,
      oracle: values.oracle === true,
      ...(values.kinds === undefined ? {} : { kindsModule: resolve(values.kinds) }),
      ...(kinds === undefined ? {} : { kinds }),
    },
  )
  print(`${renderSeedTable(scenario, bySeed, seeds)}\n`)
  if (values.html !== undefined) writeHtml(values.html, renderSeedHtml(scenario, bySeed, seeds))
}

async function fleetCommand(args: string[]): Promise<void> {
  const values = parseOptions(
    args,
    {
      config: { type: 'string' },
      faulty: { type: 'string' },
      sizes: { type: 'string' },
      rps: { type: 'string' },
      'sync-ms': { type: 'string' },
      seeds: { type: 'string' },
      'quiet-start': { type: 'boolean' },
      kinds: { type: 'string' },
      html: { type: 'string' },
    },
    'fleet',
  )
  const kinds = await kindsOption(values.kinds)
  const strategy = values.config === undefined ? undefined : strategyFile(values.config, kinds)
  const sizes =
    values.sizes === undefined
      ? [...FLEET_SIZES]
      : values.sizes.split(',').map((text) => {
          const n = Number(text)
          if (!/^\d+$/.test(text) || n < 1 || n > 1000) fail(`--sizes: expected replica counts from 1 to 1000, got "${values.sizes}"`)
          return n
        })
  const rps = positiveInt(values.rps, 'rps', 200, 100_000)
  const syncMs = positiveInt(values['sync-ms'], 'sync-ms', 250, 60_000)
  const seeds = parseSeeds(values.seeds ?? '1..5')
  const quiet = values['quiet-start'] === true
  const faulty = values.faulty === undefined ? undefined : positiveInt(values.faulty, 'faulty', 1, 1000)
  const progress = progressLine('fleet, simulations')
  const rows = sweepFleet(sizes, {
    rps,
    syncMs,
    seeds,
    onProgress: progress.update,
    ...(faulty === undefined ? {} : { faulty }),
    ...(strategy === undefined ? {} : { strategy }),
    ...(quiet ? { outageAtMs: 0 } : {}),
  })
  progress.end()
  const whom =
    faulty === undefined ? 'the upstream dies' : `the upstream dies for ${faulty} replica${faulty === 1 ? '' : 's'} only (a local fault)`
  const description = `Fleet of N replicas, ${rps} requests/s in all, ${whom} ${quiet ? 'at the first call' : 'after 20 s of healthy traffic'}; sync every ${syncMs} ms in fleet mode (medians over ${seeds.length} seed${seeds.length === 1 ? '' : 's'}).`
  print(`${description}\n\n${renderFleetText(rows)}\n`)
  if (values.html !== undefined) writeHtml(values.html, renderFleetHtml(rows, { description }))
}

function trainCommand(args: string[]): void {
  const values = parseOptions(
    args,
    {
      scenarios: { type: 'string' },
      seeds: { type: 'string' },
      trace: { type: 'string' },
      'horizon-ms': { type: 'string' },
      threshold: { type: 'string' },
      balance: { type: 'boolean' },
      cells: { type: 'string' },
      'hold-out': { type: 'string' },
      out: { type: 'string' },
    },
    'train',
  )
  const defaultNames =
    values.trace === undefined && values.cells === undefined
      ? 'brownout,slow-degradation,noisy-but-healthy,self-healing-spikes,outage,cascading'
      : ''
  const names = (values.scenarios ?? defaultNames).split(',').filter((name) => name !== '')
  const spaceCells = trainingCells(values.cells, values['hold-out'])
  const chosen = [
    ...names.map((name) => builtIn(name) ?? fail(`train: unknown scenario "${name}"${suggestScenario(name)} (see --list)`)),
    ...spaceCells.map((c) => c.scenario),
  ]
  const seeds = parseSeeds(values.seeds ?? '1..10')
  const horizonMs = positiveInt(values['horizon-ms'], 'horizon-ms', 30_000, 600_000)
  const threshold = values.threshold === undefined ? 0.5 : Number(values.threshold)
  if (!(threshold > 0 && threshold <= 1)) fail(`train: --threshold must be a failure rate in (0, 1], got "${values.threshold}"`)
  let outcomes: Array<readonly [number, boolean, number]> | undefined
  if (values.trace !== undefined) {
    outcomes = readTrace(values.trace).flatMap((e) =>
      e._tag === 'CallSucceeded' || e._tag === 'CallFailed' ? [[e.at, e._tag === 'CallFailed', e.latencyMs] as const] : [],
    )
  }
  const progress = progressLine('train')
  const trained = trainPredictor({
    scenarios: chosen,
    seeds,
    horizonMs,
    balance: values.balance === true,
    onProgress: progress.update,
    ...(outcomes === undefined ? {} : { outcomes }),
  })
  progress.end()
  if (trained.examples === 0) fail('train: no bucket to learn from (a trace needs enough calls per second, after a warm-up of 10 s)')
  const out = values.out ?? 'model.json'
  // A complete circuit config, ready to run: the reactive threshold, with the model beside it.
  writeJson(out, {
    name: 'learned',
    trip: {
      kind: 'any-of',
      detectors: [
        { kind: 'failure-rate', threshold, minimumCalls: 20, window: { kind: 'time', durationMs: 10_000, buckets: 10 } },
        { kind: 'learned', model: trained.model },
      ],
    },
  })
  const sources = [
    ...(names.length > 0 ? [`${names.join(', ')}, seeds ${values.seeds ?? '1..10'}`] : []),
    ...(spaceCells.length > 0
      ? [
          `${spaceCells.length} cells of the scenario space (${values.cells}${values['hold-out'] === undefined ? '' : `, without ${values['hold-out']}`}), seeds ${values.seeds ?? '1..10'}`,
        ]
      : []),
    ...(values.trace === undefined ? [] : [values.trace]),
  ]
  print(trainSummary(trained, sources, horizonMs, threshold, values.balance === true, out))
}

/** What `train` prints: the fit on its own data, what the config is, and how such a model did where it was judged. */
function trainSummary(
  trained: Trained,
  sources: ReadonlyArray<string>,
  horizonMs: number,
  threshold: number,
  balance: boolean,
  out: string,
): string {
  return [
    `trained on ${trained.examples} buckets (${trained.positives} positive) of ${sources.join(' and ')}, horizon ${horizonMs} ms`,
    `  on them: ${percent(trained.accuracy)} right, where answering "no" to every bucket is ${percent(trained.alwaysNoAccuracy)} right;`,
    `  precision ${percent(trained.precision)} (flagged buckets followed by failure), recall ${percent(trained.recall)} (such buckets flagged)`,
    `  ${balance ? 'positive and negative buckets weighed alike (its output is a score, not a probability: raise `probability` to keep false trips down); ' : ''}the config is a ${threshold} failure-rate threshold with the model beside it.`,
    '  These are training figures: judge the model with `breaker-sim evaluate --space --config FILE`, at a false-trip',
    '  budget and next to a threshold at the same budget, before trusting it to shed load. Trained on the scenario space',
    '  with one incident kind held out (bench/prediction/SPACE.md), a model sheds load 14 to 15 s before the best threshold',
    '  on latency creeps it never saw, and no sooner on error ramps; on the quality matrix (bench/quality/RESULTS.md)',
    '  it costs up to 3.9 points where an upstream only degrades: it wins no cell by more than 2 points and loses 5.',
    '  The `{ "kind": "cusum" }` detector is ahead of it on both, with a false-trip rate you state.',
    `wrote ${out}`,
    '',
  ].join('\n')
}

/**
 * The cells `train --cells` selects (none without it), less those of the incident kind `--hold-out`
 * names (outage, error ramp, latency creep, partial failure or cascading).
 */
function trainingCells(selector: string | undefined, holdOut: string | undefined): ReadonlyArray<Cell> {
  if (selector === undefined) {
    if (holdOut !== undefined) fail('train: --hold-out goes with --cells')
    return []
  }
  const cells = cellsOption(selector, undefined)
  if (holdOut === undefined) return cells
  const kinds = [...new Set(cells.filter((c) => c.kind === 'incident').map((c) => incidentKind(c.family)))]
  if (!kinds.includes(holdOut)) fail(`train: --hold-out: no incident kind "${holdOut}" among the cells (they hold ${kinds.join(', ')})`)
  return cells.filter((c) => c.kind === 'noise' || incidentKind(c.family) !== holdOut)
}

/** A share as a percentage with one decimal, or `-` when there is none (a declaration: the commands run before the module's consts exist). */
function percent(share: number | null): string {
  return share === null ? '-' : `${(share * 100).toFixed(1)}%`
}

async function replayCommand(args: string[]): Promise<void> {
  const values = parseOptions(
    args,
    { trace: { type: 'string' }, config: { type: 'string', multiple: true }, kinds: { type: 'string' } },
    'replay',
  )
  const kinds = await kindsOption(values.kinds)
  if (values.trace === undefined) fail('replay: --trace FILE is required')
  if (values.config === undefined || values.config.length === 0) fail('replay: at least one --config FILE is required')
  const trace = readTrace(values.trace)
  const header = ['config', 'calls', 'admitted', 'rejected', 'agrees with live', 'unmatched outcomes']
  const rows: string[][] = []
  for (const path of values.config) {
    let json: unknown
    try {
      json = JSON.parse(readText(path))
    } catch (error) {
      passExit(error)
      fail(`${path}: not JSON (${error instanceof Error ? error.message : String(error)})`)
    }
    const result = replay(trace, strategyOf(json, path, kinds))
    rows.push([
      path,
      String(result.calls.length),
      String(result.admitted),
      String(result.rejected),
      `${(result.agreement * 100).toFixed(1)}%`,
      String(result.unmatchedOutcomes),
    ])
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const format = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')
  print(
    `${[format(header), ...rows.map(format)].join('\n')}\n\nagrees with live: calls this config decided as the live breaker did (admitted or rejected).\nunmatched outcomes: outcomes in the trace not fed to this config, because it rejected the call they belong to\n(what a call it rejected would have returned is unknowable).\n`,
  )
}
