/**
 * `canonical`, the text every part's `key` is (compared across swaps, and across replicas in fleet
 * mode): written by hand for speed, it must give the text the replacer-based version gave, byte
 * for byte, or keys computed by two versions of the library would stop matching.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonical } from '../src/Detector.js'
import { anyValue } from './arbitraries.js'

/** The previous implementation, kept as the reference. */
const reference = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  ) ?? 'null'

const outcome = (f: () => string): string => {
  try {
    return `ok ${f()}`
  } catch (e) {
    return `threw ${(e as Error).name}`
  }
}

describe('canonical', () => {
  it('writes what the replacer-based version wrote, for any value', () => {
    fc.assert(
      fc.property(
        anyValue(fc.oneof(fc.string(), fc.constantFrom('0', '1', '10', '2', '-1', '01', '4294967295', '4294967294', '1.5', 'a', 'toJSON'))),
        (value) => {
          expect(outcome(() => canonical(value))).toBe(outcome(() => reference(value)))
        },
      ),
      { numRuns: 5_000 },
    )
  })

  it('sorts keys, puts array-index keys first in numeric order, and leaves out what JSON leaves out', () => {
    expect(canonical({ b: 1, a: [undefined, () => 1], 10: 'x', 2: 'y', c: undefined })).toBe('{"2":"y","10":"x","a":[null,null],"b":1}')
    expect(canonical(undefined)).toBe('null')
    expect(canonical({ kind: 'constant', ms: 1000 })).toBe(canonical({ ms: 1000, kind: 'constant' }))
  })
})
