import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { circuit } from '@datapunk/breaker'
import { jitteredScenario, parseScenario, qualitySpace, type Scenario, scenarios, simulate } from '@datapunk/breaker-sim'
import { describe, expect, it } from 'vitest'
import { breakerSim } from './cliRun.js'

const valid = {
  name: 'mine',
  description: 'a short outage',
  durationMs: 60_000,
  load: { kind: 'poisson', rps: 100 },
  health: [
    { atMs: 0, failureRate: 0.001, latencyMs: { median: 30, p99: 120 } },
    { atMs: 20_000, failureRate: 1, latencyMs: { median: 5, p99: 20 } },
    { atMs: 40_000, failureRate: 0.001, latencyMs: { median: 30, p99: 120 } },
  ],
  incidentAtMs: 20_000,
  recoveredAtMs: 40_000,
}

const problems = (json: unknown): string => {
  const result = parseScenario(json, 's.json')
  if (result._tag === 'Right') throw new Error('expected the scenario to be refused')
  return result.left
}

describe('scenario files', () => {
  it('decodes a valid file into the scenario the simulator runs', () => {
    const result = parseScenario(valid, 's.json')
    expect(result._tag).toBe('Right')
    expect(result._tag === 'Right' && result.right.health[1]?.failureRate).toBe(1)
  })

  it.each([
    ['not an object', 'outage', 's.json: (root): expected a scenario, got "outage"'],
    [
      'a typo in a key',
      { ...valid, durationMS: 1 },
      's.json: durationMS: unknown key (expected only name, durationMs, load, health, incidentAtMs, recoveredAtMs, description, fragility, jitterMs)',
    ],
    [
      'an unknown load kind',
      { ...valid, load: { kind: 'sine', rps: 10 } },
      's.json: load.kind: expected one of "constant" | "poisson" | "bursts" | "steps", got "sine"',
    ],
    [
      'a failure rate above 1',
      { ...valid, health: [valid.health[0], { ...valid.health[1], failureRate: 1.5 }] },
      's.json: health[1].failureRate: expected a probability in [0, 1], got 1.5',
    ],
    ['no health at all', { ...valid, health: [] }, 's.json: health: expected 1 to 10000 health segments'],
    [
      'segments out of order',
      { ...valid, health: [valid.health[0], valid.health[2], valid.health[1]] },
      "s.json: health[2].atMs: expected a time after the previous segment's (40000), got 20000",
    ],
    [
      'a first segment after 0',
      { ...valid, health: [{ ...valid.health[0], atMs: 5 }] },
      's.json: health[0].atMs: expected the first segment to start at 0, got 5',
    ],
    [
      'a p99 below the median',
      { ...valid, health: [{ ...valid.health[0], latencyMs: { median: 100, p99: 50 } }] },
      's.json: health[0].latencyMs.p99: expected at least the median (100), got 50',
    ],
    [
      'recovery before the incident',
      { ...valid, recoveredAtMs: 10_000 },
      's.json: recoveredAtMs: expected at least incidentAtMs (20000), got 10000',
    ],
    [
      'more traffic than a run may simulate',
      { ...valid, durationMs: 86_400_000, load: { kind: 'constant', rps: 100_000 } },
      's.json: durationMs: expected at most 50,000,000 requests (rate x duration), got 8,640,000,000',
    ],
    [
      'more calls in flight than a run may hold (it used to run out of memory at 5.3 GB)',
      {
        ...valid,
        load: { kind: 'constant', rps: 100_000 },
        health: [{ ...valid.health[0], latencyMs: { median: 600_000, p99: 600_000 } }],
      },
      's.json: health: expected at most 1,000,000 calls in flight at once (peak rate x slowest p99 latency), got 60,000,000',
    ],
    [
      'a name with spaces',
      { ...valid, name: 'my scenario' },
      's.json: name: expected a name of lowercase letters, digits and dashes, got "my scenario"',
    ],
    [
      'a jitter wider than the gap between two changes of health after the incident',
      { ...valid, jitterMs: 25_000 },
      's.json: jitterMs: expected at most the shortest gap between changes of health after incidentAtMs (20000 ms, between the last change after incidentAtMs (40000) and durationMs), got 25000',
    ],
    [
      'bursts longer than their period',
      { ...valid, load: { kind: 'bursts', rps: 10, burstRps: 100, everyMs: 5000, forMs: 10_000 } },
      's.json: load.forMs: expected at most everyMs (5000), got 10000',
    ],
    [
      'load steps that do not start at 0',
      { ...valid, load: { kind: 'steps', steps: [{ atMs: 1000, rps: 10 }] } },
      's.json: load.steps[0].atMs: expected the first step to start at 0, got 1000',
    ],
    [
      'load steps out of order',
      {
        ...valid,
        load: {
          kind: 'steps',
          steps: [
            { atMs: 0, rps: 10 },
            { atMs: 30_000, rps: 20 },
            { atMs: 30_000, rps: 30 },
          ],
        },
      },
      "s.json: load.steps[2].atMs: expected a time after the previous step's (30000), got 30000",
    ],
    ['no load steps', { ...valid, load: { kind: 'steps', steps: [] } }, 's.json: load.steps: expected 1 to 10000 load steps'],
    [
      'a load step without a rate',
      { ...valid, load: { kind: 'steps', steps: [{ atMs: 0, rps: 0 }] } },
      's.json: load.steps[0].rps: expected a rate in requests per second in (0, 100000], got 0',
    ],
    [
      'a step whose peak makes too many requests',
      {
        ...valid,
        durationMs: 3_600_000,
        load: {
          kind: 'steps',
          steps: [
            { atMs: 0, rps: 10 },
            { atMs: 1000, rps: 100_000 },
          ],
        },
      },
      's.json: durationMs: expected at most 50,000,000 requests (rate x duration), got 360,000,000',
    ],
  ])('%s', (_name, json, expected) => {
    expect(problems(json)).toBe(expected)
  })

  it('a jitter moves each change of health after the incident by its own draw per seed, the same in every place it appears', () => {
    const decoded = parseScenario(
      { ...valid, jitterMs: 5_000, fragility: { fromMs: 40_000, capacityRps: 50, settleMs: 10_000, collapseMs: 5_000 } },
      's.json',
    )
    if (decoded._tag === 'Left') throw new Error(decoded.left)
    const written = decoded.right
    const recoveries = new Set<number>()
    for (let seed = 1; seed <= 50; seed++) {
      const run = jitteredScenario(written, seed)
      expect(jitteredScenario(written, seed)).toEqual(run) // deterministic
      // The incident's start stays; the recovery moves within [0, 5 s), and with it the segment and the fragility.
      expect(run.incidentAtMs).toBe(20_000)
      expect(run.health[1]?.atMs).toBe(20_000)
      expect(run.recoveredAtMs).toBeGreaterThanOrEqual(40_000)
      expect(run.recoveredAtMs).toBeLessThan(45_000)
      expect(run.health[2]?.atMs).toBe(run.recoveredAtMs)
      expect(run.fragility?.fromMs).toBe(run.recoveredAtMs)
      expect(run.durationMs).toBe(60_000)
      recoveries.add(Math.floor((run.recoveredAtMs - 40_000) / 1_000))
    }
    expect([...recoveries].sort()).toEqual([0, 1, 2, 3, 4]) // every second of the open period is met
    // Without a jitter the scenario runs as written; the arrivals and outcome draws do not depend on it.
    const outage = scenarios.outage
    if (outage === undefined) throw new Error('the outage scenario is missing')
    expect(jitteredScenario(outage, 3)).toBe(outage)
    const classic = circuit({ name: 'c', trip: { kind: 'consecutive-failures', threshold: 5 }, openFor: { kind: 'constant', ms: 5_000 } })
    const runs = (s: Scenario) => simulate(s, [classic], { seed: 3 })[0]?.summary.requests
    expect(runs({ ...written, jitterMs: 0 })).toBe(runs(written))
  })

  it('every incident cell of the quality matrix has a jitter of 5 s, and no noise cell has one', () => {
    for (const cell of qualitySpace())
      expect([cell.id, cell.scenario.jitterMs]).toEqual([cell.id, cell.kind === 'incident' ? 5_000 : undefined])
  })

  it('decodes a fragility with a strain, and names a bad one', () => {
    const fragility = { fromMs: 40_000, capacityRps: 50, settleMs: 10_000, collapseMs: 5_000 }
    const strained = parseScenario({ ...valid, fragility: { ...fragility, strain: { fromShare: 0.5, failureRate: 0.4 } } }, 's.json')
    expect(strained._tag === 'Right' && strained.right.fragility?.strain).toEqual({ fromShare: 0.5, failureRate: 0.4 })
    expect(problems({ ...valid, fragility: { ...fragility, strain: { fromShare: 1, failureRate: 0.4 } } })).toBe(
      's.json: fragility.strain.fromShare: expected a share in [0, 1), got 1',
    )
  })

  it('decodes a hung upstream and a capacity, and names bad ones', () => {
    const health = [valid.health[0], { ...valid.health[1], failureLatencyMs: 2_000 }, { ...valid.health[2], capacityRps: 50 }]
    const decoded = parseScenario({ ...valid, health }, 's.json')
    expect(decoded._tag === 'Right' && decoded.right.health.slice(1).map((h) => [h.failureLatencyMs, h.capacityRps])).toEqual([
      [2_000, undefined],
      [undefined, 50],
    ])
    expect(
      problems({ ...valid, health: [valid.health[0], { ...valid.health[1], failureLatencyMs: 0, capacityRps: -5 }] }).split('\n'),
    ).toEqual([
      's.json: health[1].failureLatencyMs: expected a latency in ms in (0, 600000], got 0',
      's.json: health[1].capacityRps: expected a rate in requests per second in (0, 100000], got -5',
    ])
  })

  it('reports every problem of a file, not just the first', () => {
    expect(problems({ ...valid, durationMs: 10, incidentAtMs: -1 }).split('\n')).toEqual([
      's.json: durationMs: expected a duration in ms in [1000, 86400000], got 10',
      's.json: incidentAtMs: expected a time in ms in [0, 86400000], got -1',
    ])
  })

  it('ships every built-in scenario as a file of this format', () => {
    const dir = fileURLToPath(new URL('../scenarios/', import.meta.url))
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'))
    expect(files.map((f) => f.replace('.json', '')).sort()).toEqual(Object.keys(scenarios).sort())
    for (const file of files) expect(parseScenario(JSON.parse(readFileSync(join(dir, file), 'utf8')), file)._tag).toBe('Right')
    expect(Object.keys(scenarios)).toEqual(
      expect.arrayContaining(['noisy-but-healthy', 'self-healing-spikes', 'slow-degradation', 'cascading']),
    )
  })
})

