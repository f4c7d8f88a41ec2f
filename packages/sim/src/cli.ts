#!/usr/bin/env node
import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { scenarios } from './builtInScenarios.js'
import {
  fail,
  kindsOption,
  parseSeeds,
  positiveInt,
  readJson,
  readText,
  readTrace,
  strategyFile,
  strategyOf,
  writeHtml,
  writeJson,
} from './cli/common.js'
import { qualityCommand } from './cli/quality.js'
import { tuneCommand } from './cli/tune.js'
import { FLEET_SIZES, renderFleetHtml, renderFleetText, sweepFleet } from './fleet/render.js'
import { renderHtml, renderSeedHtml } from './html.js'
import { evaluatePrediction, renderPrediction } from './prediction.js'
import { replay } from './replay.js'
import { renderSeedTable, renderText } from './report.js'
import type { Scenario } from './Scenario.js'
import { readScenarioFile } from './ScenarioFile.js'
import { simulate } from './simulate.js'
import { demoStrategies } from './strategies.js'
import { trainPredictor } from './train.js'
import { simulateSeeds } from './tune.js'

const usage = `usage: breaker-sim [--scenario NAME] [--seed N] [--html PATH] [--list] [--help]
       breaker-sim run --config FILE [--config FILE ...] [--scenario NAME | --scenario-file FILE]
                       [--seeds SEEDS] [--kinds MODULE] [--html PATH]
       breaker-sim tune --space FILE [--cells CELLS [--max-rps N] | --scenario NAME | --scenario-file FILE | --trace FILE]
                        [--seeds SEEDS] [--budget N] [--workers N] [--kinds MODULE] [--out FILE] [--html PATH]
       breaker-sim quality --config FILE [--config FILE ...] [--cells CELLS] [--max-rps N] [--seeds SEEDS] [--workers N]
                           [--kinds MODULE] [--html PATH] [--json PATH]
       breaker-sim replay --trace FILE --config FILE [--config FILE ...] [--kinds MODULE]
       breaker-sim evaluate --config FILE [--config FILE ...] [--seeds SEEDS] [--hours N] [--kinds MODULE]
       breaker-sim train [--scenarios A,B,...] [--seeds SEEDS] [--trace FILE] [--horizon-ms N] [--out FILE]
       breaker-sim fleet [--config FILE] [--sizes N,N,...] [--rps N] [--sync-ms N] [--seeds SEEDS] [--quiet-start] [--faulty N]
                         [--kinds MODULE] [--html PATH]

Runs classic half-open, gradual recovery and consecutive-failures-with-backoff on the same
simulated traffic (same seed, same draws) and shows what each did to callers and to the upstream.

options:
  --scenario NAME   one of: ${Object.keys(scenarios).join(', ')} (default: fragile-recovery)
  --seed N          a non-negative integer; same seed, same output (default: 1)
  --html PATH       also write a self-contained HTML report (inline charts, no network) to PATH
  --list            list the scenarios with their descriptions
  --help            this text

run: your strategy configs (JSON files, as fromConfig reads them; --kinds adds your part kinds)
side by side on the same simulated traffic, on a built-in scenario or a scenario file (the format
of packages/sim/scenarios/*.json). --seeds takes N, A..B or A,B,C (at most 1000 seeds): with one
seed it draws the charts and the table, with several a table of the median and the range of each
metric over the seeds (simulated on --workers threads, default the cores; the same result for
any number). --html writes the report: the charts for one seed, the summary for several.

tune: searches a config space (a JSON file: "base", a config every candidate starts from;
"parameters", each { "path": "trip.threshold", "values": [...] } or { "path": ..., "range":
{ "min", "max", "step" } }; "search", { "kind": "grid" } (default) or { "kind": "random", "seed" };
"weights"; "constraints") for the config of lowest cost, on cells of the scenario space (--cells:
train (default), test, all, quick, or ids and families such as outage@200,partial-30,noise-*;
--max-rps N keeps those at N requests/s or less; seeds 1..3 by default), or on one scenario (seed 1 by default), or on a recorded --trace. The
default cost is the goodput lost against the oracle (points of the oracle's successes) plus a
quarter of the points of requests sent into failure, averaged over cells and seeds; "weights"
sets your own (oracleShortfall, wastedShare, callerSeconds, wasted, needless, collapses,
detectSeconds, backToFullSeconds; those you leave out are 0). "constraints": { "falseTripsPerDay":
1 } rules out any candidate tripping more often on a noise cell. A best value at the edge of a
parameter's range is reported: the optimum may lie beyond it. On a --trace, a candidate admitting
a call that failed live wastes it and rejecting one that succeeded live is needless. --budget caps
the candidates (default 100); --workers spreads them over worker threads (default: the cores; the
result is the same for any number); the best config is written to --out (default tuned.json).
--html draws the candidates, the Pareto front of wasted vs needless and the chosen config.

quality: your configs on the scenario space (--cells, default all: 80 cells from 1 to 10,000
requests/s) over --seeds (default 101..120), next to classic half-open and the oracle: per cell
each config's success against classic (median and worst seed) and share of the oracle's goodput,
then summary rows. --html draws the heat maps, --json writes the whole matrix.

replay: feeds a recorded trace (JSON lines of a live breaker's calls$ events) through each
strategy config (a JSON file, as fromConfig reads it) and compares their decisions with the
live ones. --kinds MODULE imports a JavaScript module whose \`kinds\` export adds your own part
kinds (as fromConfig(json, { kinds }) takes them), so the configs can name your parts.

evaluate: how your configs do at shedding load early and at not tripping for nothing, on seeds
you did not tune on (--seeds, default 101..120): when each first sheds load on slow-degradation
and brownout, its lead time on the brown-out (before the true failure rate reached 50%), its
trips over --hours (default 24) of the noisy-but-healthy and self-healing-spikes patterns, and
success / wasted / needless / collapses on outage, brownout, fragile-recovery, noisy-but-healthy.

fleet: what fleet mode (@datapunk/breaker-redis) buys, before deploying Redis. N replicas share
--rps requests/s (default 200) at random and call one upstream that dies after 20 s of healthy
traffic (--quiet-start: from the first call); each runs --config (default: failure rate 50% over
10 s, minimumCalls 20) alone, then in fleet mode (window counts synced every --sync-ms, default
250, the fleet protocol of @datapunk/breaker-redis over memory). For each fleet size (--sizes,
default 1,2,5,10,20,50,100): the time until every replica is open and the calls wasted on the dead
upstream until then, medians over --seeds (default 1..5). --faulty N: the upstream dies for N
replicas only (their own network path or deploy); the table adds the good calls the healthy
replicas rejected. --html draws them against fleet size.

train: fits the learned predictor (a logistic model over per-bucket failure rate, latency and
their changes) on built-in scenarios (--scenarios, default brownout, slow-degradation,
noisy-but-healthy, self-healing-spikes, outage, cascading) over --seeds (default 1..10): a bucket
is positive when the upstream's true failure rate reaches 50% within --horizon-ms (default
30000). With --trace (a live breaker's calls$ as JSON lines) it trains on the recorded outcomes
instead, labelling a bucket positive when the calls settled within the horizon after it failed
at 50% or more; give --scenarios too to train on both. Deterministic. Writes the detector config
({ "kind": "learned", "model": ... }) to --out (default model.json), ready for a trip's any-of.`

