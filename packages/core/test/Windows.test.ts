import {
  addToCountWindow,
  addToTimeWindow,
  type CountWindow,
  countWindowCodec,
  countWindowOutcomes,
  emptyCountWindow,
  emptyTimeWindow,
  getCountWindowMonoid,
  getTimeWindowMonoid,
  MonoidCounts,
  type TimeWindow,
  timeWindowBuckets,
  timeWindowCodec,
} from '@datapunk/breaker'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'

const outcome = fc.record({ failed: fc.boolean(), slow: fc.boolean() })

const countWindowArb = (size: number): fc.Arbitrary<CountWindow> =>
  fc
    .array(outcome, { maxLength: size * 3 })
    .map((outcomes) => outcomes.reduce((w, o) => addToCountWindow(w, size, o.failed, o.slow), emptyCountWindow(size)))

const spec = { durationMs: 1000, buckets: 5 }
const timeWindowArb: fc.Arbitrary<TimeWindow> = fc
  .array(fc.record({ failed: fc.boolean(), slow: fc.boolean(), at: fc.integer({ min: 0, max: 5000 }) }), { maxLength: 40 })
  .map((events) =>
    events.sort((a, b) => a.at - b.at).reduce((w, e) => addToTimeWindow(w, spec, e.failed, e.slow, e.at), getTimeWindowMonoid(spec).empty),
  )

/** Observational equality: the same outcomes (count windows) or the same buckets by epoch (time windows). */
const sameCount = (size: number) => (a: CountWindow, b: CountWindow) =>
  expect(countWindowOutcomes(a, size)).toEqual(countWindowOutcomes(b, size))
const sameTime = (a: TimeWindow, b: TimeWindow) => {
  expect(timeWindowBuckets(a, spec)).toEqual(timeWindowBuckets(b, spec))
  expect([a.calls, a.failures, a.slow]).toEqual([b.calls, b.failures, b.slow])
}

describe('Counts monoid', () => {
  it('satisfies the monoid laws (associativity, identity)', () => {
    const counts = fc.record({ calls: fc.nat(), failures: fc.nat(), slow: fc.nat() })
    fc.assert(
      fc.property(counts, counts, counts, (a, b, c) => {
        expect(MonoidCounts.concat(MonoidCounts.concat(a, b), c)).toEqual(MonoidCounts.concat(a, MonoidCounts.concat(b, c)))
        expect(MonoidCounts.concat(MonoidCounts.empty, a)).toEqual(a)
        expect(MonoidCounts.concat(a, MonoidCounts.empty)).toEqual(a)
      }),
    )
  })
})

describe('count window', () => {
  it('keeps exactly the last N outcomes with matching totals', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(outcome, { maxLength: 120 }), (size, outcomes) => {
        const w = outcomes.reduce((acc, o) => addToCountWindow(acc, size, o.failed, o.slow), emptyCountWindow(size))
        const expected = outcomes.slice(-size).map((o) => (o.failed ? 1 : 0) | (o.slow ? 2 : 0))
        expect(countWindowOutcomes(w, size)).toEqual(expected)
        expect(w.calls).toBe(expected.length)
        expect(w.failures).toBe(expected.filter((c) => c & 1).length)
        expect(w.slow).toBe(expected.filter((c) => c & 2).length)
      }),
    )
  })

  it('never mutates its input', () => {
    const w = emptyCountWindow(4)
    const frozen = JSON.stringify(w)
    addToCountWindow(w, 4, true, true)
    expect(JSON.stringify(w)).toBe(frozen)
  })

  it('is a monoid: keeping the last N of a concatenation is associative, empty is the identity', () => {
    for (const size of [1, 7, 16, 33]) {
      const M = getCountWindowMonoid(size)
      const same = sameCount(size)
      fc.assert(
        fc.property(countWindowArb(size), countWindowArb(size), countWindowArb(size), (a, b, c) => {
          same(M.concat(M.concat(a, b), c), M.concat(a, M.concat(b, c)))
          same(M.concat(M.empty, a), a)
          same(M.concat(a, M.empty), a)
        }),
        { numRuns: 200 },
      )
    }
  })

  it('round-trips through its codec, and refuses inconsistent snapshots', () => {
    const codec = countWindowCodec(20)
    fc.assert(
      fc.property(countWindowArb(20), (w) => {
        expect(codec.decode(JSON.parse(JSON.stringify(codec.encode(w))))).toEqual({ _tag: 'Right', right: w })
      }),
    )
    const w = addToCountWindow(emptyCountWindow(20), 20, true, false)
    expect(codec.decode({ ...w, failures: 0 })._tag).toBe('Left')
    expect(codec.decode({ ...w, slots: [0] })._tag).toBe('Left')
    expect(codec.decode({ ...w, next: 5 })._tag).toBe('Left')
  })
})

