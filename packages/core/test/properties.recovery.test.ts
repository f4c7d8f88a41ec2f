import { describe } from 'vitest'
import { anyTrip, configWith } from './arbitraries.js'
import { invariantsHold } from './invariants.js'

// Gradual recovery's properties run in properties.gradual.test.ts (a file each, so workers share them).
describe('properties of every recovery strategy (with any detection)', () => {
  invariantsHold('classic half-open recovery', configWith(anyTrip, 'classic'))
})
