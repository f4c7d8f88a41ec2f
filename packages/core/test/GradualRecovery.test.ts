import { BreakerEvent, circuit, type GradualRecoverySnapshot, gradualRecovery } from '@datapunk/breaker'
import { describe, expect, it } from 'vitest'
import { normalQuantile, wilsonBound } from '../src/statistics.js'
import { Harness } from './harness.js'

/** A circuit with gradual recovery; the ramp tests judge stages on calls alone, without probation, unless they say otherwise. */
const gradual = (recovery: Parameters<typeof gradualRecovery>[0]) =>
  circuit({
    trip: { kind: 'consecutive-failures', threshold: 1 },
    recovery: { kind: 'gradual', stageMs: 0, probationMs: 0, ...recovery },
    openFor: { kind: 'constant', ms: 1000 },
  })

interface Stage {
  rate: number
  requests: number
  admitted: number
}

/**
 * Trips the breaker, then sends one request per ms from openUntil on. Each admitted call settles
 * at once; `fails(n)` says whether the n-th admitted call fails. Records every stage's rate and
 * its requests and admissions, until the breaker closes or reopens or `limit` requests.
 */
const ramp = (strategy: ReturnType<typeof gradual>, fails: (n: number) => boolean, limit = 10_000) => {
  const h = new Harness(strategy)
  h.call(0, 'failure', 0)
  const stages: Stage[] = []
  let current: Stage | undefined
  let admittedCalls = 0
  for (let i = 0; i < limit; i++) {
    const now = 1000 + i
    const decision = h.request(now)
    const recovery = h.snapshot.recovery as GradualRecoverySnapshot | null
    if (recovery?.kind === 'gradual' && (current === undefined || recovery.stage.requests === 1)) {
      current = { rate: recovery.admitRate, requests: 0, admitted: 0 }
      stages.push(current)
    }
    if (current !== undefined) {
      current.requests++
      if (decision._tag === 'Admitted') current.admitted++
    }
    if (decision._tag === 'Admitted') {
      h.settle(decision, fails(admittedCalls++) ? 'failure' : 'success', now, 1)
    } else {
      expect(decision).toMatchObject({ _tag: 'Rejected', reason: 'throttled' })
    }
    if (h.snapshot.state !== 'half-open') break
  }
  return { h, stages }
}

