import { execFileSync, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { circuit } from '@datapunk/breaker'
import { arrivals, demoStrategies, renderText, scenarios, seeded, simulate } from '@datapunk/breaker-sim'
import { describe, expect, it } from 'vitest'

const fragile = scenarios['fragile-recovery']
if (fragile === undefined) throw new Error('the fragile-recovery scenario is missing')

describe('simulate', () => {
  it('is deterministic: the same seed gives a byte-identical report', () => {
    const a = renderText(fragile, simulate(fragile, demoStrategies(), { seed: 7 }), 7)
    const b = renderText(fragile, simulate(fragile, demoStrategies(), { seed: 7 }), 7)
    expect(a).toBe(b)
    expect(renderText(fragile, simulate(fragile, demoStrategies(), { seed: 8 }), 8)).not.toBe(a)
  })

  it('on a fragile recovery, gradual recovery keeps the upstream up where classic half-open brings it down again', () => {
    for (const seed of [1, 2, 3]) {
      const runs = simulate(fragile, demoStrategies(), { seed })
      const by = Object.fromEntries(runs.map((r) => [r.summary.strategy, r.summary]))
      expect(by.classic?.collapses, `classic collapses the upstream (seed ${seed})`).toBeGreaterThan(0)
      expect(by.gradual?.collapses, `gradual does not (seed ${seed})`).toBe(0)
      expect(by.gradual?.timeToFullMs, 'gradual gets back to full traffic').not.toBeNull()
      expect(by.gradual?.successRate ?? 0).toBeGreaterThan(by.classic?.successRate ?? 1)
    }
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

describe('load models', () => {
  it('draws constant, Poisson and bursty arrivals at their rates', () => {
    const count = (load: Parameters<typeof arrivals>[0]) => arrivals(load, 60_000, seeded(1)).length
    expect(count({ kind: 'constant', rps: 100 })).toBe(5999)
    expect(Math.abs(count({ kind: 'poisson', rps: 100 }) - 6000)).toBeLessThan(300)
    // 1 s of 1,000 rps in every 10 s, 100 rps otherwise: 6 x 1,000 + 54 x 100 = 11,400.
    expect(Math.abs(count({ kind: 'bursts', rps: 100, burstRps: 1000, everyMs: 10_000, forMs: 1000 }) - 11_400)).toBeLessThan(500)
  })
})

describe('breaker-sim CLI', () => {
  const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

  it('lists the scenarios in its help', () => {
    const help = execFileSync(process.execPath, [cli, '--help'], { encoding: 'utf8' })
    for (const name of Object.keys(scenarios)) expect(help).toContain(name)
  })

  it('refuses bad options with a clear error and exit code 2', () => {
    const unknown = spawnSync(process.execPath, [cli, '--scenario', 'meteor'], { encoding: 'utf8' })
    expect(unknown.status).toBe(2)
    expect(unknown.stderr).toContain('breaker-sim: unknown scenario "meteor"')
    const seed = spawnSync(process.execPath, [cli, '--seed', '1.5'], { encoding: 'utf8' })
    expect(seed.status).toBe(2)
    expect(seed.stderr).toContain('--seed: expected a non-negative integer, got "1.5"')
    const flag = spawnSync(process.execPath, [cli, '--fast'], { encoding: 'utf8' })
    expect(flag.status).toBe(2)
    expect(flag.stderr).toContain("Unknown option '--fast'")
  })
})
