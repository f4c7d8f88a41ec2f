import { canonical } from '@datapunk/breaker'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { sameJson } from './invariants.js'

// The property suites compare states with `sameJson` after every step; it must say what comparing
// their JSON text (keys sorted: `canonical`) says, or those suites check less than they claim.
const leaf = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.integer({ min: -2, max: 2 }),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 0.5),
  fc.constantFrom('a', 'b', ''),
)
const { value } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    leaf,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('x', 'y', '0', '1'), tie('value'), { maxKeys: 3 }),
  ),
}))
// Wrapped in an object, as states are: JSON has no text for `undefined` alone.
const held = value.map((v) => ({ v }))

describe('sameJson', () => {
  it('says two values are the same exactly when their JSON text, keys sorted, is', () => {
    fc.assert(
      fc.property(held, held, (a, b) => {
        expect(sameJson(a, b)).toBe(canonical(a) === canonical(b))
      }),
      { numRuns: 20_000 },
    )
  })

  it('finds a value the same as its copy by way of JSON, and as itself', () => {
    fc.assert(
      fc.property(held, (a) => {
        expect(sameJson(a, JSON.parse(JSON.stringify(a)))).toBe(true)
        expect(sameJson(a, a)).toBe(true)
      }),
    )
  })

  it('tells apart what a state step could get wrong', () => {
    expect(sameJson({ n: 1, xs: [1, 2] }, { xs: [1, 2], n: 1 })).toBe(true)
    expect(sameJson({ n: 1 }, { n: 1, m: 0 })).toBe(false)
    expect(sameJson({ n: 1, m: undefined }, { n: 1 })).toBe(true)
    expect(sameJson({ xs: [1, 2] }, { xs: [2, 1] })).toBe(false)
    expect(sameJson({ xs: [undefined] }, { xs: [null] })).toBe(true)
    expect(sameJson({ n: Number.NaN }, { n: null })).toBe(true)
    expect(sameJson({ n: '1' }, { n: 1 })).toBe(false)
    expect(sameJson({ a: {} }, { a: [] })).toBe(false)
  })
})
