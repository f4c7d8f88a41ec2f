import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { fromConfig, strategyFromConfig } from '@datapunk/breaker'
import { createBreaker } from '@datapunk/breaker-runtime'
import { circuitBreaker } from '@datapunk/breaker-rxjs'
import {
  best,
  type Candidate,
  candidatesOf,
  DEFAULT_WEIGHTS,
  edgeWarnings,
  evaluate,
  parseScenario,
  parseSpace,
  qualitySpace,
  tuneAll,
} from '@datapunk/breaker-sim'
import { catchError, delay, map, of, throwError, VirtualTimeScheduler } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { breakerSim } from './cliRun.js'

/**
 * A scenario whose every outcome is known: 100 requests/s (one every 10 ms, from 10 ms), calls of
 * exactly 1 ms, an upstream that fails every call from 10 s to 20 s and none otherwise.
 */
const exact = {
  name: 'exact-outage',
  description: 'a deterministic outage',
  durationMs: 40_000,
  load: { kind: 'constant', rps: 100 },
  health: [
    { atMs: 0, failureRate: 0, latencyMs: { median: 1, p99: 1 } },
    { atMs: 10_000, failureRate: 1, latencyMs: { median: 1, p99: 1 } },
    { atMs: 20_000, failureRate: 0, latencyMs: { median: 1, p99: 1 } },
  ],
  incidentAtMs: 10_000,
  recoveredAtMs: 20_000,
}

/**
 * The cost (wasted + needless) of a consecutive-failures(5) breaker with classic half-open and a
 * constant open duration `d` (a multiple of 10 ms) on that scenario, by hand:
 * - the calls at 10,000..10,040 ms fail; the fifth failure (at 10,041) trips: 5 wasted;
 * - the first request at or after 10,041 + d is a probe, at 10,050 + d; a probe that fails
 *   (before 20,000) reopens at its time + 1, so the next probe comes 10 + d later; each is wasted;
 * - the first probe at or after 20,000 succeeds and closes the circuit; the requests rejected from
 *   20,000 until then (one every 10 ms) were needless.
 */
const costByHand = (d: number): number => {
  let probe = 10_050 + d
  let wasted = 5
  while (probe < 20_000) {
    wasted++
    probe += 10 + d
  }
  return wasted + (probe - 20_000) / 10
}

const space = {
  base: {
    name: 'tuned',
    trip: { kind: 'consecutive-failures', threshold: 5 },
    recovery: { kind: 'classic' },
    openFor: { kind: 'constant', ms: 1000 },
  },
  parameters: [{ path: 'openFor.ms', range: { min: 1000, max: 10_000, step: 500 } }],
  weights: { wasted: 1, needless: 1, collapses: 0, detectSeconds: 0, backToFullSeconds: 0 },
}

