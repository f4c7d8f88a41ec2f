import { canonical } from '@datapunk/breaker'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { anyValue } from './arbitraries.js'
import { sameJson, throughJson } from './invariants.js'

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

/** What a function gave, or the kind of error it threw. */
const outcome = (f: () => unknown): { readonly value: unknown } | { readonly threw: string } => {
  try {
    return { value: f() }
  } catch (e) {
    return { threw: (e as Error).name }
  }
}

describe('throughJson', () => {
  it('gives back what JSON.parse(JSON.stringify(v)) gives back, for any value, or throws the same kind of error', () => {
    fc.assert(
      fc.property(
        // The leaves fast-check draws by default, and what JSON writes otherwise than it is.
        anyValue(fc.oneof(fc.string(), fc.constantFrom('__proto__', 'toJSON', '0', '10')), [
          fc.boolean(),
          fc.integer(),
          fc.double(),
          fc.string(),
          fc.constantFrom(null, undefined, -0, Number.NaN, Number.POSITIVE_INFINITY, () => 1, Symbol('s')),
        ]),
        (v) => {
          // toStrictEqual tells -0 from 0, a missing key from an undefined one, and prototypes apart (it reads
          // `constructor` for the last, so the keys drawn leave that name out).
          expect(outcome(() => throughJson(v))).toStrictEqual(outcome(() => JSON.parse(JSON.stringify(v) as string)))
        },
      ),
      { numRuns: 5_000 },
    )
  })

  it('copies plain data itself, as JSON would give it back', () => {
    const copy = throughJson({ a: -0, b: [Number.NaN, undefined, 1.5], c: undefined, d: { e: Number.NEGATIVE_INFINITY } })
    expect(copy).toStrictEqual({ a: 0, b: [null, null, 1.5], d: { e: null } })
    expect(Object.is((copy as { a: number }).a, 0)).toBe(true)
    const data = { x: [1, { y: 'z' }] }
    expect(throughJson(data)).not.toBe(data)
  })

  it('leaves to JSON what is not plain data: a toJSON, a Date, a __proto__ key, a cycle, undefined alone', () => {
    expect(throughJson({ when: new Date(0) })).toStrictEqual({ when: '1970-01-01T00:00:00.000Z' })
    expect(throughJson({ toJSON: () => ({ n: 1 }) })).toStrictEqual({ n: 1 })
    const proto = JSON.parse('{"__proto__": {"p": 1}}') as Record<string, unknown>
    expect(Object.keys(throughJson(proto) as object)).toEqual(['__proto__'])
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    expect(() => throughJson(cycle)).toThrow(TypeError)
    expect(() => throughJson(undefined)).toThrow(SyntaxError)
  })
})