describe('time window', () => {
  it('is a monoid: merging adds buckets after aligning epochs', () => {
    const M = getTimeWindowMonoid(spec)
    fc.assert(
      fc.property(timeWindowArb, timeWindowArb, timeWindowArb, (a, b, c) => {
        sameTime(M.concat(M.concat(a, b), c), M.concat(a, M.concat(b, c)))
        expect(M.concat(M.empty, a)).toEqual(a)
        expect(M.concat(a, M.empty)).toEqual(a)
      }),
    )
  })

  it('merging two windows counts every outcome still inside the later one', () => {
    const M = getTimeWindowMonoid(spec)
    const a = addToTimeWindow(emptyTimeWindow(spec, 0), spec, true, false, 100)
    const b = addToTimeWindow(emptyTimeWindow(spec, 0), spec, false, false, 900)
    expect(M.concat(a, b)).toMatchObject({ calls: 2, failures: 1 })
    const later = addToTimeWindow(emptyTimeWindow(spec, 0), spec, false, false, 1100)
    expect(M.concat(a, later)).toMatchObject({ calls: 1, failures: 0 }) // a's bucket [0, 200) left the window at 1000
  })

  it('expires a bucket exactly D ms after it began', () => {
    let w = addToTimeWindow(emptyTimeWindow(spec, 0), spec, true, false, 150) // bucket [0, 200)
    w = addToTimeWindow(w, spec, false, false, 999)
    expect(w.calls).toBe(2)
    w = addToTimeWindow(w, spec, false, false, 1000)
    expect(w).toMatchObject({ calls: 2, failures: 0 })
  })

  it('counts an event older than the newest bucket in the newest bucket (clock clamp)', () => {
    let w = addToTimeWindow(emptyTimeWindow(spec, 0), spec, false, false, 900)
    w = addToTimeWindow(w, spec, true, false, 10)
    expect(timeWindowBuckets(w, spec)).toEqual([[4, { calls: 2, failures: 1, slow: 0 }]])
    w = addToTimeWindow(w, spec, true, false, Number.NaN)
    expect(w.epoch).toBe(4)
    expect(w.calls).toBe(3)
  })

  it('round-trips through its codec, and refuses inconsistent snapshots', () => {
    const codec = timeWindowCodec(spec)
    fc.assert(
      fc.property(timeWindowArb, (w) => {
        expect(codec.decode(JSON.parse(JSON.stringify(codec.encode(w))))).toEqual({ _tag: 'Right', right: w })
      }),
    )
    const w = addToTimeWindow(emptyTimeWindow(spec, 0), spec, true, false, 100)
    expect(codec.decode({ ...w, calls: 3 })._tag).toBe('Left')
    expect(codec.decode({ ...w, counts: [1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] })._tag).toBe('Left')
    expect(codec.decode({ ...w, counts: [] })._tag).toBe('Left')
  })
})

describe('time window edge cases', () => {
  it('lists the buckets of the empty window (epoch -(2^53 - 1)) without looping forever', () => {
    const M = getTimeWindowMonoid(spec)
    expect(timeWindowBuckets(M.empty, spec)).toEqual([])
    expect(timeWindowBuckets(M.concat(M.empty, M.empty), spec)).toEqual([])
    // An outcome recorded at a time that is not a number lands in the empty window's bucket.
    const odd = addToTimeWindow(M.empty, spec, true, false, Number.NaN)
    expect(timeWindowBuckets(odd, spec)).toEqual([[M.empty.epoch, { calls: 1, failures: 1, slow: 0 }]])
  })
})