describe('the tuner', () => {
  it('finds the optimum of a scenario whose costs are computable by hand, and costs every candidate as the hand does', async () => {
    const scenario = parseScenario(exact, 'exact.json')
    const decoded = parseSpace(space, 'space.json')
    if (scenario._tag === 'Left' || decoded._tag === 'Left') throw new Error('fixtures must decode')
    const candidates = candidatesOf(decoded.right, 100)
    if (candidates._tag === 'Left') throw new Error(candidates.left)
    expect(candidates.right).toHaveLength(19)
    const evaluations = await tuneAll(
      candidates.right,
      { kind: 'scenario', scenario: scenario.right, seeds: [1] },
      decoded.right.weights ?? ({} as never),
      { workers: 1 },
    )
    for (const e of evaluations) {
      const d = candidates.right[e.index]?.values['openFor.ms'] as number
      expect(e.cost, `openFor.ms=${d}`).toBe(costByHand(d))
    }
    const byHand = [...candidates.right].sort(
      (a, b) => costByHand(a.values['openFor.ms'] as number) - costByHand(b.values['openFor.ms'] as number),
    )[0]
    const winner = [...evaluations].sort((a, b) => a.cost - b.cost)[0]
    expect(winner?.index).toBe(byHand?.index)
    expect(candidates.right[winner?.index ?? -1]?.values).toEqual({ 'openFor.ms': 10_000 })
  })

  it('refuses a grid larger than the budget, and a random search draws the same candidates for the same seed', () => {
    const decoded = parseSpace(space, 's.json')
    if (decoded._tag === 'Left') throw new Error(decoded.left)
    expect(candidatesOf(decoded.right, 10)).toEqual({
      _tag: 'Left',
      left: 'the grid has 19 candidates, more than the budget (10): search at random ("search": { "kind": "random", "seed": 1 }) or raise --budget',
    })
    const random = parseSpace({ ...space, search: { kind: 'random', seed: 7 } }, 's.json')
    if (random._tag === 'Left') throw new Error(random.left)
    const a = candidatesOf(random.right, 5)
    const b = candidatesOf(random.right, 5)
    expect(a).toEqual(b)
    expect(a._tag === 'Right' && new Set(a.right.map((c) => JSON.stringify(c.values))).size).toBe(5)
  })

  it('explains a bad space file', () => {
    const bad = parseSpace(
      { base: {}, parameters: [{ path: 'trip..threshold', values: [] }], search: { kind: 'annealing' }, extra: 1 },
      's.json',
    )
    expect(bad._tag === 'Left' && bad.left.split('\n')).toEqual([
      's.json: extra: unknown key (expected only base, parameters, search, weights, constraints)',
      's.json: parameters[0]: expected { path, values } or { path, range: { min, max, step } }',
      's.json: search.kind: expected one of "grid" | "random", got "annealing"',
    ])
  })
})