/** What the demo's comparison of classic half-open and gradual recovery shows, and where each wins. */
const RECOVERY_NOTE = `classic vs gradual: classic half-open closes on its first good probe and sends all traffic back at
once. Gradual recovery admits 25%, raises it by 10, 20, then 40 points after clean stages (10 calls or 1.5 s,
and 0.5 s at least), steps back to the last good share when errors rise with it (measured against
its own baseline, so an upstream that errs at every share is admitted as classic admits it),
remembers a share that broke the upstream, and watches at full traffic for 30 s before closing
(a relapse reopens it within a stage or two). What it costs: a ramp of about 2 s per recovery, so
on an upstream that flaps (three recoveries) it loses 2 to 2.5 points to classic; and an upstream
that breaks without warning (fragile-cliff, and this demo's fragile recovery) is broken once
before the ramp learns where. What it saves: a fragile upstream is broken once, not again and
again. Across the whole scenario space (pnpm bench:quality, 80 cells from 1 to 10,000 requests/s)
it is within 2 points of classic on every cell but flapping, and 19 to 61 points ahead on nine of
the eleven fragile cells; pnpm bench:recovery prints the medians over 20 seeds of the built-in scenarios.`

if (process.argv[2] === 'replay') {
  await replayCommand(process.argv.slice(3))
  process.exit(0)
}
if (process.argv[2] === 'run') {
  await runCommand(process.argv.slice(3))
  process.exit(0)
}
if (process.argv[2] === 'fleet') {
  await fleetCommand(process.argv.slice(3))
  process.exit(0)
}
if (process.argv[2] === 'evaluate') {
  await evaluateCommand(process.argv.slice(3))
  process.exit(0)
}
if (process.argv[2] === 'train') {
  trainCommand(process.argv.slice(3))
  process.exit(0)
}
if (process.argv[2] === 'quality') {
  await qualityCommand(process.argv.slice(3))
  process.exit(0)
}
if (process.argv[2] === 'tune') {
  await tuneCommand(process.argv.slice(3))
  process.exit(0)
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
  for (const s of Object.values(scenarios)) process.stdout.write(`${s.name.padEnd(20)} ${s.description}\n`)
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
process.stdout.write(`${renderText(scenario, runs, seed)}\n\n${RECOVERY_NOTE}\n`)
if (values.html !== undefined) writeHtml(values.html, renderHtml(scenario, runs, seed))

async function runCommand(args: string[]): Promise<void> {
  let values: {
    config?: string[] | undefined
    scenario?: string | undefined
    'scenario-file'?: string | undefined
    seeds?: string | undefined
    kinds?: string | undefined
    html?: string | undefined
    workers?: string | undefined
  }
  try {
    values = parseArgs({
      args,
      options: {
        config: { type: 'string', multiple: true },
        scenario: { type: 'string' },
        'scenario-file': { type: 'string' },
        seeds: { type: 'string' },
        kinds: { type: 'string' },
        html: { type: 'string' },
        workers: { type: 'string' },
      },
      strict: true,
    }).values
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error))
  }
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
    scenario = scenarios[name] ?? fail(`unknown scenario "${name}" (see --list)`)
  }
  const configs = (values.config ?? []).map((path) => {
    const json = readJson(path)
    return { json, strategy: strategyOf(json, path, kinds) }
  })
  const seeds = parseSeeds(values.seeds ?? '1')
  if (seeds.length === 1) {
    const seed = seeds[0] ?? 1
    const runs = simulate(
      scenario,
      configs.map((c) => c.strategy),
      { seed },
    )
    process.stdout.write(`${renderText(scenario, runs, seed)}\n`)
    if (values.html !== undefined) writeHtml(values.html, renderHtml(scenario, runs, seed))
    return
  }
  const workers = positiveInt(values.workers, 'workers', availableParallelism(), 64)
  const bySeed = await simulateSeeds(
    configs.map((c) => c.json),
    scenario,
    seeds,
    { workers, ...(values.kinds === undefined ? {} : { kindsModule: resolve(values.kinds) }), ...(kinds === undefined ? {} : { kinds }) },
  )
  process.stdout.write(`${renderSeedTable(scenario, bySeed, seeds)}\n`)
  if (values.html !== undefined) writeHtml(values.html, renderSeedHtml(scenario, bySeed, seeds))
}

