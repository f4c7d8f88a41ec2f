import { execFileSync, spawnSync } from 'node:child_process'
import { circuit } from '@datapunk/breaker'
import {
  arrivals,
  demoStrategies,
  meanRps,
  peakRps,
  qualitySpace,
  renderText,
  type Scenario,
  scenarios,
  seeded,
  simulate,
  simulateWithOracle,
  strainAt,
} from '@datapunk/breaker-sim'
import { describe, expect, it } from 'vitest'
import { simulateKept, simulateOracle } from '../src/simulate.js'
import { breakerSim, cliPath } from './cliRun.js'

const fragile = scenarios['fragile-recovery']
if (fragile === undefined) throw new Error('the fragile-recovery scenario is missing')

describe('simulate', () => {
  it("the tuner's runs on kept draws are the runs simulate gives, the first time and every time after", () => {
    const strategies = demoStrategies()
    const outage = scenarios.outage as Scenario
    for (const seed of [3, 4])
      for (const scenario of [fragile, outage]) {
        const fresh = simulate(scenario, strategies, { seed })
        for (let round = 0; round < 2; round++) {
          strategies.forEach((strategy, i) => {
            expect(simulateKept(scenario, strategy, { seed }), `${scenario.name}, ${strategy.name}, seed ${seed}, round ${round}`).toEqual(
              fresh[i],
            )
          })
          expect(simulateKept(scenario, null, { seed })).toEqual(simulateOracle(scenario, { seed }))
        }
      }
  })

  it('is deterministic: the same seed gives a byte-identical report', () => {
    const a = renderText(fragile, simulate(fragile, demoStrategies(), { seed: 7 }), 7)
    const b = renderText(fragile, simulate(fragile, demoStrategies(), { seed: 7 }), 7)
    expect(a).toBe(b)
    expect(renderText(fragile, simulate(fragile, demoStrategies(), { seed: 8 }), 8)).not.toBe(a)
  })

  it('on a fragile recovery, gradual recovery brings the upstream down at most twice where classic half-open does again and again', () => {
    for (const seed of [1, 2, 3]) {
      const runs = simulate(fragile, demoStrategies(), { seed })
      const by = Object.fromEntries(runs.map((r) => [r.summary.strategy, r.summary]))
      expect(by.classic?.collapses, `classic collapses the upstream (seed ${seed})`).toBeGreaterThan(0)
      // Gradual ramps in half-second stages: it may overshoot once before the strain shows, then
      // steps back and remembers (the price of not losing to classic on clean recoveries).
      expect(by.gradual?.collapses, `gradual at most twice (seed ${seed})`).toBeLessThanOrEqual(2)
      expect(by.gradual?.collapses ?? 0).toBeLessThan(by.classic?.collapses ?? 0)
      expect(by.gradual?.timeToFullMs, 'gradual gets back to full traffic').not.toBeNull()
      expect(by.gradual?.successRate ?? 0).toBeGreaterThan(by.classic?.successRate ?? 1)
    }
  })

  it('gradual recovery at its defaults costs little on a clean outage and wastes less on flapping and brown-outs than classic', () => {
    /** Classic's and gradual's summaries over seeds 1..5, and their medians of a metric. */
    const over = (name: string) => {
      const scenario = scenarios[name]
      if (scenario === undefined) throw new Error(`missing scenario ${name}`)
      // Classic and gradual only: each strategy runs on the same draws, whatever runs beside it.
      const runs = [1, 2, 3, 4, 5].map((seed) => simulate(scenario, demoStrategies().slice(0, 2), { seed }).map((r) => r.summary))
      const median = (xs: number[]) => xs.sort((a, b) => a - b)[2] ?? Number.NaN
      return (strategy: 0 | 1, metric: (s: (typeof runs)[0][0]) => number | null) =>
        median(runs.map((r) => metric(r[strategy] as (typeof runs)[0][0]) ?? Number.POSITIVE_INFINITY))
    }
    const outage = over('outage')
    expect(outage(1, (s) => s.successRate)).toBeGreaterThanOrEqual(outage(0, (s) => s.successRate) - 0.02)
    expect(outage(1, (s) => s.timeToFullMs)).toBeLessThanOrEqual(15_000)
    for (const name of ['flapping', 'brownout']) {
      const m = over(name)
      expect(
        m(1, (s) => s.wasted),
        name,
      ).toBeLessThan(m(0, (s) => s.wasted))
      expect(
        m(1, (s) => s.successRate),
        name,
      ).toBeGreaterThanOrEqual(m(0, (s) => s.successRate) - 0.02)
    }
    const cliff = over('fragile-cliff')
    expect(
      cliff(1, (s) => s.collapses),
      'one collapse without warning, then memory',
    ).toBeLessThanOrEqual(1)
    expect(cliff(0, (s) => s.collapses)).toBeGreaterThan(5)
  })

  it('detects a hard outage within the open window of every strategy, and every strategy recovers from it', () => {
    const outage = scenarios.outage
    if (outage === undefined) throw new Error('missing scenario')
    for (const run of simulate(outage, demoStrategies(), { seed: 1 })) {
      expect(run.summary.timeToDetectMs).not.toBeNull()
      expect(run.summary.timeToDetectMs ?? Number.POSITIVE_INFINITY).toBeLessThan(10_000)
      expect(run.summary.timeToFullMs, run.summary.strategy).not.toBeNull()
      expect(run.summary.requests).toBe(run.summary.admitted + (run.summary.requests - run.summary.admitted))
    }
  })

  it('counts every request: admitted ones succeed or fail, and the others were rejected', () => {
    for (const scenario of Object.values(scenarios)) {
      for (const { summary: s, buckets } of simulate(scenario, demoStrategies(), { seed: 3 })) {
        expect(s.succeeded + s.wasted).toBe(s.admitted)
        expect(buckets.reduce((n, b) => n + b.requests, 0)).toBe(s.requests)
        expect(buckets.reduce((n, b) => n + b.admitted, 0)).toBe(s.admitted)
      }
    }
  })

  it('shares arrivals and draws between strategies: the same traffic for each', () => {
    const strategy = circuit({ name: 'never-trips', trip: { kind: 'consecutive-failures', threshold: 1_000_000 } })
    const [a, b] = simulate(fragile, [strategy, strategy], { seed: 5 })
    expect(a?.summary).toEqual(b?.summary)
    expect(a?.summary.requests).toBe(arrivals(fragile.load, fragile.durationMs, seeded(5)).length)
  })
})