describe('breaker-sim run (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-run-'))
  const detection = { kind: 'failure-rate', threshold: 0.5, minimumCalls: 20, window: { kind: 'time', durationMs: 10_000, buckets: 10 } }
  const classic = join(dir, 'classic.json')
  writeFileSync(classic, JSON.stringify({ name: 'classic', trip: detection, openFor: { kind: 'constant', ms: 5000 } }))
  // A config naming a part kind of the user's, loaded with --kinds.
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
  const custom = join(dir, 'custom.json')
  writeFileSync(
    custom,
    JSON.stringify({ name: 'custom-run', trip: { kind: 'failure-run', length: 10 }, openFor: { kind: 'constant', ms: 5000 } }),
  )
  const scenarioFile = join(dir, 'mine.json')
  writeFileSync(scenarioFile, JSON.stringify(valid))
  const run = (...args: string[]) => breakerSim('run', ...args)

  it('runs your configs, your part kinds included, side by side over several seeds: the median and range of each metric', async () => {
    const result = await run('--config', classic, '--config', custom, '--kinds', kinds, '--scenario', 'outage', '--seeds', '1..5')
    expect(result.status, result.stderr).toBe(0)
    const lines = result.stdout.trim().split('\n')
    expect(lines[0]).toBe('outage, 5 seeds (1..5): a hard outage from 60 s to 120 s: every call fails fast, then all is well')
    expect(lines[3]).toMatch(/^strategy\s+success\s+wasted\s+needless\s+detect\s+lead\s+back to full\s+opens\s+collapses$/)
    expect(lines[4]).toMatch(/^classic\s+\d+\.\d% \[\d+\.\d% to \d+\.\d%\]/)
    expect(lines[5]).toMatch(/^custom-run\s+\d+\.\d% \[/)
    // Deterministic: the same inputs give the same bytes, on one worker thread or three.
    for (const workers of ['1', '3']) {
      const again = await run(
        '--config',
        classic,
        '--config',
        custom,
        '--kinds',
        kinds,
        '--scenario',
        'outage',
        '--seeds',
        '1..5',
        '--workers',
        workers,
      )
      expect(again.stdout).toBe(result.stdout)
    }
  })

  it("adds the oracle's row with --oracle: the same rows before it, and one that rejects nothing the upstream could serve", async () => {
    const plain = await run('--config', classic, '--scenario-file', scenarioFile, '--seeds', '1..3')
    expect(plain.status, plain.stderr).toBe(0)
    const lines = plain.stdout.trim().split('\n')
    for (const workers of ['1', '2']) {
      const withOracle = await run(
        '--config',
        classic,
        '--scenario-file',
        scenarioFile,
        '--seeds',
        '1..3',
        '--oracle',
        '--workers',
        workers,
      )
      expect(withOracle.status, withOracle.stderr).toBe(0)
      const all = withOracle.stdout.trim().split('\n')
      expect(all).toHaveLength(lines.length + 1)
      expect(all[4]).toBe(lines[4]) // classic's row, as without the oracle
      expect(all.at(-1)).toMatch(/^oracle\s+\d+\.\d% \[[^\]]+\]\s+\d+ \[[^\]]+\]\s+0 \[0 to 0\]/)
    }
    const oneSeed = await run('--config', classic, '--scenario-file', scenarioFile, '--oracle')
    expect(oneSeed.status, oneSeed.stderr).toBe(0)
    expect(oneSeed.stdout).toMatch(/^oracle: upstream/m)
    expect(oneSeed.stdout).toMatch(/^oracle\s+\d+\.\d%\s+\d+\s+0\s/m)
  })

  it('runs an adaptive throttle config (the adaptive-throttle kind around a circuit)', async () => {
    const throttled = join(dir, 'throttled.json')
    writeFileSync(
      throttled,
      JSON.stringify({ kind: 'adaptive-throttle', circuit: { name: 'throttled', trip: { kind: 'consecutive-failures', threshold: 5 } } }),
    )
    const result = await run('--config', classic, '--config', throttled, '--scenario', 'outage', '--seeds', '1..3')
    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout.trim().split('\n')[5]).toMatch(/^throttled\s+\d+\.\d% \[/)
    const bad = join(dir, 'bad-throttle.json')
    writeFileSync(
      bad,
      JSON.stringify({ kind: 'adaptive-throttle', windowMs: -1, circuit: { trip: { kind: 'consecutive-failures', threshold: 5 } } }),
    )
    const refused = await run('--config', bad, '--scenario', 'outage')
    expect(refused.status).toBe(2)
    expect(refused.stderr).toContain('windowMs: expected')
  })

  it('runs a scenario file, and draws the charts for one seed', async () => {
    const result = await run('--config', classic, '--scenario-file', scenarioFile, '--seeds', '7')
    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout.split('\n')[0]).toBe('mine (seed 7): a short outage')
    expect(result.stdout).toContain('classic: upstream')
  })

  it('evaluates configs for early shedding and false trips on held-out seeds', async () => {
    const predictive = join(dir, 'predictive.json')
    writeFileSync(
      predictive,
      JSON.stringify({
        name: 'predictive',
        trip: {
          kind: 'any-of',
          detectors: [
            { kind: 'failure-rate', threshold: 0.5, minimumCalls: 20, window: { kind: 'time', durationMs: 10_000, buckets: 10 } },
            { kind: 'change-point', signal: 'latency' },
          ],
        },
        openFor: { kind: 'constant', ms: 5000 },
      }),
    )
    const reactive = join(dir, 'reactive.json')
    writeFileSync(
      reactive,
      JSON.stringify({
        name: 'reactive',
        trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 20, window: { kind: 'time', durationMs: 10_000, buckets: 10 } },
        openFor: { kind: 'constant', ms: 5000 },
      }),
    )
    const result = await breakerSim('evaluate', '--config', reactive, '--config', predictive, '--seeds', '101..102', '--hours', '1')
    expect(result.status, result.stderr).toBe(0)
    // Aligned columns, as every command prints them: two spaces or more between cells.
    const row = (name: string) =>
      result.stdout
        .split('\n')
        .find((line) => line.startsWith(`${name} `))
        ?.trim()
        .split(/ {2,}/) ?? []
    expect(row('reactive')[1]).toBe('never (2 of 2 seeds)')
    expect(row('predictive')[1]).toMatch(/^\d+\.\d s$/) // it sheds load on the slow degradation
    expect(Number.parseFloat(row('predictive')[3] ?? '')).toBeGreaterThan(Number.parseFloat(row('reactive')[3] ?? '') + 5) // earlier on the brown-out
    expect(row('predictive')[4]).toBe('0') // no trip in an hour of bursty errors
    const bad = await breakerSim('evaluate', '--config', reactive, '--hours', '0')
    expect(bad.status).toBe(2)
    expect(bad.stderr).toContain('--hours: expected an integer in [1, 168], got "0"')
  })

  it('refuses what it cannot run, with the reason and exit code 2', async () => {
    const bad = join(dir, 'bad.json')
    writeFileSync(bad, JSON.stringify({ ...valid, health: [] }))
    const cases: Array<[string[], string]> = [
      [['--scenario', 'outage'], 'run: at least one --config FILE is required'],
      [['--config', classic, '--scenario', 'outage', '--scenario-file', scenarioFile], 'run: give --scenario or --scenario-file, not both'],
      [['--config', classic, '--seeds', '9..3'], '--seeds: expected A..B with A <= B, got 9..3'],
      [['--config', classic, '--seeds', 'lots'], '--seeds: expected N, A..B or A,B,C of non-negative integers, got "lots"'],
      [['--config', classic, '--scenario-file', bad], `${bad}: health: expected 1 to 10000 health segments`],
      [['--config', custom], `${custom}: trip.kind: expected one of`],
    ]
    for (const [args, message] of cases) {
      const result = await run(...args)
      expect(result.status, args.join(' ')).toBe(2)
      expect(result.stderr).toContain(message)
    }
  })
})