async function evaluateCommand(args: string[]): Promise<void> {
  let values: { config?: string[] | undefined; seeds?: string | undefined; hours?: string | undefined; kinds?: string | undefined }
  try {
    values = parseArgs({
      args,
      options: {
        config: { type: 'string', multiple: true },
        seeds: { type: 'string' },
        hours: { type: 'string' },
        kinds: { type: 'string' },
      },
      strict: true,
    }).values
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error))
  }
  if (values.config === undefined || values.config.length === 0) fail('evaluate: at least one --config FILE is required')
  const kinds = await kindsOption(values.kinds)
  const strategies = (values.config ?? []).map((path) => strategyFile(path, kinds))
  const seeds = parseSeeds(values.seeds ?? '101..120')
  const hours = positiveInt(values.hours, 'hours', 24, 24 * 7)
  process.stdout.write(`${renderPrediction(evaluatePrediction(strategies, { seeds, dayHours: hours }))}\n`)
}

async function fleetCommand(args: string[]): Promise<void> {
  let values: {
    config?: string | undefined
    sizes?: string | undefined
    rps?: string | undefined
    'sync-ms'?: string | undefined
    seeds?: string | undefined
    'quiet-start'?: boolean | undefined
    faulty?: string | undefined
    kinds?: string | undefined
    html?: string | undefined
  }
  try {
    values = parseArgs({
      args,
      options: {
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
      strict: true,
    }).values
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error))
  }
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
  const rows = sweepFleet(sizes, {
    rps,
    syncMs,
    seeds,
    ...(faulty === undefined ? {} : { faulty }),
    ...(strategy === undefined ? {} : { strategy }),
    ...(quiet ? { outageAtMs: 0 } : {}),
  })
  const whom =
    faulty === undefined ? 'the upstream dies' : `the upstream dies for ${faulty} replica${faulty === 1 ? '' : 's'} only (a local fault)`
  const description = `Fleet of N replicas, ${rps} requests/s in all, ${whom} ${quiet ? 'at the first call' : 'after 20 s of healthy traffic'}; sync every ${syncMs} ms in fleet mode (medians over ${seeds.length} seed${seeds.length === 1 ? '' : 's'}).`
  process.stdout.write(`${description}\n\n${renderFleetText(rows)}\n`)
  if (values.html !== undefined) writeHtml(values.html, renderFleetHtml(rows, { description }))
}