describe('calls still running', () => {
  it('a hung upstream trips a slow-call detector once its calls pass slowCallMs, as the runtime reports them, not when they time out', () => {
    const cell = qualitySpace().find((c) => c.id === 'hung-outage@1000')
    if (cell === undefined) throw new Error('no hung-outage@1000 cell')
    const strategy = circuit({
      name: 'slow',
      trip: {
        kind: 'slow-call-rate',
        threshold: 0.5,
        slowCallMs: 500,
        minimumCalls: 20,
        window: { kind: 'time', durationMs: 10_000, buckets: 10 },
      },
    })
    // The same strategy, blind to running calls (it counts each when it ends).
    const { overdueAfterMs: _, ...blind } = strategy
    const [watching, ending] = simulate(cell.scenario, [strategy, { ...blind, name: 'blind' }], { seed: 101 }).map((run) => run.summary)
    // Every call of the hung upstream waits the callers' 2 s timeout: counted at 500 ms, the trip comes
    // up to 1.5 s sooner (1 s here: the window judges in 1 s buckets).
    const sooner = (ending?.timeToDetectMs ?? 0) - (watching?.timeToDetectMs ?? 0)
    expect(sooner).toBeGreaterThan(500)
    expect(sooner).toBeLessThanOrEqual(1_500)
    expect(watching?.wasted).toBeLessThan(ending?.wasted ?? 0)
  })
})