describe('breaker-sim tune (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-tune-'))
  const scenarioFile = join(dir, 'exact.json')
  writeFileSync(scenarioFile, JSON.stringify(exact))
  const spaceFile = join(dir, 'space.json')
  writeFileSync(spaceFile, JSON.stringify(space))
  const tune = (...args: string[]) => breakerSim('tune', ...args)

  it('writes the best config as a file fromConfig accepts, and prints the ranking and the Pareto front', async () => {
    const out = join(dir, 'best.json')
    const result = await tune('--space', spaceFile, '--scenario-file', scenarioFile, '--out', out, '--workers', '1')
    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout.split('\n')[0]).toBe('tuned 19 candidates on exact-outage, seeds 1')
    // rank, cost, shortfall, wasted %, wasted, needless, false trips a day, collapses, detect s, full s
    expect(result.stdout).toMatch(/^1\s+10\s+0\.\d\s+0\.\d\s+5\s+5\s+0\s+0\s+0\.0\s+0\.1\s+openFor\.ms=10000$/m)
    expect(result.stdout).toContain(
      'Pareto front (wasted vs needless: no other candidate is better on both):\n  wasted 5, needless 5: openFor.ms=10000',
    )
    const written = JSON.parse(readFileSync(out, 'utf8')) as unknown
    expect(fromConfig(written)._tag).toBe('Right')
    expect(written).toMatchObject({ name: 'tuned', openFor: { kind: 'constant', ms: 10_000 } })
  })

  it('tunes an adaptive throttle: each candidate named in its circuit, the best written as a throttle config', async () => {
    const throttleSpace = {
      base: {
        kind: 'adaptive-throttle',
        circuit: { ...space.base, name: 'guarded' },
      },
      parameters: [
        { path: 'circuit.openFor.ms', values: [1000, 5000] },
        { path: 'successRateThreshold', values: [0.5, 0.9] },
      ],
    }
    const decoded = parseSpace(throttleSpace, 's.json')
    if (decoded._tag === 'Left') throw new Error(decoded.left)
    const candidates = candidatesOf(decoded.right, 10)
    expect(candidates._tag === 'Right' && candidates.right.map((c) => strategyFromConfig(c.config)._tag)).toEqual([
      'Right',
      'Right',
      'Right',
      'Right',
    ])
    expect(candidates._tag === 'Right' && candidates.right[3]?.config).toMatchObject({
      kind: 'adaptive-throttle',
      successRateThreshold: 0.9,
      circuit: { name: 'candidate-3', openFor: { ms: 5000 } },
    })
    const file = join(dir, 'throttle-space.json')
    writeFileSync(file, JSON.stringify(throttleSpace))
    const out = join(dir, 'throttle-best.json')
    const result = await tune('--space', file, '--scenario-file', scenarioFile, '--out', out, '--workers', '1')
    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout.split('\n')[0]).toBe('tuned 4 candidates on exact-outage, seeds 1')
    const written = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>
    expect(strategyFromConfig(written)._tag).toBe('Right')
    expect(written).toMatchObject({ kind: 'adaptive-throttle', circuit: { name: 'guarded' } })
    expect('name' in written).toBe(false)
  })

  it('gives the same result, byte for byte, on 1, 2 or 3 worker threads (a random search over seeds, custom kinds loaded in each worker)', async () => {
    const core = pathToFileURL(fileURLToPath(new URL('../../core/dist/index.js', import.meta.url))).href
    const kinds = join(dir, 'kinds.mjs')
    writeFileSync(
      kinds,
      [
        `import { consecutiveFailures, detectorKind, literal, PositiveInt, struct } from '${core}'`,
        `const codec = struct('a failure-run detector', { kind: literal('failure-run'), length: PositiveInt })`,
        `export const kinds = { detectors: { 'failure-run': detectorKind({ codec, build: (c) => consecutiveFailures({ threshold: c.length }) }) } }`,
      ].join('\n'),
    )
    const customSpace = join(dir, 'custom-space.json')
    writeFileSync(
      customSpace,
      JSON.stringify({
        base: { name: 'custom', trip: { kind: 'failure-run', length: 5 }, openFor: { kind: 'constant', ms: 1000 } },
        parameters: [
          { path: 'trip.length', values: [2, 5, 10, 20] },
          { path: 'openFor.ms', values: [1000, 3000, 10_000] },
        ],
        search: { kind: 'random', seed: 3 },
      }),
    )
    const outputs: string[] = []
    for (const workers of [1, 2, 3]) {
      const result = await tune(
        '--space',
        customSpace,
        '--scenario',
        'flapping',
        '--seeds',
        '1..2',
        '--budget',
        '8',
        '--kinds',
        kinds,
        '--workers',
        String(workers),
        '--out',
        join(dir, 'w.json'),
      )
      expect(result.status, result.stderr).toBe(0)
      outputs.push(result.stdout)
    }
    expect(outputs[1]).toBe(outputs[0])
    expect(outputs[2]).toBe(outputs[0])
    expect(outputs[0]?.split('\n')[0]).toBe('tuned 8 candidates on flapping, seeds 1..2')
  })

  it('tunes over a recorded trace', async () => {
    // A live breaker's calls$, over an outage, in virtual time.
    const scheduler = new VirtualTimeScheduler()
    const live = fromConfig({ name: 'live', trip: { kind: 'consecutive-failures', threshold: 20 }, openFor: { kind: 'constant', ms: 500 } })
    if (live._tag === 'Left') throw live.left
    const breaker = createBreaker(live.right, { clock: scheduler })
    const lines: string[] = []
    breaker.calls$.subscribe((e) => lines.push(JSON.stringify(e)))
    for (let at = 0; at < 3000; at += 10) {
      scheduler.schedule(() => {
        const down = at >= 1000 && at < 2000
        ;(down ? throwError(() => new Error('down')) : of('ok'))
          .pipe(
            delay(2, scheduler),
            map(() => 'ok'),
            circuitBreaker(breaker),
            catchError(() => of('x')),
          )
          .subscribe()
      }, at)
    }
    scheduler.flush()
    const trace = join(dir, 'trace.jsonl')
    writeFileSync(trace, lines.join('\n'))
    const traceSpace = join(dir, 'trace-space.json')
    writeFileSync(
      traceSpace,
      JSON.stringify({
        base: { name: 'from-trace', trip: { kind: 'consecutive-failures', threshold: 20 }, openFor: { kind: 'constant', ms: 500 } },
        parameters: [{ path: 'trip.threshold', values: [2, 5, 20, 50] }],
        weights: { wasted: 1, needless: 1 },
      }),
    )
    const result = await tune('--space', traceSpace, '--trace', trace, '--out', join(dir, 't.json'), '--workers', '2')
    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout.split('\n')[0]).toMatch(/^tuned 4 candidates on the trace .*trace\.jsonl \(\d+ events\)$/)
    // Tripping sooner than the live breaker (threshold 20) wastes fewer calls of the recorded
    // outage (the two that trip it, and a probe where the live breaker probed too), and it is on
    // the Pareto front.
    const wastedOf = (threshold: number) =>
      Number(new RegExp(`^\\d+(?:\\s+\\S+){3}\\s+(\\S+)\\s.*trip\\.threshold=${threshold}$`, 'm').exec(result.stdout)?.[1])
    expect(wastedOf(2)).toBeLessThanOrEqual(5)
    expect(wastedOf(20)).toBeGreaterThanOrEqual(20)
    expect(result.stdout).toMatch(new RegExp(`^ {2}wasted ${wastedOf(2)}, needless \\d+: trip\\.threshold=2$`, 'm'))
  })

  it('refuses what it cannot do, with the reason and exit code 2', async () => {
    const cases: Array<[string[], string]> = [
      [['--scenario', 'outage'], 'tune: --space FILE is required'],
      [
        ['--space', spaceFile, '--scenario', 'outage', '--cells', 'train'],
        'tune: give at most one of --cells, --scenario, --scenario-file, --trace',
      ],
      [['--space', spaceFile, '--cells', 'outage@3,nonesuch'], '--cells: no cell or family named outage@3, nonesuch'],
      [
        ['--space', spaceFile, '--scenario', 'outage', '--rps', '300'],
        'tune: --rps builds the cells of the space at your traffic levels; it does not apply to --scenario, --scenario-file or --trace',
      ],
      [['--space', spaceFile, '--cells', 'outage@200', '--rps', '300'], '--cells: no cell or family named outage@200'],
      [['--space', spaceFile, '--scenario', 'toString'], 'unknown scenario "toString"'],
      [['--space', spaceFile, '--scenario', 'outage', '--budget', '5'], 'tune: the grid has 19 candidates, more than the budget (5)'],
      [['--space', spaceFile, '--scenario', 'outage', '--workers', '0'], '--workers: expected an integer in [1, 64], got "0"'],
    ]
    for (const [args, message] of cases) {
      const result = await tune(...args)
      expect(result.status, args.join(' ')).toBe(2)
      expect(result.stderr).toContain(message)
    }
  })
})