function trainCommand(args: string[]): void {
  let values: {
    scenarios?: string | undefined
    seeds?: string | undefined
    trace?: string | undefined
    'horizon-ms'?: string | undefined
    out?: string | undefined
  }
  try {
    values = parseArgs({
      args,
      options: {
        scenarios: { type: 'string' },
        seeds: { type: 'string' },
        trace: { type: 'string' },
        'horizon-ms': { type: 'string' },
        out: { type: 'string' },
      },
      strict: true,
    }).values
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error))
  }
  const defaultNames = values.trace === undefined ? 'brownout,slow-degradation,noisy-but-healthy,self-healing-spikes,outage,cascading' : ''
  const names = (values.scenarios ?? defaultNames).split(',').filter((name) => name !== '')
  const chosen = names.map((name) => scenarios[name] ?? fail(`train: unknown scenario "${name}" (see --list)`))
  const seeds = parseSeeds(values.seeds ?? '1..10')
  const horizonMs = positiveInt(values['horizon-ms'], 'horizon-ms', 30_000, 600_000)
  let outcomes: Array<readonly [number, boolean, number]> | undefined
  if (values.trace !== undefined) {
    outcomes = readTrace(values.trace).flatMap((e) =>
      e._tag === 'CallSucceeded' || e._tag === 'CallFailed' ? [[e.at, e._tag === 'CallFailed', e.latencyMs] as const] : [],
    )
  }
  const trained = trainPredictor({ scenarios: chosen, seeds, horizonMs, ...(outcomes === undefined ? {} : { outcomes }) })
  if (trained.examples === 0) fail('train: no bucket to learn from (a trace needs enough calls per second, after a warm-up of 10 s)')
  const out = values.out ?? 'model.json'
  writeJson(out, { kind: 'learned', model: trained.model })
  const sources = [
    ...(names.length > 0 ? [`${names.join(', ')}, seeds ${values.seeds ?? '1..10'}`] : []),
    ...(values.trace === undefined ? [] : [values.trace]),
  ]
  process.stdout.write(
    `trained on ${trained.examples} buckets (${trained.positives} positive) of ${sources.join(' and ')}, horizon ${horizonMs} ms: ${(trained.accuracy * 100).toFixed(1)}% right on them\nwrote ${out}\n`,
  )
}

async function replayCommand(args: string[]): Promise<void> {
  let values: { trace?: string | undefined; config?: string[] | undefined; kinds?: string | undefined }
  try {
    values = parseArgs({
      args,
      options: { trace: { type: 'string' }, config: { type: 'string', multiple: true }, kinds: { type: 'string' } },
      strict: true,
    }).values
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error))
  }
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
  process.stdout.write(`${[format(header), ...rows.map(format)].join('\n')}\n`)
}