describe('a strained fragile upstream', () => {
  const healthy = { failureRate: 0, latencyMs: { median: 10, p99: 20 } }
  /** 150 requests/s into an upstream of capacity 200 that strains from half of it: 40% errors at the capacity. */
  const strained: Scenario = {
    name: 'strained',
    description: '',
    durationMs: 60_000,
    load: { kind: 'constant', rps: 150 },
    health: [{ atMs: 0, ...healthy }],
    fragility: { fromMs: 0, capacityRps: 200, settleMs: 86_400_000, collapseMs: 10_000, strain: { fromShare: 0.5, failureRate: 0.4 } },
    incidentAtMs: 0,
    recoveredAtMs: 0,
  }
  const neverTrips = circuit({ name: 'never-trips', trip: { kind: 'consecutive-failures', threshold: 1_000_000 } })

  it('fails calls with a probability rising linearly from fromShare of the capacity to failureRate at it', () => {
    const fragility = strained.fragility
    if (fragility === undefined) throw new Error('missing fragility')
    expect(strainAt(fragility, 100)).toBe(0)
    expect(strainAt(fragility, 150)).toBeCloseTo(0.2, 10)
    expect(strainAt(fragility, 200)).toBeCloseTo(0.4, 10)
    expect(strainAt(fragility, 400)).toBeCloseTo(0.4, 10)
    const { strain: _, ...cliff } = fragility
    expect(strainAt(cliff, 199)).toBe(0)
  })

  it('shows the strain in the calls let through (about 75% of the capacity: 17-20% fail), and none once it has settled', () => {
    const [run] = simulate(strained, [neverTrips], { seed: 1 })
    // The load window counts the last 0.9 to 1 s (ten 100 ms slots, the newest filling): 135 to
    // 150 calls, 68-75% of the capacity, so 14.5-20% of calls fail.
    expect((run?.summary.wasted ?? 0) / (run?.summary.admitted ?? 1)).toBeGreaterThan(0.15)
    expect((run?.summary.wasted ?? 0) / (run?.summary.admitted ?? 1)).toBeLessThan(0.2)
    expect(run?.summary.collapses).toBe(0)
    const settles: Scenario = { ...strained, fragility: { ...(strained.fragility as NonNullable<Scenario['fragility']>), settleMs: 1000 } }
    expect(simulate(settles, [neverTrips], { seed: 1 })[0]?.summary.wasted).toBeLessThan(200)
  })

  it('measures lead time against the moment the true failure rate reaches 50%, and trips per simulated day', () => {
    const brownout = scenarios.brownout
    const noisy = scenarios['noisy-but-healthy']
    if (brownout === undefined || noisy === undefined) throw new Error('missing scenario')
    const [classic] = simulate(brownout, demoStrategies(), { seed: 1 }).map((r) => r.summary)
    // The brown-out reaches 53% errors at 130 s; a 50% threshold over 10 s trips a few seconds
    // after, and sheds load from the next request on (at 200 requests/s, within ms).
    const fromTrip = 130_000 - 60_000 - (classic?.timeToDetectMs ?? 0)
    expect(classic?.leadTimeMs).toBeLessThanOrEqual(fromTrip)
    expect(classic?.leadTimeMs).toBeGreaterThan(fromTrip - 100)
    expect(classic?.leadTimeMs).toBeLessThan(0)
    const [onNoisy] = simulate(noisy, [neverTrips], { seed: 1 }).map((r) => r.summary)
    expect(onNoisy).toMatchObject({ leadTimeMs: null, tripsPerDay: 0 })
    const jumpy = circuit({ name: 'jumpy', trip: { kind: 'consecutive-failures', threshold: 1 } })
    const [tripping] = simulate(noisy, [jumpy], { seed: 1 }).map((r) => r.summary)
    expect(tripping?.tripsPerDay).toBe(((tripping?.opens ?? 0) * 86_400_000) / noisy.durationMs)
  })

  it('measures back to full traffic from the recovery to the end of the last rejection, and null for a breaker still rejecting', () => {
    const outage = scenarios.outage
    if (outage === undefined) throw new Error('missing scenario')
    const stuck = circuit({
      name: 'stuck',
      trip: { kind: 'consecutive-failures', threshold: 5 },
      openFor: { kind: 'constant', ms: 3_600_000 },
    })
    const [classic, , , never, stuckRun] = simulate(outage, [...demoStrategies(), neverTrips, stuck], { seed: 1 })
    expect(classic?.summary.timeToFullMs).toBeGreaterThanOrEqual(0)
    expect(classic?.summary.timeToFullMs).toBeLessThan(5_100) // the open window, then one good probe
    expect(never?.summary.timeToFullMs).toBe(0) // it never rejected anything: full all along
    expect(stuckRun?.summary.timeToFullMs).toBeNull()
  })
})

