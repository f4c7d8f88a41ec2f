import { describe } from 'vitest'
import { configWith, tripOf } from './arbitraries.js'
import { invariantsHold } from './invariants.js'

// The CUSUM detector's properties on a file of its own (its buckets recompute a threshold by
// bisection, so its runs take longer than the other signals').
describe('properties of every detection strategy (with either recovery)', () => {
  for (const kind of ['cusum'] as const) invariantsHold(`${kind} detection`, configWith(tripOf(kind), 'any'))
})