describe('gradual recovery', () => {
  it('starts at 10% and steps 10% -> 100% on a clean upstream, then closes', () => {
    const { h, stages } = ramp(gradual({ initialRate: 0.1, increment: 0.1, maxSpeed: 1, stageCalls: 10 }), () => false)
    expect(stages.map((s) => s.rate)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1])
    expect(h.snapshot.state).toBe('closed')
    expect(h.snapshot.reason).toBe('recovered')
  })

  it("admits each stage's fraction of requests to within one request", () => {
    const { stages } = ramp(gradual({ initialRate: 0.1, increment: 0.1, maxSpeed: 1, stageCalls: 10 }), () => false)
    for (const stage of stages) {
      expect(Math.abs(stage.admitted - stage.rate * stage.requests)).toBeLessThanOrEqual(1)
    }
  })

  it('speeds up after clean stages (adaptive speed)', () => {
    const { h, stages } = ramp(gradual({ initialRate: 0.1, increment: 0.1, maxSpeed: 4, stageCalls: 10 }), () => false)
    expect(stages.map((s) => s.rate)).toEqual([0.1, 0.2, 0.4, 0.8, 1])
    expect(h.snapshot.state).toBe('closed')
  })

  it('ramps through errors that do not rise with the share (a partial recovery): they are the upstream’s own, not load’s', () => {
    // Every 10th call fails at every share: 10%, the marginal rate, under the reopen threshold.
    const { h, stages } = ramp(
      gradual({ initialRate: 0.1, increment: 0.1, maxSpeed: 4, stageCalls: 10, failureRateThreshold: 0.3, marginalRate: 0.1 }),
      (n) => n % 10 === 9,
      3000,
    )
    expect(stages.map((s) => s.rate).at(-1)).toBe(1)
    expect(h.snapshot.state).toBe('closed')
  })

  it('holds the share when errors rise with it (strain)', () => {
    // Healthy at 10%; from 20% on, every 3rd call fails (33%, a rise far beyond the 10% margin
    // and confidently so, but under the 50% reopen threshold).
    const h = new Harness(gradual({ initialRate: 0.1, increment: 0.1, maxSpeed: 1, stageCalls: 30, marginalRate: 0.1 }))
    h.call(0, 'failure', 0)
    const rates = new Set<number>()
    let n = 0
    for (let i = 0; i < 5_000; i++) {
      const d = h.request(1000 + i)
      rates.add(h.snapshot.admitRate)
      if (d._tag === 'Admitted') h.settle(d, h.snapshot.admitRate >= 0.2 && n++ % 3 === 2 ? 'failure' : 'success', 1000 + i, 1)
    }
    expect(h.snapshot.state).toBe('half-open')
    expect(Math.max(...rates)).toBeLessThanOrEqual(0.2)
    expect((h.snapshot.recovery as GradualRecoverySnapshot).ceiling).toBe(0.2)
  })

  it('a rise too small to be a strain, stage after stage, does not raise the baseline: the creep is caught', () => {
    // Errors creep up with the share, 3 points per 10% step (0% at 10%, 3% at 20%, ... 27% at
    // 100%): no stage rises the 10% margin over the one before it. Counting every healthy stage into
    // the baseline let it creep along (the upstream set its own bar) past 90%; stages whose errors
    // rose half the margin, confidently, stay out of it, so the strain shows at 60%.
    const h = new Harness(gradual({ initialRate: 0.1, increment: 0.1, maxSpeed: 1, stageCalls: 200, marginalRate: 0.1 }))
    h.call(0, 'failure', 0)
    const rates = new Set<number>()
    const calls = new Map<number, number>()
    for (let i = 0; i < 20_000; i++) {
      const d = h.request(1000 + i)
      const rate = Math.round(h.snapshot.admitRate * 10) / 10
      rates.add(rate)
      if (d._tag !== 'Admitted') continue
      const n = calls.get(rate) ?? 0
      calls.set(rate, n + 1)
      // At share r, 3 * (10 r - 1) failures in every 100 calls, spread evenly.
      const perHundred = Math.round(3 * (rate * 10 - 1))
      h.settle(d, n % 100 < perHundred ? 'failure' : 'success', 1000 + i, 1)
    }
    expect(h.snapshot.state).toBe('half-open')
    expect((h.snapshot.recovery as GradualRecoverySnapshot).ceiling).toBeLessThanOrEqual(0.6)
    expect(Math.max(...rates)).toBe(0.6)
  })

  it('speeds up once the upstream’s usual errors are its baseline: only a rise over it slows the ramp', () => {
    // One failure in 20 calls = 5% at every share. The first stage has no baseline: 5% is a rise
    // over half the 4% margin (no speed-up; one failure is no strain). From the second on, 5% is
    // the baseline: clean stages, and the speed doubles.
    const { stages } = ramp(
      gradual({ initialRate: 0.1, increment: 0.1, maxSpeed: 4, stageCalls: 20, failureRateThreshold: 0.3, marginalRate: 0.04 }),
      (n) => n % 20 === 0,
    )
    expect(stages.slice(0, 4).map((s) => s.rate)).toEqual([0.1, 0.2, 0.3, 0.5])
  })

  it('reopens on a bad upstream', () => {
    const { h, stages } = ramp(gradual({ initialRate: 0.1, stageCalls: 10, failureRateThreshold: 0.3 }), (n) => n % 2 === 0)
    expect(stages.map((s) => s.rate)).toEqual([0.1])
    expect(h.snapshot.state).toBe('open')
    expect(h.snapshot.reason).toBe('recovery-failed')
    expect(h.snapshot.trips).toBe(2)
  })

  it('rejects throttled requests with a retry-after from the stage request interval', () => {
    const h = new Harness(gradual({ initialRate: 0.25, stageCalls: 100 }))
    h.call(0, 'failure', 0)
    // First request of recovery is admitted at once; then 1 in 4.
    expect(h.request(1000)._tag).toBe('Admitted')
    expect(h.request(1010)).toEqual({ _tag: 'Rejected', reason: 'throttled', retryAfterMs: 30 })
    expect(h.request(1020)).toEqual({ _tag: 'Rejected', reason: 'throttled', retryAfterMs: 20 })
    expect(h.request(1030)).toEqual({ _tag: 'Rejected', reason: 'throttled', retryAfterMs: 10 })
    expect(h.request(1040)._tag).toBe('Admitted')
  })

  it('waits for stageMs as well as stageCalls after the first stage, and a tick can end the stage', () => {
    // confidence 0.5 asks for no evidence beyond stageCalls: one healthy call is a healthy stage.
    const h = new Harness(gradual({ initialRate: 0.5, increment: 0.5, stageCalls: 1, stageMs: 500, confidence: 0.5 }))
    h.call(0, 'failure', 0)
    h.call(1000, 'success', 1)
    // The first stage ends on its clean call, 1 ms in: the second (the whole share) begins at 1001.
    expect((h.snapshot.recovery as GradualRecoverySnapshot).admitRate).toBe(1)
    h.call(1002, 'success', 1)
    expect(h.snapshot.state).toBe('half-open') // 1 call, but only 2 ms of the 500
    h.step(BreakerEvent.ticked(), 1500)
    expect(h.snapshot.state).toBe('half-open')
    h.step(BreakerEvent.ticked(), 1501)
    expect(h.snapshot.state).toBe('closed')
  })

  it('ends the first stage before stageMs only once its outcomes are confidently clean', () => {
    // The defaults: 10 calls at least, and the upper bound of their error rate under 5% (half the strain margin).
    const strategy = gradual({ initialRate: 0.5, stageMs: 500 })
    const stageOf = (h: Harness<unknown>) => (h.snapshot.recovery as GradualRecoverySnapshot).stage
    const clean = new Harness(strategy)
    clean.call(0, 'failure', 0)
    let t = 1000
    for (; t < 1400; t++) {
      clean.call(t, 'success', 0)
      if ((clean.snapshot.recovery as GradualRecoverySnapshot).admitRate !== 0.5) break
    }
    // 0 failures of n: the 95% upper bound falls under 5% at n = 52 (two requests per call at 50%), 102 ms in.
    expect((clean.snapshot.recovery as GradualRecoverySnapshot).admitRate).toBe(0.6)
    expect(t).toBe(1102)
    // Two failures in the first stage: 2 of 100 is not confidently under 5% (its upper bound is 5.9%); it waits for stageMs.
    const erred = new Harness(strategy)
    erred.call(0, 'failure', 0)
    for (let i = 0; i < 200; i++) erred.call(1000 + i, i === 0 || i === 2 ? 'failure' : 'success', 0)
    expect((erred.snapshot.recovery as GradualRecoverySnapshot).admitRate).toBe(0.5)
    expect(stageOf(erred).calls).toBe(100)
    erred.step(BreakerEvent.ticked(), 1500)
    expect((erred.snapshot.recovery as GradualRecoverySnapshot).admitRate).toBeGreaterThan(0.5)
  })

  it('judges a long stage (held open by stageMs) on all its calls: sporadic failures do not reopen it', () => {
    // stageCalls 10 would make 2 failures a bad stage; over 500 calls they are 0.4%.
    // (A strain margin of 1% keeps this first stage from ending early on clean calls: see the next test.)
    const { h } = ramp(
      gradual({ initialRate: 1, stageCalls: 10, stageMs: 1000, failureRateThreshold: 0.2, marginalRate: 0.01 }),
      (n) => n === 300 || n === 400,
      600,
    )
    expect(h.snapshot.state).toBe('half-open')
    expect(h.snapshot.trips).toBe(1)
  })

  it('reports the ramp in the snapshot', () => {
    const h = new Harness(gradual({ initialRate: 0.1 }))
    h.call(0, 'failure', 0)
    h.request(1000)
    expect(h.snapshot.admitRate).toBe(0.1)
    expect(h.snapshot.recovery).toMatchObject({
      kind: 'gradual',
      admitRate: 0.1,
      speed: 1,
      inFlight: 1,
      stage: { requests: 1, admitted: 1 },
    })
  })

  it('refuses a marginal rate above the reopen threshold', () => {
    expect(() => gradualRecovery({ failureRateThreshold: 0.2, marginalRate: 0.3 })).toThrow(
      'marginalRate: expected at most failureRateThreshold (0.2), got 0.3',
    )
  })

  it('steps back to the last healthy share when the upstream strains, and holds below that share until it is healthy there', () => {
    // The upstream fails 1 call in 5 (20%, marginal) whenever 40% or more of traffic reaches it,
    // for its first 20,000 requests; then it copes with any share.
    const h = new Harness(
      gradual({ initialRate: 0.1, increment: 0.1, maxSpeed: 4, stageCalls: 20, failureRateThreshold: 0.3, marginalRate: 0.1 }),
    )
    h.call(0, 'failure', 0)
    const rates: number[] = []
    let strained = 0
    for (let i = 0; i < 40_000 && (i === 0 || h.snapshot.state === 'half-open'); i++) {
      const now = 1000 + i
      const decision = h.request(now)
      const rate = h.snapshot.admitRate
      if (rates.at(-1) !== rate) rates.push(rate)
      if (decision._tag !== 'Admitted') continue
      const fails = i < 20_000 && rate >= 0.4 && strained++ % 5 === 4
      h.settle(decision, fails ? 'failure' : 'success', now, 1)
    }
    // Slow start (0.1, 0.2, 0.4), strain at 0.4: back to 0.2, then +0.1 and by halves towards the
    // ceiling (0.35: the share the upstream sustains), then the ceiling itself, never past it.
    expect(rates.slice(0, 8)).toEqual([0.1, 0.2, 0.4, 0.2, 0.3, 0.35, 0.375, 0.4])
    const lifted = rates.findIndex((r) => r > 0.4)
    expect(lifted).toBeGreaterThan(0)
    const whileStrained = rates.slice(0, lifted)
    expect(Math.max(...whileStrained)).toBe(0.4)
    expect(whileStrained.length).toBeGreaterThan(8) // it kept retrying the ceiling
    // Once the strain is gone, a healthy stage at the ceiling lifts it and the ramp goes on to close,
    // starting over at speed 1 (one step past the ceiling, where it strained): not the speed the
    // clean stages under the ceiling built up.
    expect(rates[lifted]).toBeCloseTo(0.5, 9)
    expect(rates.at(-1)).toBe(1)
    expect(h.snapshot.state).toBe('closed')
  })

  it('reports the last healthy share and the ceiling', () => {
    const h = new Harness(gradual({ initialRate: 0.2, stageCalls: 20, failureRateThreshold: 0.5, marginalRate: 0.1 }))
    h.call(0, 'failure', 0)
    let t = 1000
    const stage = (fails: (n: number) => boolean) => {
      for (let n = 0; n < 20; t++) {
        const d = h.request(t)
        if (d._tag === 'Admitted') h.settle(d, fails(n++) ? 'failure' : 'success', t, 1)
      }
    }
    stage(() => false) // a healthy stage at 0.2: on to 0.3
    expect(h.snapshot.recovery).toMatchObject({ admitRate: 0.3, lastGoodRate: 0.2, ceiling: null, probationEnds: null })
    stage((n) => n % 4 === 3) // 25% at 0.3: strained, not bad
    expect(h.snapshot.recovery).toMatchObject({ admitRate: 0.2, lastGoodRate: 0.2, ceiling: 0.3, speed: 1 })
  })

  it('ends a stage on time where traffic is too slow for evidence (a time-based slow start)', () => {
    // One request every 2 s: a stage of 10 calls would take minutes at 25%; at stageMaxMs
    // (1,500 ms) a stage with no failures steps up whatever it has seen.
    const h = new Harness(gradual({ initialRate: 0.25, increment: 0.25, maxSpeed: 1, stageMs: 500, stageMaxMs: 1_500 }))
    h.call(0, 'failure', 0)
    const rates: number[] = []
    for (let t = 1_000; (t < 30_000 && h.snapshot.state === 'half-open') || t === 1_000; t += 2_000) {
      const d = h.request(t)
      rates.push(h.snapshot.admitRate)
      if (d._tag === 'Admitted') h.settle(d, 'success', t + 1, 1)
    }
    expect(rates.slice(0, 4)).toEqual([0.25, 0.5, 0.75, 1])
    expect(h.snapshot.state).toBe('closed')
  })

  it('does not hold a share for good on errors that hover at the threshold: past stageMaxMs, a stage with its stageCalls that did not reopen steps up', () => {
    // The first stage errs 45% of the time (the baseline), the next 50%: not a strain (under the
    // baseline plus marginalRate), not a relapse (weighed with the baseline it stays under 50%),
    // and its rate is not under the threshold either. Such a stage used to collect outcomes for as
    // long as the errors hovered there, holding the upstream at its share.
    const h = new Harness(gradual({ initialRate: 0.5, increment: 0.1, maxSpeed: 1, stageCalls: 20, stageMaxMs: 200 }))
    h.call(0, 'failure', 0)
    const rates = new Set<number>()
    let first = 0
    let second = 0
    for (let t = 1_000; t === 1_000 || (t < 3_000 && h.snapshot.state === 'half-open'); t++) {
      const d = h.request(t)
      const rate = h.snapshot.admitRate
      rates.add(rate)
      if (d._tag !== 'Admitted') continue
      // 45% of the calls fail, spread evenly; then every other one, the first of each pair (so
      // that the stage's rate never drops under 50%).
      const fails = rate === 0.5 ? Math.floor((first + 1) * 0.45) > Math.floor(first++ * 0.45) : second++ % 2 === 0
      h.settle(d, fails ? 'failure' : 'success', t, 0)
    }
    expect([...rates].slice(0, 3)).toEqual([0.5, 0.6, 0.7])
  })

  it('takes a stage time limit of 1.5 s, or stageMs if longer; a limit set below stageMs is refused by name', () => {
    expect(gradualRecovery().config).toMatchObject({ stageMs: 500, stageMaxMs: 1_500 })
    expect(gradualRecovery({ stageMs: 10_000 }).config).toMatchObject({ stageMs: 10_000, stageMaxMs: 10_000 })
    expect(() => gradualRecovery({ stageMs: 2_000, stageMaxMs: 1_000 })).toThrow('stageMaxMs: expected at least stageMs (2000), got 1000')
  })

  it('does not remember a break above the first share when the upstream erred all along (its baseline over the margin)', () => {
    // 30% errors at every share: the ramp passes 25% (its baseline is 30%) and reopens higher on
    // a bad run. The next recovery starts afresh: no ceiling, no hold.
    const h = new Harness(gradual({ initialRate: 0.25, stageCalls: 10 }))
    h.call(0, 'failure', 0)
    let n = 0
    let t = 1_000
    for (; (t < 200_000 && h.snapshot.state === 'half-open') || t === 1_000; t++) {
      const d = h.request(t)
      const rate = h.snapshot.admitRate
      if (d._tag === 'Admitted') h.settle(d, rate > 0.25 ? 'failure' : n++ % 10 < 3 ? 'failure' : 'success', t, 1)
    }
    expect(h.snapshot).toMatchObject({ state: 'open', reason: 'recovery-failed' })
    h.request(t + 2_000)
    expect(h.snapshot.recovery).toMatchObject({ ceiling: null, holdUntil: null })
  })

  it('reopens a stage judged on time whose few outcomes confidently fail, where it used to step back stage after stage (a collapse at a few requests a second)', () => {
    // 4 requests a second: a stage of 1.5 s sees 3 to 5 outcomes, under stageCalls. The upstream
    // fails every call once the share reaches 0.9.
    const h = new Harness(gradual({ initialRate: 0.5, increment: 0.2, maxSpeed: 1, stageCalls: 10, stageMs: 500, stageMaxMs: 1500 }))
    h.call(0, 'failure', 0)
    let failingSince: number | undefined
    let reopenedAt: number | undefined
    for (let now = 1000; now < 60_000 && reopenedAt === undefined; now += 250) {
      const d = h.request(now)
      if (failingSince === undefined && h.snapshot.state === 'half-open' && h.snapshot.admitRate >= 0.9) failingSince = now
      if (d._tag === 'Admitted') h.settle(d, failingSince === undefined ? 'success' : 'failure', now, 1)
      if (failingSince !== undefined && h.snapshot.state === 'open') reopenedAt = now
    }
    expect(failingSince).toBeDefined()
    expect((reopenedAt ?? Number.POSITIVE_INFINITY) - (failingSince ?? 0)).toBeLessThanOrEqual(3000)
  })

  it('reopens after three failed probes when the upstream is still down', () => {
    const h = new Harness(gradual({ initialRate: 0.1 }))
    h.call(0, 'failure', 0)
    let probes = 0
    for (let i = 0; i < 1000 && (i === 0 || h.snapshot.state === 'half-open'); i++) {
      const d = h.request(1000 + i)
      if (d._tag === 'Admitted') {
        probes++
        h.settle(d, 'failure', 1000 + i, 1)
      }
    }
    expect(h.snapshot).toMatchObject({ state: 'open', reason: 'recovery-failed' })
    expect(probes).toBe(3)
  })

  it('does not end a stage on too little evidence: a clean stage needs calls enough for a confident verdict', () => {
    // stageCalls 5, threshold 0.2: 0 failures of 5 leaves a 95% upper bound of 35%; 11 clean calls bring it under 20%.
    const calls = (confidence: number) => {
      const { stages } = ramp(gradual({ initialRate: 1, stageCalls: 5, failureRateThreshold: 0.2, confidence }), () => false)
      return stages[0]?.admitted
    }
    expect(calls(0.95)).toBe(11)
    expect(calls(0.5)).toBe(5)
    expect(wilsonBound(0, 10, normalQuantile(0.95), 1)).toBeGreaterThan(0.2)
    expect(wilsonBound(0, 11, normalQuantile(0.95), 1)).toBeLessThan(0.2)
  })

  it('keeps watching at full traffic for probationMs: a relapse reopens at once, stray errors do not, and it closes after', () => {
    const probation = () =>
      new Harness(
        gradual({ initialRate: 1, stageCalls: 20, stageMs: 0, probationMs: 10_000, probationCalls: 100, failureRateThreshold: 0.2 }),
      )
    // A clean upstream: every request admitted, half-open until the first healthy stage after 10 s.
    const clean = probation()
    clean.call(0, 'failure', 0)
    let closedAt = -1
    for (let t = 1000; t < 20_000 && closedAt < 0; t += 10) {
      expect(clean.call(t, 'success')._tag).toBe('Admitted')
      if (clean.snapshot.state === 'closed') closedAt = t
      else expect(clean.snapshot).toMatchObject({ state: 'half-open', admitRate: 1, recovery: { probationEnds: 11_000 } })
    }
    expect(closedAt).toBeGreaterThanOrEqual(11_000)
    expect(closedAt).toBeLessThan(12_000)

    // One error in 25 calls (4%) at full traffic: no reopen, and the circuit still closes.
    const noisy = probation()
    noisy.call(0, 'failure', 0)
    for (let t = 1000, n = 0; t < 20_000 && (t === 1000 || noisy.snapshot.state === 'half-open'); t += 10)
      noisy.call(t, n++ % 25 === 24 ? 'failure' : 'success')
    expect(noisy.snapshot).toMatchObject({ state: 'closed', trips: 0 })

    // A relapse 5 s into probation: reopened within 20 failures, long before the closed detector would have seen it.
    const relapse = probation()
    relapse.call(0, 'failure', 0)
    let failed = 0
    for (let t = 1000; t < 20_000 && (t === 1000 || relapse.snapshot.state === 'half-open'); t += 10) {
      const down = t >= 6000
      if (relapse.call(t, down ? 'failure' : 'success')._tag === 'Admitted' && down) failed++
    }
    expect(relapse.snapshot).toMatchObject({ state: 'open', reason: 'recovery-failed' })
    expect(failed).toBeLessThanOrEqual(20)
  })

  it('keeps the ramp state through its codec, and refuses shares over 1', () => {
    const strategy = gradual({ initialRate: 0.2, stageCalls: 10, marginalRate: 0.1, failureRateThreshold: 0.5, confidence: 0.5 })
    const h = new Harness(strategy)
    h.call(0, 'failure', 0)
    for (let i = 0, n = 0; n < 10; i++) if (h.call(1000 + i, 'success')._tag === 'Admitted') n++
    expect(h.snapshot.recovery).toMatchObject({ admitRate: 0.3, lastGoodRate: 0.2 })
    const encoded = strategy.codec.encode(h.state) as { recovery: Record<string, unknown> }
    const decoded = strategy.codec.decode(encoded)
    expect(decoded._tag).toBe('Right')
    expect(strategy.codec.decode({ ...encoded, recovery: { ...encoded.recovery, ceilingPpm: 1_000_001 } })._tag).toBe('Left')
  })

  it('computes normal quantiles and Wilson bounds', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9)
    expect(normalQuantile(0.95)).toBeCloseTo(1.644854, 5)
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5)
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232, 5)
    expect(wilsonBound(0, 0, 1.96, 1)).toBe(1)
    expect(wilsonBound(0, 0, 1.96, -1)).toBe(0)
    expect(wilsonBound(5, 10, 1.96, -1)).toBeCloseTo(0.2366, 3)
    expect(wilsonBound(5, 10, 1.96, 1)).toBeCloseTo(0.7634, 3)
    expect(wilsonBound(10, 10, 1.96, 1)).toBe(1)
  })

  describe('memory of a failed recovery', () => {
    /** The recovery of these tests: stages of 10 calls judged on their error rate alone. */
    const cliffRecovery = (holdMs: number) =>
      ({
        initialRate: 0.1,
        increment: 0.1,
        maxSpeed: 4,
        stageCalls: 10,
        failureRateThreshold: 0.3,
        marginalRate: 0.1,
        confidence: 0.5,
        holdMs,
      }) as const
    const cliff = (holdMs: number) => gradual(cliffRecovery(holdMs))

    /** A request per ms from 1 s on; the upstream fails every call while 80% or more of traffic reaches it, until `cliffUntil`. */
    const run = (h: Harness<unknown>, cliffUntil: number, until: number) => {
      const shares: Array<{ at: number; share: number; state: string }> = []
      let breaks = 0
      for (let now = 1000; now < until; now++) {
        const decision = h.request(now)
        const snap = h.snapshot
        if (shares.at(-1)?.share !== snap.admitRate || shares.at(-1)?.state !== snap.state)
          shares.push({ at: now, share: snap.admitRate, state: snap.state })
        if (decision._tag !== 'Admitted') continue
        const broken = now < cliffUntil && snap.admitRate >= 0.8
        const before = h.snapshot.state
        h.settle(decision, broken ? 'failure' : 'success', now, 1)
        if (before === 'half-open' && h.snapshot.state === 'open' && broken) breaks++
      }
      return { shares, breaks }
    }

    it('holds the next recovery below the share last healthy before the failure (by half the step that broke it), for holdMs, then climbs on', () => {
      const h = new Harness(cliff(5000))
      h.call(0, 'failure', 0)
      // The cliff lasts until 5 s: past the second ramp's arrival at its ceiling, not past its hold.
      const { shares, breaks } = run(h as Harness<unknown>, 5000, 30_000)
      expect(breaks).toBe(1) // the cliff breaks the first ramp at 0.8, and only that one
      const reopened = shares.find((s) => s.state === 'open' && s.at > 1000)?.at ?? Number.NaN
      const second = shares.filter((s) => s.at > reopened && s.state === 'half-open')
      const held = second.filter((s) => s.at < reopened + 1000 + 5000)
      // Healthy at 0.4, broken at 0.8: the ceiling is 0.4 - (0.8 - 0.4) / 2.
      expect(Math.max(...held.map((s) => s.share))).toBe(0.2)
      expect(h.snapshot.state).toBe('closed')
    })

    /**
     * A request per ms from 1 s on; every call fails for 2 s from `failAfter` ms after the ramp first
     * reached the full share. Returns the highest share the recovery after that break reached
     * within 8 s of the break's end, and the ceiling it reported.
     */
    const probationBreak = (failAfter: number) => {
      const h = new Harness(gradual({ ...cliffRecovery(20_000), probationMs: 10_000, probationCalls: 10 }))
      h.call(0, 'failure', 0)
      let fullAt: number | undefined
      let highest = 0
      const ceilings = new Set<number | null>()
      for (let now = 1000; now < 30_000; now++) {
        const d = h.request(now)
        const snap = h.snapshot
        const recovery = snap.recovery as GradualRecoverySnapshot | null
        if (fullAt === undefined && snap.state === 'half-open' && snap.admitRate >= 1) fullAt = now
        const breakEnds = fullAt === undefined ? Number.POSITIVE_INFINITY : fullAt + failAfter + 2000
        if (snap.state === 'half-open' && recovery !== null && now >= breakEnds && now < breakEnds + 8000) {
          highest = Math.max(highest, snap.admitRate)
          ceilings.add(recovery.ceiling)
        }
        if (d._tag === 'Admitted')
          h.settle(d, fullAt !== undefined && now >= fullAt + failAfter && now < breakEnds ? 'failure' : 'success', now, 1)
      }
      return { highest, ceilings: [...ceilings] }
    }

    it('remembers a relapse that comes within 5 s of the full share (a capacity just under it), below the share last healthy', () => {
      // At once: 0.8 was the last healthy share, the break at 1 is a step of 0.2, so 0.8 - 0.1.
      expect(probationBreak(0)).toEqual({ highest: 0.7, ceilings: [0.7] })
      // After healthy stages in probation: the full share was healthy, the break is taken as a step's (0.9 - 0.05).
      // 4 s in, the circuit reopens within 5 s of the full share, and turns half-open again after it.
      expect(probationBreak(4000)).toEqual({ highest: 0.85, ceilings: [0.85] })
    })

    it('takes a relapse later in probation for a new fault: the next recovery climbs to the full share', () => {
      expect(probationBreak(6000)).toMatchObject({ highest: 1, ceilings: [null] })
    })

    it('reports the remembered ceiling and when its hold ends', () => {
      const h = new Harness(cliff(5000))
      h.call(0, 'failure', 0)
      let seen: GradualRecoverySnapshot | undefined
      for (let now = 1000; now < 4000 && seen === undefined; now++) {
        const d = h.request(now)
        const snap = h.snapshot.recovery as GradualRecoverySnapshot | null
        if (snap?.holdUntil != null) seen = snap
        if (d._tag === 'Admitted') h.settle(d, h.snapshot.admitRate >= 0.8 ? 'failure' : 'success', now, 1)
      }
      expect(seen).toMatchObject({ admitRate: 0.2, ceiling: 0.2 })
      expect(seen?.holdUntil).toBeGreaterThan(2000)
    })

    /**
     * A surge: a request per ms from 1 s on, and the upstream fails every call while 80% or more of
     * it gets through, which breaks the first ramp at 0.8. From the reopen on, the surge is over
     * when `over` says so (a request every 10 ms), until `returnsAfter` ms after the reopen. Returns the highest share of the recovery after
     * the break, and when the circuit closed, within 15 s of the break (the hold is 20 s).
     */
    const surge = (over: boolean, returnsAfter = Number.POSITIVE_INFINITY) => {
      const h = new Harness(gradual({ ...cliffRecovery(20_000), stageCalls: 60 }))
      h.call(0, 'failure', 0)
      let reopened: number | undefined
      let closedAt: number | undefined
      const shares = new Set<number>()
      /** The shares of half-open after the surge came back, past its first reopen there. */
      const again = new Set<number>()
      let relapsed = false
      // Until 15 s after the break: within the 20 s hold.
      for (let now = 1000; now < (reopened ?? 15_000) + 15_000 && closedAt === undefined; now++) {
        const surging = reopened === undefined || now >= reopened + returnsAfter
        if (over && !surging && now % 10 !== 0) continue
        const d = h.request(now)
        const state = h.snapshot.state
        if (reopened !== undefined && state === 'half-open') (relapsed ? again : shares).add(h.snapshot.admitRate)
        if (d._tag === 'Admitted') {
          h.settle(d, surging && h.snapshot.admitRate >= 0.8 ? 'failure' : 'success', now, 1)
          if (reopened === undefined && h.snapshot.state === 'open') reopened = now
          else if (reopened !== undefined && h.snapshot.state === 'open') relapsed = true
        }
        if (reopened !== undefined && h.snapshot.state === 'closed') closedAt = now
      }
      return { reopened: reopened ?? Number.NaN, closedAt, highest: Math.max(...shares), again: Math.max(...again) }
    }

    it('admits all the traffic under a remembered ceiling once it is a rate the upstream carried healthy (a surge that broke it is over)', () => {
      // Healthy at 0.4 of 1,000 requests a second: ~400 calls a second carried. 100 offered: all of it fits.
      const ended = surge(true)
      expect(ended.highest).toBe(1)
      // Still within the hold: the memory stays, in case the traffic grows past that rate again.
      expect(ended.closedAt).toBeUndefined()
      // And it does, 8 s after the break, and breaks the upstream at the full share again: the
      // recovery after that holds at the share remembered.
      const back = surge(true, 8_000)
      expect(back.highest).toBe(1)
      expect(back.again).toBe(0.2)
      // The surge going on, the share remembered holds for the hold (0.4 - (0.8 - 0.4) / 2).
      const going = surge(false)
      expect(going.highest).toBe(0.2)
      expect(going.closedAt).toBeUndefined()
    })

    it('without memory (holdMs 0) breaks the same way again', () => {
      const h = new Harness(cliff(0))
      h.call(0, 'failure', 0)
      expect(run(h as Harness<unknown>, 9000, 30_000).breaks).toBeGreaterThan(1)
    })

    it('passes the memory through recoveries that fail at their first share, and forgets it on close', () => {
      const h = new Harness(cliff(60_000))
      h.call(0, 'failure', 0)
      // Ramp to 0.8 and break there.
      let now = 1000
      for (; now < 3000 && !(h.snapshot.state === 'open' && now > 1000); now++) {
        const d = h.request(now)
        if (d._tag === 'Admitted') h.settle(d, h.snapshot.admitRate >= 0.8 ? 'failure' : 'success', now, 1)
      }
      // Two recoveries fail at once (the upstream is down), each on its first probes.
      for (let i = 0; i < 2; i++) {
        now += 1000
        for (let k = 0; k < 100 && (k === 0 || h.snapshot.state !== 'open'); k++, now++) {
          const d = h.request(now)
          if (d._tag === 'Admitted') h.settle(d, 'failure', now, 1)
        }
        expect(h.snapshot.state).toBe('open')
      }
      now += 1000
      h.request(now)
      expect(h.snapshot.recovery).toMatchObject({ ceiling: 0.2 })
      // The memory survives a round trip through the codec while open.
      const strategy = h.strategy
      const restored = strategy.codec.decode(JSON.parse(JSON.stringify(strategy.codec.encode(h.state))))
      expect(restored._tag).toBe('Right')
      // Close by hand, trip again: a fresh recovery, no ceiling.
      h.step(BreakerEvent.close(), now)
      h.call(now + 1, 'failure', 0)
      h.request(now + 1002)
      expect(h.snapshot.recovery).toMatchObject({ ceiling: null, holdUntil: null })
    })

    it('is kept over a swap to the same recovery policy and dropped by any other; a classic circuit never holds one', () => {
      const h = new Harness(cliff(60_000))
      h.call(0, 'failure', 0)
      for (let now = 1000; now < 3000 && !(h.snapshot.state === 'open' && now > 1001); now++) {
        const d = h.request(now)
        if (d._tag === 'Admitted') h.settle(d, h.snapshot.admitRate >= 0.8 ? 'failure' : 'success', now, 1)
      }
      expect(h.snapshot.state).toBe('open')
      const encoded = h.strategy.codec.encode(h.state) as { recovery: unknown }
      expect(encoded.recovery).not.toBeNull()
      const sameRecovery = circuit({
        trip: { kind: 'consecutive-failures', threshold: 2 },
        recovery: {
          kind: 'gradual',
          stageMs: 0,
          probationMs: 0,
          ...cliffRecovery(60_000),
        },
        openFor: { kind: 'constant', ms: 1000 },
      })
      const kept = new Harness(h.strategy)
      kept.state = h.state
      kept.swap(sameRecovery, 3000)
      expect((sameRecovery.codec.encode(kept.state) as { recovery: unknown }).recovery).not.toBeNull()
      const classic = circuit({
        trip: { kind: 'consecutive-failures', threshold: 1 },
        recovery: { kind: 'classic', probes: 1 },
        openFor: { kind: 'constant', ms: 1000 },
      })
      const dropped = new Harness(h.strategy)
      dropped.state = h.state
      dropped.swap(classic, 3000)
      const classicState = classic.codec.encode(dropped.state) as { recovery: unknown }
      expect(classicState.recovery).toBeNull()
      expect(
        classic.codec.decode({ ...classicState, recovery: { kind: 'classic', permits: 1, admitted: 0, failures: 0, inFlight: 0 } })._tag,
      ).toBe('Left')
    })
  })
})
