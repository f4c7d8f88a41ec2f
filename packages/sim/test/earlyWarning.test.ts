import { type EarlyWarning, earlyWarning, qualitySpace, renderEarlyWarning } from '@datapunk/breaker-sim'
import { describe, expect, it } from 'vitest'
import { breakerSim } from './cliRun.js'

/**
 * Cells at 20 requests/s, quick to simulate: bursty noise, incidents of both halves with a precursor
 * (error ramp, latency creep) and without (outage, partial failure, flapping). The whole row at 20
 * requests/s trains five models and takes three times as long to say the same.
 */
const families = ['noise-bursts-40', 'outage', 'partial-10', 'error-ramp', 'latency-creep', 'flapping']
const cells = qualitySpace().filter((c) => c.rps === 20 && families.includes(c.family))
const cusumConfig = {
  name: 'mine',
  trip: {
    kind: 'any-of',
    detectors: [
      { kind: 'failure-rate', threshold: 0.5, minimumCalls: 20, window: { kind: 'time', durationMs: 10_000, buckets: 10 } },
      { kind: 'cusum', signal: 'latency' },
    ],
  },
}

describe('early warning on the scenario space at a false-trip budget', () => {
  it('calibrates a reference and baselines on noise, then reports every incident of the test half against the reference', async () => {
    const e = await earlyWarning([{ name: 'mine', config: cusumConfig }], {
      calibrationSeeds: [1],
      seeds: [101],
      workers: 1,
      cells,
      learned: true,
    })
    const [reference, ...others] = e.columns
    expect(reference?.role).toBe('reference')
    expect([0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2]).toContain(reference?.setting)
    expect(reference?.withinBudget).toBe(true)
    expect(others.map((c) => c.role)).toEqual([...others.filter((c) => c.role === 'baseline').map(() => 'baseline'), 'learned', 'config'])
    // A model per incident kind at 20 requests/s, each trained without its kind.
    expect(e.heldOut?.map((h) => h.kind).sort()).toEqual(['error ramp', 'latency creep', 'outage', 'partial failure'])
    for (const h of e.heldOut ?? []) expect(h.positives).toBeGreaterThan(0)
    expect(others.at(-1)?.name).toBe('mine')
    // Every test-half incident at 20 requests/s, fragile ones aside, and nothing else.
    const expected = cells.filter((c) => c.half === 'test' && c.kind === 'incident' && !c.fragile).map((c) => c.id)
    expect(e.lines.map((l) => l.cell)).toEqual(expected)
    expect(e.lines.some((l) => l.precursor)).toBe(true)
    // A baseline (or a held-out model) is the reference and a part beside it: it never sheds later than the reference alone.
    others.forEach((c, i) => {
      if (c.role !== 'baseline' && c.role !== 'learned') return
      for (const line of e.lines) {
        const base = line.shedS[0]
        const mine = line.shedS[i + 1]
        if (base !== null && base !== undefined) expect(mine).not.toBeNull()
        if (base !== null && base !== undefined && mine !== null && mine !== undefined) expect(mine).toBeLessThanOrEqual(base)
      }
    })
    const text = renderEarlyWarning(e)
    expect(text).toContain(`${reference?.name}`)
    expect(text).toMatch(/mine: \d+ of \d+ incidents with a precursor 10 s or more ahead/)
  })

  it('refuses a config named like a row it adds itself', async () => {
    await expect(
      earlyWarning([{ name: 'classic', config: { ...cusumConfig, name: 'classic' } }], {
        calibrationSeeds: [1],
        seeds: [101],
        workers: 1,
        cells: cells.filter((c) => c.kind === 'noise'),
      }),
    ).rejects.toThrow('a config has the name of a baseline or of another config ("classic")')
  })

  it('refuses cells without noise on the train half: no budget could be kept', async () => {
    await expect(
      earlyWarning([], { calibrationSeeds: [1], seeds: [101], workers: 1, cells: cells.filter((c) => c.kind === 'incident') }),
    ).rejects.toThrow('the cells hold no noise cell of the train half')
  })

  it('renders a verdict per column: ahead on every precursor, never later, within the budget', () => {
    const e: EarlyWarning = {
      budgetPerDay: 1,
      calibrationSeeds: [1, 2],
      seeds: [101, 102],
      columns: [
        { name: 'threshold 0.45', role: 'reference', setting: 0.45, worstNoise: { cell: '-', perDay: 0 }, withinBudget: true },
        { name: 'early', role: 'config', setting: null, worstNoise: { cell: '-', perDay: 0 }, withinBudget: true },
        { name: 'noisy', role: 'config', setting: null, worstNoise: { cell: 'noise-bursts-40@200', perDay: 12 }, withinBudget: false },
        { name: 'late', role: 'config', setting: null, worstNoise: { cell: '-', perDay: 0 }, withinBudget: true },
      ],
      lines: [
        { cell: 'error-ramp@20', precursor: true, shedS: [45, 20, 10, 44] },
        { cell: 'outage@200', precursor: false, shedS: [4, 4, 3, 6] },
        { cell: 'partial-30@2', precursor: false, shedS: [null, null, 5, null] },
      ],
    }
    const text = renderEarlyWarning(e)
    expect(text).toContain(
      'yes  early: 1 of 1 incidents with a precursor 10 s or more ahead; later on 0 of 2 without one; within the budget',
    )
    expect(text).toContain('no   noisy: 1 of 1 incidents with a precursor 10 s or more ahead; later on 0 of 2 without one; over the budget')
    expect(text).toContain(
      'no   late: 0 of 1 incidents with a precursor 10 s or more ahead; later on 1 of 2 without one (outage@200); within the budget',
    )
    expect(text).toContain('OVER THE BUDGET')
    expect(text).toContain('20.0 s (+25.0)')
    expect(text).toContain('5.0 s (it alone)')
    expect(text).toContain('6.0 s (-2.0)')
  })
})

describe('breaker-sim evaluate --space', () => {
  const evaluate = (...args: string[]) => breakerSim('evaluate', ...args)

  it('prints the evaluation of the baselines alone on the cells asked for', async () => {
    const r = await evaluate(
      '--space',
      '--cells',
      'error-ramp@20,outage@20,noise-background-1@20',
      '--calibrate-seeds',
      '1..1',
      '--seeds',
      '101..101',
      '--workers',
      '1',
    )
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toContain('Early warning on the scenario space at 1 false trip a day')
    expect(r.stdout).toContain('error-ramp@20')
  })

  it('refuses options that do not go together, in one line', async () => {
    const budgetAlone = await evaluate('--config', 'x.json', '--budget', '2')
    expect(budgetAlone.status).toBe(2)
    expect(budgetAlone.stderr).toContain('evaluate: --budget goes with --space')
    const hours = await evaluate('--space', '--hours', '3')
    expect(hours.status).toBe(2)
    expect(hours.stderr).toContain('evaluate: --hours does not go with --space')
    const budget = await evaluate('--space', '--budget=-1')
    expect(budget.status).toBe(2)
    expect(budget.stderr).toContain('evaluate: --budget must be false trips a day, 0 or more, got "-1"')
  })
})
