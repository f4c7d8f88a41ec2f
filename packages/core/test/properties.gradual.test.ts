import { describe } from 'vitest'
import { anyTrip, configWith } from './arbitraries.js'
import { invariantsHold } from './invariants.js'

describe('properties of every recovery strategy (with any detection)', () => {
  invariantsHold('gradual recovery', configWith(anyTrip, 'gradual'))
})
