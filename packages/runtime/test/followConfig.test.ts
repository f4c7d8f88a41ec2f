import { circuit } from '@datapunk/breaker'
import { createBreaker, followConfig, type MetricEvent } from '@datapunk/breaker-runtime'
import { Subject, VirtualTimeScheduler } from 'rxjs'
import { describe, expect, it } from 'vitest'

describe('followConfig (hot reconfiguration)', () => {
  const setup = () => {
    const scheduler = new VirtualTimeScheduler()
    let now = 0
    scheduler.now = () => now
    const breaker = createBreaker(
      circuit({ name: 'v1', trip: { kind: 'consecutive-failures', threshold: 1 }, openFor: { kind: 'constant', ms: 1000 } }),
      { name: 'payments', clock: scheduler },
    )
    const events: MetricEvent[] = []
    breaker.transitions$.subscribe((e) => events.push(e))
    const configs = new Subject<unknown>()
    followConfig(breaker, configs)
    const ticket = breaker.request()
    if (ticket._tag === 'Admitted') breaker.failed(ticket, 1)
    now = 100
    return { breaker, events, configs }
  }

  it('swaps a valid config in without losing the open phase', () => {
    const { breaker, events, configs } = setup()
    configs.next({
      name: 'v2',
      trip: { kind: 'failure-rate', threshold: 0.5, window: { kind: 'count', size: 10 } },
      recovery: { kind: 'gradual' },
    })
    expect(breaker.strategy.name).toBe('v2')
    expect(breaker.snapshot()).toMatchObject({ state: 'open', openUntil: 1000 })
    expect(events.at(-1)).toEqual({ _tag: 'ConfigSwapped', breaker: 'payments', at: 100, strategy: 'v2' })
  })

  it('takes an adaptive throttle config (a throttle around a circuit) as well, keeping the open phase', () => {
    const { breaker, events, configs } = setup()
    configs.next({
      kind: 'adaptive-throttle',
      successRateThreshold: 0.8,
      circuit: { name: 'v3', trip: { kind: 'consecutive-failures', threshold: 2 } },
    })
    expect(breaker.strategy.name).toBe('v3')
    expect(breaker.snapshot()).toMatchObject({ state: 'open', openUntil: 1000 })
    expect(breaker.snapshot().detectors.at(-1)).toMatchObject({ kind: 'adaptive-throttle' })
    expect(events.at(-1)).toMatchObject({ _tag: 'ConfigSwapped', strategy: 'v3' })
    configs.next({
      kind: 'adaptive-throttle',
      maxRejectionProbability: 2,
      circuit: { trip: { kind: 'consecutive-failures', threshold: 2 } },
    })
    expect(events.at(-1)).toMatchObject({
      _tag: 'ConfigRejected',
      message: 'maxRejectionProbability: expected a probability in [0, 1], got 2',
    })
  })

  it('rejects an invalid one with its readable message and changes nothing', () => {
    const { breaker, events, configs } = setup()
    const before = breaker.state
    configs.next({ trip: { kind: 'consecutive-failures', threshold: 0 }, recovery: { kind: 'gradual', initialRate: 2 } })
    expect(breaker.state).toBe(before)
    expect(breaker.strategy.name).toBe('v1')
    expect(events.at(-1)).toEqual({
      _tag: 'ConfigRejected',
      breaker: 'payments',
      at: 100,
      message: 'trip.threshold: expected an integer >= 1, got 0\nrecovery.initialRate: expected a ratio in (0, 1], got 2',
    })
  })

  it('reports a failing config stream and keeps the strategy', () => {
    const { breaker, events, configs } = setup()
    configs.error(new Error('watch lost'))
    expect(breaker.strategy.name).toBe('v1')
    expect(events.at(-1)).toMatchObject({ _tag: 'ConfigRejected', message: 'config stream failed: watch lost' })
  })
})
