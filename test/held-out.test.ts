/**
 * bench/quality/held-out: incidents that are not cells of the quality matrix (bursty traffic on
 * fragile and healthy upstreams at other traffic levels and burst shapes, a cliff just under the
 * full load, flaps too short for a ramp, surges of traffic past an upstream's capacity, callers
 * who back off during an outage and come back, some as a herd of retries, an outage that ends just
 * after the circuit trips), kept to check the strategies on what they were not chosen on. Every
 * file is a scenario the file format accepts or a config `fromConfig` reads, and
 * bench/quality/README.md's tables are what the simulator gives on them.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { strategyFromConfig } from '@datapunk/breaker'
import { parseScenario, simulate, simulateWithOracle } from '@datapunk/breaker-sim'
import { describe, expect, it } from 'vitest'

const dir = new URL('../bench/quality/held-out/', import.meta.url)
const json = (name: string): unknown => JSON.parse(readFileSync(new URL(name, dir), 'utf8'))
const files = readdirSync(dir).filter((f) => f.endsWith('.json'))
const configs = [
  'classic.json',
  'gradual.json',
  'gradual-unpaced.json',
  'throttle.json',
  'throttle-gradual.json',
  'cusum.json',
  'cusum-gradual.json',
]
const loadKind = (file: string) =>
  file.includes('bursty') ? 'bursts' : /^(surge|flash-crowd|retry-storm|evening-peak|drop|herd)-/.test(file) ? 'steps' : 'poisson'
const scenarioFiles = files.filter((f) => !configs.includes(f))

const strategy = (name: string) => {
  const decoded = strategyFromConfig(json(name))
  if (decoded._tag === 'Left') throw new Error(`${name}: ${decoded.left.message}`)
  return decoded.right
}
const scenario = (name: string) => {
  const parsed = parseScenario(json(name), name)
  if (parsed._tag === 'Left') throw new Error(parsed.left)
  return parsed.right
}

/** Classic's summary and `config`'s on the file's draws of seed 101. */
const againstClassic = (file: string, config: string) => {
  const [classic, other] = simulate(scenario(file), [strategy('classic.json'), strategy(config)], { seed: 101 }).map((r) => r.summary)
  if (classic === undefined || other === undefined) throw new Error('a run is missing')
  return [classic, other] as const
}

describe('the held-out incidents (bench/quality/held-out)', () => {
  it('are scenarios the file format accepts, named as their files (bursty where the name says so), and configs fromConfig reads', () => {
    expect(scenarioFiles).toHaveLength(25)
    for (const f of scenarioFiles) {
      const s = scenario(f)
      expect(s.name).toBe(f.replace(/\.json$/, ''))
      expect(s.load.kind).toBe(loadKind(f))
    }
    for (const c of configs) expect(strategy(c).name).toBe(c.replace(/\.json$/, ''))
  })

  it('a fragile upstream under bursts at 20 requests/s: paced gradual recovery keeps it up where counting alone does not (seeds 101..103)', () => {
    const s = scenario('warn50-bursty-20.json')
    const strategies = configs.map(strategy)
    for (const seed of [101, 102, 103]) {
      const [classic, paced, unpaced] = simulate(s, strategies, { seed }).map((r) => r.summary)
      if (classic === undefined || paced === undefined || unpaced === undefined) throw new Error('a run is missing')
      expect(paced.successRate - unpaced.successRate).toBeGreaterThan(0.2)
      expect(paced.collapses).toBeLessThan(unpaced.collapses)
      expect(unpaced.successRate).toBeGreaterThanOrEqual(classic.successRate)
    }
  })

  it('a cliff at 97% of the load, crossed in probation: the next recovery holds under it (seed 118 crossed it on every recovery before)', () => {
    const [classic, gradual] = simulate(scenario('cliff97-200.json'), configs.slice(0, 2).map(strategy), { seed: 118 }).map(
      (r) => r.summary,
    )
    if (classic === undefined || gradual === undefined) throw new Error('a run is missing')
    expect(gradual.collapses).toBeLessThanOrEqual(2)
    expect(gradual.successRate - classic.successRate).toBeGreaterThan(0.3)
  })

  it('a surge past the capacity: the oracle keeps the upstream up, and every row brings it down again (seed 101)', () => {
    const s = scenario('surge-200.json')
    const rows = ['classic.json', 'gradual.json', 'throttle.json', 'cusum.json'].map(strategy)
    const { runs, oracle } = simulateWithOracle(s, rows, { seed: 101 })
    expect(oracle.summary.collapses).toBe(0)
    for (const run of runs) expect(run.summary.collapses, run.summary.strategy).toBeGreaterThanOrEqual(2)
    // The oracle sheds only what the upstream cannot take: at the peak, about a quarter of the load.
    expect(oracle.summary.successRate - Math.max(...runs.map((r) => r.summary.successRate))).toBeGreaterThan(0.1)
  })

  it('a flash crowd that broke the upstream is over: gradual recovery gives back the traffic it carried, and is not behind classic (seed 101)', () => {
    const [classic, gradual] = againstClassic('flash-crowd-300.json', 'gradual.json')
    // It held the share the crowd forced for 30 s after it, 7 points behind, before the ceiling lifted on the rate carried.
    expect(gradual.successRate).toBeGreaterThanOrEqual(classic.successRate)
    expect(gradual.collapses).toBeLessThanOrEqual(classic.collapses)
  })

  it('callers back off during an outage and come back: gradual recovery is within 1.5 points of classic, at 20, 500 and 3,000 requests/s (seed 101)', () => {
    for (const f of ['drop-outage-20.json', 'drop-outage-500.json', 'drop-outage-3000.json', 'drop-early-return-500.json']) {
      const [classic, gradual] = againstClassic(f, 'gradual.json')
      expect(gradual.successRate - classic.successRate, f).toBeGreaterThan(-0.015)
      expect(gradual.collapses, f).toBe(0)
    }
  })

  it('a herd of retries into an upstream fragile after an outage: the oracle keeps it up, every row brings it down at least once (seed 101)', () => {
    const { runs, oracle } = simulateWithOracle(scenario('herd-after-outage-200.json'), configs.map(strategy), { seed: 101 })
    expect(oracle.summary.collapses).toBe(0)
    for (const run of runs) expect(run.summary.collapses, run.summary.strategy).toBeGreaterThanOrEqual(1)
    expect(oracle.summary.successRate - Math.max(...runs.map((r) => r.summary.successRate))).toBeGreaterThan(0.04)
  })

  it('an outage that ends a second after the circuit tripped: the throttle, which never trips, is ahead of classic, which stays open its open duration (seed 101)', () => {
    const [classic, throttle] = againstClassic('blip6-500.json', 'throttle.json')
    expect(classic.opens).toBe(1)
    expect(throttle.opens).toBe(0)
    expect(throttle.successRate - classic.successRate).toBeGreaterThan(0.01)
  })
})