describe('load models', () => {
  it('draws constant, Poisson and bursty arrivals at their rates', () => {
    const count = (load: Parameters<typeof arrivals>[0]) => arrivals(load, 60_000, seeded(1)).length
    expect(count({ kind: 'constant', rps: 100 })).toBe(5999)
    expect(Math.abs(count({ kind: 'poisson', rps: 100 }) - 6000)).toBeLessThan(300)
    // 1 s of 1,000 rps in every 10 s, 100 rps otherwise: 6 x 1,000 + 54 x 100 = 11,400.
    expect(Math.abs(count({ kind: 'bursts', rps: 100, burstRps: 1000, everyMs: 10_000, forMs: 1000 }) - 11_400)).toBeLessThan(500)
  })

  it("draws a load in steps at each step's rate, from the step's first moment", () => {
    const steps = {
      kind: 'steps',
      steps: [
        { atMs: 0, rps: 0.01 },
        { atMs: 10_000, rps: 1000 },
        { atMs: 20_000, rps: 100 },
      ],
    } as const
    const times = arrivals(steps, 60_000, seeded(3))
    const within = (from: number, to: number) => times.filter((t) => t >= from && t < to).length
    // One arrival a 100 s on average in the first step: at most a few in 10 s.
    expect(within(0, 10_000)).toBeLessThan(3)
    // A gap drawn at 0.01 requests/s does not carry into the next step: arrivals start at its rate at once.
    expect(times.find((t) => t >= 10_000)).toBeLessThan(10_010)
    expect(Math.abs(within(10_000, 20_000) - 10_000)).toBeLessThan(400)
    expect(Math.abs(within(20_000, 60_000) - 4_000)).toBeLessThan(250)
    expect(meanRps(steps, 60_000)).toBeCloseTo((0.01 * 10 + 1000 * 10 + 100 * 40) / 60, 6)
    expect(peakRps(steps)).toBe(1000)
    // A run sized by its peak, and a step past the run's end, change nothing.
    expect(arrivals({ kind: 'steps', steps: [...steps.steps, { atMs: 90_000, rps: 5 }] }, 60_000, seeded(3))).toEqual(times)
  })
})

