import { describe, expect, it } from 'vitest'
import { configWith, DETECTOR_KINDS, tripOf } from './arbitraries.js'
import { inPlaceSteps, invariantsHold } from './invariants.js'

describe('properties of every detection strategy (with either recovery)', () => {
  for (const kind of DETECTOR_KINDS) invariantsHold(`${kind} detection`, configWith(tripOf(kind), 'any'))
  // Every step above also ran the in-place twin on a copy; this proves the twin took some.
  it('the in-place twin of step took part of those steps, equal to step every time', () => {
    expect(inPlaceSteps).toBeGreaterThan(0)
  })
})
