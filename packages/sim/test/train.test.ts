import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fromConfig, learnedPredictor } from '@datapunk/breaker'
import { scenarios, traceExamples, trainPredictor } from '@datapunk/breaker-sim'
import { describe, expect, it } from 'vitest'
import { breakerSim } from './cliRun.js'

const brownout = scenarios.brownout
const noisy = scenarios['noisy-but-healthy']
if (brownout === undefined || noisy === undefined) throw new Error('missing scenarios')

describe('training the learned predictor', () => {
  it('is deterministic: the same scenarios, seeds and horizon give the same weights', () => {
    const options = { scenarios: [brownout, noisy], seeds: [1, 2], horizonMs: 30_000, epochs: 300 }
    expect(trainPredictor(options)).toEqual(trainPredictor(options))
  })

  it('learns that failures ahead come with failures now, and fits its data', () => {
    const trained = trainPredictor({ scenarios: [brownout, noisy], seeds: [1, 2, 3], horizonMs: 30_000 })
    expect(trained.examples).toBeGreaterThan(1000)
    expect(trained.positives).toBeGreaterThan(50)
    expect(trained.model.weights.failureRate).toBeGreaterThan(1)
    // Next to what answering "no" to every bucket scores, with the precision and recall it is judged by.
    expect(trained.alwaysNoAccuracy).toBeCloseTo((trained.examples - trained.positives) / trained.examples, 12)
    for (const share of [trained.precision, trained.recall]) {
      expect(share).not.toBeNull()
      expect(share).toBeGreaterThan(0.5)
      expect(share).toBeLessThanOrEqual(1)
    }
    // Weighing the rare positive buckets as much as the negatives flags more of them at 0.5 than not weighing.
    const weighed = trainPredictor({ scenarios: [brownout, noisy], seeds: [1, 2, 3], horizonMs: 30_000, balance: true })
    expect(weighed.recall ?? 0).toBeGreaterThan(trained.recall ?? 1)
    // The model, as a detector, trips on a brown-out's climb and not on healthy traffic.
    const detector = learnedPredictor({ model: trained.model })
    let s = detector.initial(0)
    for (let ms = 0; ms < 60_000; ms += 5) s = detector.record(s, (ms / 5) % 500 === 0, 40, ms)
    expect(detector.tripped(s)).toBe(false)
    for (let ms = 60_000; ms < 120_000 && !detector.tripped(s); ms += 5) s = detector.record(s, (ms / 5) % 10 < 6, 400, ms)
    expect(detector.tripped(s)).toBe(true)
  })

  it('writes a complete config from the command line (the threshold and the model beside it) that fromConfig reads', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'train-')), 'model.json')
    const result = await breakerSim('train', '--scenarios', 'brownout', '--seeds', '1..2', '--threshold', '0.4', '--out', out)
    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout).toMatch(
      /^trained on \d+ buckets \(\d+ positive\) of brownout, seeds 1\.\.2, horizon 30000 ms\n {2}on them: \d+\.\d% right, where answering "no" to every bucket is \d+\.\d% right;\n {2}precision (\d+\.\d%|-) \(flagged buckets followed by failure\), recall (\d+\.\d%|-) \(such buckets flagged\)\n/,
    )
    const config = JSON.parse(readFileSync(out, 'utf8'))
    expect(config.trip.detectors.map((d: { kind: string }) => d.kind)).toEqual(['failure-rate', 'learned'])
    expect(config.trip.detectors[0].threshold).toBe(0.4)
    expect(fromConfig(config)._tag).toBe('Right')
    const bad = await breakerSim('train', '--scenarios', 'nope')
    expect(bad.status).toBe(2)
    expect(bad.stderr).toContain('train: unknown scenario "nope"')
    const badThreshold = await breakerSim('train', '--scenarios', 'brownout', '--threshold', '2')
    expect(badThreshold.status).toBe(2)
    expect(badThreshold.stderr).toContain('train: --threshold must be a failure rate in (0, 1], got "2"')
  })

  /** 100 calls a second for 90 s; from 50 s on, a failure share rising 5 points a second. */
  const recorded = (): Array<readonly [number, boolean, number]> => {
    const out: Array<readonly [number, boolean, number]> = []
    for (let ms = 0; ms < 90_000; ms += 10) {
      const share = ms < 50_000 ? 0.01 : Math.min(1, 0.01 + 0.05 * Math.floor((ms - 50_000) / 1000))
      out.push([ms, (ms / 10) % 100 < share * 100, 40 + (ms >= 50_000 ? (ms - 50_000) / 100 : 0)])
    }
    return out
  }

  it('labels recorded outcomes by what followed them', () => {
    const examples = traceExamples(recorded(), 10_000)
    // Buckets end at 11 s .. 90 s (the first 10 are the warm-up); the share passes 50% at 60 s, so
    // buckets ending from ~50 s on see a failing horizon.
    expect(examples.length).toBeGreaterThan(70)
    const positives = examples.filter(([, y]) => y === 1).length
    expect(positives).toBeGreaterThan(25)
    expect(positives).toBeLessThan(50)
    expect(examples[0]?.[1]).toBe(0)
    expect(examples.at(-1)?.[1]).toBe(0) // nothing recorded after the end: no evidence either way
  })

  it('trains on cells of the scenario space, one incident kind held out', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'train-cells-')), 'model.json')
    const cells = 'error-ramp@20,outage@20,noise-background-1@20'
    const result = await breakerSim('train', '--cells', cells, '--hold-out', 'outage', '--seeds', '1..1', '--out', out)
    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout).toContain(`of 2 cells of the scenario space (${cells}, without outage), seeds 1..1`)
    expect(fromConfig(JSON.parse(readFileSync(out, 'utf8')))._tag).toBe('Right')
    const unknown = await breakerSim('train', '--cells', cells, '--hold-out', 'meteor')
    expect(unknown.status).toBe(2)
    expect(unknown.stderr).toContain('train: --hold-out: no incident kind "meteor" among the cells (they hold outage, error ramp)')
    const alone = await breakerSim('train', '--hold-out', 'outage')
    expect(alone.status).toBe(2)
    expect(alone.stderr).toContain('train: --hold-out goes with --cells')
  })

  it('trains from a recorded trace on the command line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'train-trace-'))
    const trace = join(dir, 'calls.jsonl')
    const lines = recorded().map(([at, failed, latencyMs], i) =>
      JSON.stringify({
        _tag: failed ? 'CallFailed' : 'CallSucceeded',
        breaker: 'live',
        at,
        call: i + 1,
        latencyMs,
        ...(failed ? { timedOut: false } : {}),
      }),
    )
    writeFileSync(trace, `${lines.join('\n')}\n`)
    const out = join(dir, 'model.json')
    const result = await breakerSim('train', '--trace', trace, '--horizon-ms', '10000', '--out', out)
    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout).toContain(`of ${trace}, horizon 10000 ms`)
    const config = JSON.parse(readFileSync(out, 'utf8'))
    // A complete config: the threshold, and the model beside it.
    const [threshold, learned] = config.trip.detectors
    expect(threshold).toMatchObject({ kind: 'failure-rate', threshold: 0.5 })
    expect(learned.model.weights.failureRate).toBeGreaterThan(0)
    expect(fromConfig(config)._tag).toBe('Right')
  })
})
