import { describe } from 'vitest'
import { configWith, type DetectorKind, tripOf } from './arbitraries.js'
import { invariantsHold } from './invariants.js'

describe('properties of every detection strategy (with either recovery)', () => {
  const detectors: DetectorKind[] = [
    'consecutive-failures',
    'failure-count',
    'failure-rate',
    'slow-call-rate',
    'change-point',
    'trend-forecast',
    'learned',
    'any-of',
    'all-of',
  ]
  for (const kind of detectors) invariantsHold(`${kind} detection`, configWith(tripOf(kind), 'any'))
})
