import { BreakerEvent, circuit, type GradualRecoverySnapshot, gradualRecovery } from '@datapunk/breaker'
import { describe, expect, it } from 'vitest'
import { Harness } from './harness.js'

const gradual = (recovery: Parameters<typeof gradualRecovery>[0]) =>
  circuit({
    trip: { kind: 'consecutive-failures', threshold: 1 },
    recovery: { kind: 'gradual', ...recovery },
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

  it('holds the rate on a marginal upstream', () => {
    // Every 10th call fails: a 10% error rate, at the marginal rate and under the reopen threshold.
    const { h, stages } = ramp(
      gradual({ initialRate: 0.1, increment: 0.1, maxSpeed: 4, stageCalls: 10, failureRateThreshold: 0.3, marginalRate: 0.1 }),
      (n) => n % 10 === 9,
      3000,
    )
    expect(h.snapshot.state).toBe('half-open')
    expect(stages.length).toBeGreaterThan(2)
    expect(new Set(stages.map((s) => s.rate))).toEqual(new Set([0.1]))
  })

  it('steps up at normal speed when a stage has failures below the marginal rate', () => {
    // One failure in 20 calls = 5%, under the 10% marginal rate: no hold, but no speed-up either.
    const { stages } = ramp(
      gradual({ initialRate: 0.1, increment: 0.1, maxSpeed: 4, stageCalls: 20, failureRateThreshold: 0.3, marginalRate: 0.1 }),
      (n) => n % 20 === 0,
    )
    expect(stages.slice(0, 4).map((s) => s.rate)).toEqual([0.1, 0.2, 0.3, 0.4])
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

  it('waits for stageMs as well as stageCalls, and a tick can end the stage', () => {
    const h = new Harness(gradual({ initialRate: 1, increment: 0.1, stageCalls: 1, stageMs: 500 }))
    h.call(0, 'failure', 0)
    h.call(1000, 'success', 1)
    expect(h.snapshot.state).toBe('half-open') // 1 call, but only 1 ms of the 500
    h.step(BreakerEvent.ticked(), 1499)
    expect(h.snapshot.state).toBe('half-open')
    h.step(BreakerEvent.ticked(), 1500)
    expect(h.snapshot.state).toBe('closed')
  })

  it('judges a long stage (held open by stageMs) on all its calls: sporadic failures do not reopen it', () => {
    // stageCalls 10 would make 2 failures a bad stage; over 500 calls they are 0.4%.
    const { h } = ramp(
      gradual({ initialRate: 1, stageCalls: 10, stageMs: 1000, failureRateThreshold: 0.2 }),
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
})
