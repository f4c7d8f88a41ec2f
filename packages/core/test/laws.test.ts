import {
  adaptiveThrottle,
  anyOf,
  changePoint,
  circuit,
  consecutiveFailures,
  cusum,
  type Detector,
  failureCount,
  failureRate,
  slowCallRate,
  trendForecast,
} from '@datapunk/breaker'
import { checkDetectorLaws, checkStrategyLaws } from '@datapunk/breaker/testing'
import { describe, expect, it } from 'vitest'

// The library's own property suites run 10,000 sequences per family; these public laws are the
// users' entry point, run here on every built-in part with fewer sequences to stay fast.
const quick = { numRuns: 60 }

describe('@datapunk/breaker/testing: the laws users run on their parts', () => {
  const detectors: Record<string, Detector<unknown>> = {
    'consecutive-failures': consecutiveFailures({ threshold: 3 }) as Detector<unknown>,
    'failure-count': failureCount({ threshold: 5, window: { kind: 'time', durationMs: 10_000, buckets: 10 } }) as Detector<unknown>,
    'failure-rate': failureRate({ threshold: 0.5, minimumCalls: 5, window: { kind: 'count', size: 20 } }) as Detector<unknown>,
    'slow-call-rate': slowCallRate({
      threshold: 0.5,
      slowCallMs: 500,
      minimumCalls: 5,
      window: { kind: 'time', durationMs: 5_000, buckets: 5 },
    }) as Detector<unknown>,
    'change-point': changePoint({ signal: 'failure' }) as Detector<unknown>,
    'trend-forecast': trendForecast({}) as Detector<unknown>,
    cusum: cusum({ signal: 'latency', bucketMs: 10, baselineMs: 1_000 }) as Detector<unknown>,
    'any-of': anyOf([
      consecutiveFailures({ threshold: 2 }),
      failureCount({ threshold: 3, window: { kind: 'count', size: 10 } }),
    ]) as Detector<unknown>,
  }
  for (const [kind, detector] of Object.entries(detectors)) {
    it(`every built-in detector keeps them: ${kind}`, () => checkDetectorLaws(detector, quick))
  }

  it('every built-in strategy keeps them: circuits with classic and gradual recovery, and the adaptive throttle', () => {
    checkStrategyLaws(circuit({ trip: { kind: 'consecutive-failures', threshold: 2 }, openFor: { kind: 'constant', ms: 1_000 } }), quick)
    checkStrategyLaws(
      circuit({
        trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 4, window: { kind: 'count', size: 10 } },
        recovery: { kind: 'gradual' },
        openFor: { kind: 'exponential', initialMs: 100, maxMs: 10_000 },
      }),
      quick,
    )
    checkStrategyLaws(adaptiveThrottle(circuit({ trip: { kind: 'consecutive-failures', threshold: 3 } }), {}), quick)
  })

  it('they fail a detector that breaks one, naming the law', () => {
    const base = consecutiveFailures({ threshold: 3 })
    // Reports a failure rate above 1 once it has seen a failure.
    const overRate: Detector<unknown> = {
      ...(base as Detector<unknown>),
      measure: (s) => base.measure(s as never).map((d) => ({ ...d, failureRate: (d.consecutiveFailures ?? 0) > 0 ? 1.5 : 0 })),
    }
    expect(() => checkDetectorLaws(overRate, quick)).toThrow(/rates stay in \[0, 1\] or null/)
    // Mutates the state it is given.
    const mutating: Detector<{ n: number }> = {
      kind: 'mutating',
      config: { kind: 'mutating' },
      key: 'mutating',
      initial: () => ({ n: 0 }),
      record: (s) => {
        s.n++
        return s
      },
      advance: (s) => s,
      tripped: () => false,
      measure: () => [],
      codec: { validate: (u) => ({ _tag: 'Right', right: u as { n: number } }), encode: (s) => s },
    }
    expect(() => checkDetectorLaws(mutating, quick)).toThrow(/read only|read-only|Cannot assign/)
  })

  it('they fail a strategy that admits while open before its time', () => {
    const strict = circuit({ trip: { kind: 'consecutive-failures', threshold: 1 }, openFor: { kind: 'constant', ms: 60_000 } })
    const leaky = {
      ...strict,
      step: (s: Parameters<typeof strict.step>[0], e: Parameters<typeof strict.step>[1], now: number) => {
        const [next, decision] = strict.step(s, e, now)
        return decision._tag === 'Rejected' && decision.reason === 'open'
          ? ([next, { _tag: 'Admitted', generation: next.phase.generation, id: next.issued, probe: false }] as const)
          : ([next, decision] as const)
      },
    }
    expect(() => checkStrategyLaws(leaky, quick)).toThrow(/never admits while open before its time/)
  })
})
