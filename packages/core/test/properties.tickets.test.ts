import { describe } from 'vitest'
import { anyTrip, configWith } from './arbitraries.js'
import { junkIsHarmless } from './invariants.js'

describe('tickets identify calls', () => {
  junkIsHarmless('classic half-open recovery', configWith(anyTrip, 'classic'))
  junkIsHarmless('gradual recovery', configWith(anyTrip, 'gradual'))
})
