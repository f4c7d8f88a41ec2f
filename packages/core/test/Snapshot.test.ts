import {
  anyOf,
  BreakerEvent,
  circuit,
  circuitOf,
  classicHalfOpen,
  consecutiveFailures,
  constantOpenFor,
  type Detector,
  failureRate,
  report,
  restore,
} from '@datapunk/breaker'
import { describe, expect, it } from 'vitest'
import { Harness } from './harness.js'

const strategy = circuit({
  name: 'payments',
  trip: {
    kind: 'any-of',
    detectors: [
      { kind: 'failure-rate', threshold: 0.5, minimumCalls: 2, window: { kind: 'time', durationMs: 1000, buckets: 4 } },
      { kind: 'consecutive-failures', threshold: 3 },
    ],
  },
  recovery: { kind: 'gradual', stageCalls: 2 },
  openFor: { kind: 'constant', ms: 100 },
})

describe('state snapshots', () => {
  it('restore(encode(state)) gives the same state, through JSON, in every phase', () => {
    const h = new Harness(strategy)
    const states = [h.state]
    h.call(0, 'failure', 0)
    h.call(0, 'failure', 0)
    states.push(h.state) // open
    h.request(100)
    states.push(h.state) // half-open
    h.step(BreakerEvent.forcedOpen(), 101)
    states.push(h.state)
    for (const state of states) {
      const restored = restore(strategy, JSON.parse(JSON.stringify(strategy.codec.encode(state))))
      expect(restored).toEqual({ _tag: 'Right', right: state })
    }
  })

  it('a corrupt snapshot is a readable error, never a half-restored breaker', () => {
    const good = strategy.codec.encode(new Harness(strategy).state) as Record<string, unknown> & { phase: Record<string, unknown> }
    const problems = (snapshot: unknown) => {
      const result = restore(strategy, snapshot)
      return result._tag === 'Left' ? result.left.message : 'restored'
    }
    expect(problems({ ...good, phase: { ...good.phase, state: 'ajar' } })).toBe(
      'phase.state: expected one of "closed" | "open" | "half-open", got "ajar"',
    )
    expect(problems({ ...good, phase: { ...good.phase, generation: -1 } })).toBe('phase.generation: expected an integer >= 0, got -1')
    expect(problems({ ...good, phase: { ...good.phase, state: 'open' } })).toBe(
      '(root): an open circuit has openUntil exactly when in mode normal',
    )
    expect(problems({ ...good, inFlight: 3 })).toBe('(root): expected at most issued calls in flight')
    expect(problems({ ...good, phase: { ...good.phase, mode: 'isolated', state: 'open' } })).toBe(
      '(root): an isolated circuit holds at least one isolation',
    )
    expect(problems({ ...good, detector: { kind: 'any-of', detectors: [] } })).toBe('detector: expected 2 detector states')
    expect(problems({ ...good, recovery: { kind: 'classic' } })).toBe('(root): only a half-open circuit has a recovery state or probes')
    expect(problems(null)).toBe("(root): expected a snapshot of circuit 'payments', got null")
    expect(
      problems({ ...good, detector: { kind: 'any-of', detectors: [{ kind: 'count' }, { kind: 'consecutive', consecutiveFailures: 0 }] } }),
    ).toBe('detector.detectors[0]: expected a time window of 4 buckets')
  })
})

describe('anyOf', () => {
  it('trips when any member trips and reports every member', () => {
    const d = anyOf([
      consecutiveFailures({ threshold: 3 }),
      failureRate({ threshold: 0.9, minimumCalls: 2, window: { kind: 'count', size: 5 } }),
    ])
    let s = d.initial(0)
    s = d.record(s, true, 1, 0)
    s = d.record(s, false, 1, 0)
    expect(d.tripped(s)).toBe(false)
    expect(d.measure(s).map((m) => m.kind)).toEqual(['consecutive-failures', 'failure-rate'])
    for (let i = 0; i < 3; i++) s = d.record(s, true, 1, 0)
    expect(d.tripped(s)).toBe(true)
  })

  it('names where a nested state is wrong, validating each part once however deep the failure sits', () => {
    // A detector whose state codec counts its runs, under three composites.
    const inner = consecutiveFailures({ threshold: 3 })
    let runs = 0
    const counted: Detector<unknown> = {
      ...(inner as Detector<unknown>),
      codec: {
        validate: (u, c) => {
          runs++
          return inner.codec.validate(u, c)
        },
        encode: (s) => inner.codec.encode(s as never),
      },
    }
    const deep = circuitOf({ detector: anyOf([anyOf([anyOf([counted])])]), recovery: classicHalfOpen(), openFor: constantOpenFor(1000) })
    const encoded = JSON.parse(JSON.stringify(deep.codec.encode(deep.initial(0))))
    encoded.detector.detectors[0].detectors[0].detectors[0].consecutiveFailures = -1
    runs = 0
    const decoded = deep.codec.decode(encoded)
    expect(runs).toBe(1)
    expect(decoded._tag).toBe('Left')
    if (decoded._tag === 'Left') {
      expect(report(decoded.left).map((p) => p.path)).toEqual(['detector.detectors[0].detectors[0].detectors[0].consecutiveFailures'])
    }
  })
})