describe('breaker-sim CLI', () => {
  it('lists the scenarios in its help', () => {
    const help = execFileSync(process.execPath, [cliPath, '--help'], { encoding: 'utf8' })
    for (const name of Object.keys(scenarios)) expect(help).toContain(name)
  })

  it("the program exits with main's code: 2 for a usage error, 1 for a failure, 0 when done", async () => {
    const usage = spawnSync(process.execPath, [cliPath, 'run', '--seed', '3'], { encoding: 'utf8' })
    expect(usage.status).toBe(2)
    expect(usage.stderr).toBe((await breakerSim('run', '--seed', '3')).stderr)
    const unwritable = spawnSync(process.execPath, [cliPath, '--seed', '2', '--html', '/proc/none/report.html'], { encoding: 'utf8' })
    expect(unwritable.status).toBe(1)
    expect(unwritable.stderr).toMatch(/^breaker-sim: could not write the HTML report to \/proc\/none\/report.html: /)
    const help = spawnSync(process.execPath, [cliPath, 'fleet', '--help'], { encoding: 'utf8' })
    expect(help.status).toBe(0)
    expect(help.stdout).toBe((await breakerSim('fleet', '--help')).stdout)
  })

  it('runs one command at a time in a process: a second main while one runs is refused, the first unharmed', async () => {
    const first = breakerSim('run', '--seed', '3')
    await expect(breakerSim('--help')).rejects.toThrow(/one run at a time/)
    const done = await first
    expect(done.status).toBe(2)
    expect(done.stderr).toBe("breaker-sim: Unknown option '--seed' (did you mean --seeds?)\n(see breaker-sim run --help)\n")
    expect((await breakerSim('fleet', '--help')).status).toBe(0) // and the next run goes ahead
  })

  it('refuses bad options with a clear error and exit code 2', async () => {
    const unknown = await breakerSim('--scenario', 'meteor')
    expect(unknown.status).toBe(2)
    expect(unknown.stderr).toContain('breaker-sim: unknown scenario "meteor"')
    const seed = await breakerSim('--seed', '1.5')
    expect(seed.status).toBe(2)
    expect(seed.stderr).toContain('--seed: expected a non-negative integer, got "1.5"')
    const flag = await breakerSim('--fast')
    expect(flag.status).toBe(2)
    expect(flag.stderr).toContain("Unknown option '--fast'")
  })

  it('every command answers --help with its own text and exit 0', async () => {
    const helps = new Map<string, string>()
    for (const command of ['run', 'tune', 'quality', 'replay', 'evaluate', 'train', 'fleet']) {
      const help = await breakerSim(command, '--help')
      expect(help.status).toBe(0)
      expect(help.stdout.startsWith(`usage: breaker-sim ${command} `)).toBe(true)
      expect(help.stdout).toContain(`\n${command}: `)
      // Its own text only: no other command's paragraph.
      expect(help.stdout).not.toContain(command === 'run' ? '\ntune: ' : '\nrun: ')
      helps.set(command, help.stdout)
    }
    // -h is --help (one check in the argument parser serves every command).
    const short = await breakerSim('tune', '-h')
    expect(short.status).toBe(0)
    expect(short.stdout).toBe(helps.get('tune'))
    // A command with two forms shows both.
    expect(helps.get('evaluate')).toContain('\n       breaker-sim evaluate --space [--config FILE ...] [--learned]')
  })

  it("a usage error is one line with a pointer to the command's help, suggesting what was meant", async () => {
    const option = await breakerSim('run', '--seed', '3')
    expect(option.status).toBe(2)
    expect(option.stderr).toBe("breaker-sim: Unknown option '--seed' (did you mean --seeds?)\n(see breaker-sim run --help)\n")
    const command = await breakerSim('runn')
    expect(command.status).toBe(2)
    expect(command.stderr).toContain('unknown command "runn" (did you mean run?)')
    const far = await breakerSim('toString')
    expect(far.status).toBe(2)
    expect(far.stderr).toContain('unknown command "toString"; the commands are run, tune')
    // Names of Object.prototype are no scenario, in any command (they used to crash with a stack trace).
    for (const args of [
      ['--scenario', 'toString'],
      ['--scenario', '__proto__'],
      ['train', '--scenarios', 'constructor'],
    ]) {
      const hostile = await breakerSim(...args)
      expect(hostile.status).toBe(2)
      expect(hostile.stderr).toMatch(/^breaker-sim: (train: )?unknown scenario/)
    }
    // Inputs are bounded: a device or a directory is refused before reading (it used to read /dev/zero until memory ran out).
    for (const args of [
      ['run', '--config', '/dev/zero'],
      ['run', '--config', '/tmp'],
      ['replay', '--trace', '/dev/zero', '--config', '/dev/zero'],
      ['tune', '--space', '/dev/zero'],
    ]) {
      const device = await breakerSim(...args)
      expect(device.status).toBe(2)
      expect(device.stderr).toMatch(/^breaker-sim: \/(dev\/zero|tmp): not a regular file\n/)
    }
    const typo = await breakerSim('--scenario', 'outge')
    expect(typo.stderr).toContain('unknown scenario "outge" (did you mean outage?)')
  })
})

describe('simulate: bad input', () => {
  const strategy = () => circuit({ trip: { kind: 'consecutive-failures', threshold: 3 } })

  it('refuses a scenario, strategies or options of the wrong kind with a TypeError naming it', () => {
    const scenario = scenarios.outage as Scenario
    expect(() => simulate(null as never, [strategy()], { seed: 1 })).toThrow(
      new TypeError('simulate: expected a scenario (scenarios.outage, or one parseScenario read), got null'),
    )
    expect(() => simulate(scenario, strategy() as never, { seed: 1 })).toThrow(
      new TypeError('simulate: expected an array of strategies, got object'),
    )
    expect(() => simulate(scenario, [null as never], { seed: 1 })).toThrow(
      new TypeError('simulate: strategies[0]: expected a strategy (circuit(...), or your own), got null'),
    )
    expect(() => simulate(scenario, [strategy()], 1 as never)).toThrow(
      new TypeError('simulate: expected options { seed } with an integer seed, got number'),
    )
    expect(() => simulateWithOracle(scenario, [strategy()], { seed: 0.5 })).toThrow(
      'simulateWithOracle: expected options { seed } with an integer seed, got seed 0.5',
    )
    expect(() => simulateOracle({} as never, { seed: 1 })).toThrow('simulateOracle: expected a scenario')
    expect(simulate(scenario, [strategy()], { seed: 1 })).toHaveLength(1)
  })
})
