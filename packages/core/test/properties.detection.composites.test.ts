import { describe } from 'vitest'
import { configWith, tripOf } from './arbitraries.js'
import { invariantsHold } from './invariants.js'

// The detection properties, a file per few kinds, so the test runner can spread them over workers.
describe('properties of every detection strategy (with either recovery)', () => {
  for (const kind of ['any-of', 'all-of'] as const) invariantsHold(`${kind} detection`, configWith(tripOf(kind), 'any'))
})