describe('tuning over the scenario space', () => {
  // The README's space, with the open duration too: a config tuned on the quiet cells of the train
  // half must not lose to the config it started from on the quiet cells of the test half.
  const readmeSpace = {
    base: {
      name: 'tuned',
      trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 20, window: { kind: 'time', durationMs: 10_000, buckets: 10 } },
      recovery: { kind: 'classic', probes: 1 },
      openFor: { kind: 'constant', ms: 30_000 },
    },
    parameters: [
      { path: 'trip.threshold', values: [0.2, 0.3, 0.5, 0.7] },
      { path: 'trip.minimumCalls', values: [5, 20] },
      { path: 'openFor.ms', values: [2_000, 5_000, 30_000] },
    ],
    constraints: { falseTripsPerDay: 1 },
  }
  const quiet = (half: 'train' | 'test') => qualitySpace().filter((c) => c.half === half && c.rps <= 20)

  it('chooses on the train half a config that does not lose to the input config on the test half', async () => {
    const space = parseSpace(readmeSpace, 'space.json')
    if (space._tag === 'Left') throw new Error(space.left)
    const candidates = candidatesOf(space.right, 100)
    if (candidates._tag === 'Left') throw new Error(candidates.left)
    const train = { kind: 'cells', cells: quiet('train'), seeds: [1, 2] } as const
    const test = { kind: 'cells', cells: quiet('test'), seeds: [101, 102] } as const
    expect(train.cells.length).toBeGreaterThanOrEqual(10)
    expect(test.cells.length).toBeGreaterThanOrEqual(10)
    const options = { workers: 1, constraints: readmeSpace.constraints }
    const tuned = best(await tuneAll(candidates.right, train, DEFAULT_WEIGHTS, options))
    if (tuned === undefined) throw new Error('no candidate kept the false-trip budget')
    const chosen = candidates.right[tuned.index] as Candidate
    const input: Candidate = { index: -1, values: {}, config: readmeSpace.base }
    const [onTest, inputOnTest] = [chosen, input].map((c) => evaluate(c, test, DEFAULT_WEIGHTS, undefined, readmeSpace.constraints))
    expect(onTest?.withinConstraints).toBe(true)
    expect(onTest?.cost, `chosen ${JSON.stringify(chosen.values)}`).toBeLessThanOrEqual(inputOnTest?.cost ?? 0)
    // The default cost is goodput lost against the oracle plus a quarter of the calls wasted, in points.
    expect(onTest?.cost).toBeCloseTo((onTest?.oracleShortfall ?? 0) + 0.25 * (onTest?.wastedShare ?? 0), 10)
  })

  it('never chooses a candidate over the false-trip budget, however cheap', async () => {
    const noisy = qualitySpace().filter((c) => c.id === 'noise-bursts-40@20' || c.id === 'outage@20')
    const space = parseSpace(
      {
        base: { name: 't', trip: { kind: 'consecutive-failures', threshold: 3 } },
        parameters: [{ path: 'trip.threshold', values: [2, 3, 50] }],
        constraints: { falseTripsPerDay: 1 },
      },
      's.json',
    )
    if (space._tag === 'Left') throw new Error(space.left)
    const candidates = candidatesOf(space.right, 10)
    if (candidates._tag === 'Left') throw new Error(candidates.left)
    const evaluations = await tuneAll(candidates.right, { kind: 'cells', cells: noisy, seeds: [1] }, DEFAULT_WEIGHTS, {
      workers: 1,
      constraints: { falseTripsPerDay: 1 },
    })
    // Two or three failures in a row happen often in 3% background errors with 40% bursts: those trip for nothing.
    expect(evaluations.map((e) => e.withinConstraints)).toEqual([false, false, true])
    expect(evaluations[0]?.falseTripsPerDay).toBeGreaterThan(1)
    expect(best(evaluations)?.index).toBe(2)
  })

  it('warns when the best value of a parameter is at the edge of its range', () => {
    const space = parseSpace(readmeSpace, 'space.json')
    if (space._tag === 'Left') throw new Error(space.left)
    const at = (values: Record<string, unknown>): Candidate => ({ index: 0, values, config: {} })
    expect(edgeWarnings(space.right, at({ 'trip.threshold': 0.3, 'trip.minimumCalls': 5, 'openFor.ms': 5_000 }))).toEqual([])
    expect(edgeWarnings(space.right, at({ 'trip.threshold': 0.2, 'trip.minimumCalls': 5, 'openFor.ms': 30_000 }))).toEqual([
      "trip.threshold=0.2 is the lowest value tried: the best config may lie beyond the space (widen trip.threshold's values)",
      "openFor.ms=30000 is the highest value tried: the best config may lie beyond the space (widen openFor.ms's values)",
    ])
  })
})
