import { builtInKinds } from '@datapunk/breaker'
import { describe, expect, it } from 'vitest'
import { kindsProblem } from '../src/kindsModule.js'

describe('a --kinds module', () => {
  it('may name part kinds and strategy kinds, as the core registry reads them', () => {
    expect(kindsProblem({ strategies: builtInKinds.strategies, detectors: builtInKinds.detectors })).toBeUndefined()
  })

  it('names what is wrong with a kinds export', () => {
    expect(kindsProblem({ strategy: {} })).toBe('kinds.strategy: unknown key (expected only detectors, recoveries, openFor, strategies)')
    expect(kindsProblem({ strategies: { mine: { build: () => null } } })).toBe(
      'kinds.strategies.mine: expected { codec, build } (an io-ts decoder and a function)',
    )
    expect(kindsProblem(null)).toBe('expected an export named kinds: { detectors?, recoveries?, openFor?, strategies? }')
  })
})
