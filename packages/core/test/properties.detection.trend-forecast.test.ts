import { describe } from 'vitest'
import { configWith, tripOf } from './arbitraries.js'
import { invariantsHold } from './invariants.js'

// The detection properties, a file per kind, so the test runner spreads them evenly over workers.
describe('properties of every detection strategy (with either recovery)', () => {
  invariantsHold('trend-forecast detection', configWith(tripOf('trend-forecast'), 'any'))
})
