import { describe } from 'vitest'
import { configWith, DETECTOR_KINDS, tripOf } from './arbitraries.js'
import { invariantsHold } from './invariants.js'

describe('properties of every detection strategy (with either recovery)', () => {
  for (const kind of DETECTOR_KINDS) invariantsHold(`${kind} detection`, configWith(tripOf(kind), 'any'))
})
