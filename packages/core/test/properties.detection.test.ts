import { circuit } from '@datapunk/breaker'
import { describe, expect, it } from 'vitest'
import { configWith, DETECTOR_KINDS, tripOf } from './arbitraries.js'
import { inPlaceSteps, invariantsHold, run } from './invariants.js'

describe('properties of every detection strategy (with either recovery)', () => {
  for (const kind of DETECTOR_KINDS) invariantsHold(`${kind} detection`, configWith(tripOf(kind), 'any'))
  // Every checked step also runs the in-place twin on a copy (see invariants.ts); this proves, on a
  // script of its own (so it holds whatever ran before or runs alone), that the twin takes some.
  it('the in-place twin of step takes part in the checked steps, equal to step every time', () => {
    const before = inPlaceSteps
    const strategy = circuit({ trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 5, window: { kind: 'count', size: 10 } } })
    run(
      strategy,
      Array.from({ length: 20 }, (_, i) => ({ dt: 1, op: 'call' as const, fail: i % 4 === 0, latencyMs: 1 })),
    )
    expect(inPlaceSteps).toBeGreaterThan(before)
  })
})
