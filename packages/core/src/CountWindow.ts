/**
 * A count window: the outcomes of the last `size` calls, exactly.
 *
 * Stored as a ring of 2-bit slots (failed, slow) packed 16 to a 32-bit integer, with running
 * totals, so a step copies `ceil(size / 16)` numbers at most and nothing when the outcome equals
 * the one it replaces (the steady state of a healthy upstream). Plain JSON, so it has a codec.
 */

import type * as M from 'fp-ts/lib/Monoid.js'
import * as t from 'io-ts'
import type { Counts } from './Counts.js'
import { Integer, NonNegativeInt, numbersOf } from './codecs.js'
import * as E from './either.js'

// ---- model -------------------------------------------------------------------------------

/** State of a count window of `size` slots. `calls` is how many slots are filled. */
export interface CountWindow extends Counts {
  /** Always `count`. */
  readonly kind: 'count'
  /** Ring index the next outcome is written to. */
  readonly next: number
  /** 2 bits per slot (bit 0 failed, bit 1 slow), 16 slots per 32-bit integer. */
  readonly slots: ReadonlyArray<number>
}

const SLOTS_PER_WORD = 16

const wordsFor = (size: number): number => Math.ceil(size / SLOTS_PER_WORD)

const slotCode = (slots: ReadonlyArray<number>, index: number): number => ((slots[index >>> 4] ?? 0) >>> ((index & 15) << 1)) & 3

// ---- constructors ------------------------------------------------------------------------

/** An empty window of `size` slots. */
export const emptyCountWindow = (size: number): CountWindow => ({
  kind: 'count',
  next: 0,
  calls: 0,
  failures: 0,
  slow: 0,
  slots: new Array<number>(wordsFor(size)).fill(0),
})

// ---- reducers ----------------------------------------------------------------------------

/** Records one outcome, evicting the oldest once the window is full. Never mutates `window`. */
export const addToCountWindow = (window: CountWindow, size: number, failed: boolean, slow: boolean): CountWindow => {
  const code = (failed ? 1 : 0) | (slow ? 2 : 0)
  const index = window.next
  const full = window.calls === size
  // Unfilled slots are kept at 0, so `old` is 0 until the ring wraps.
  const old = slotCode(window.slots, index)
  const word = index >>> 4
  const shift = (index & 15) << 1
  let slots = window.slots
  if (old !== code) {
    const copy = slots.slice()
    copy[word] = ((copy[word] ?? 0) & ~(3 << shift)) | (code << shift)
    slots = copy
  }
  return {
    kind: 'count',
    next: index + 1 === size ? 0 : index + 1,
    calls: full ? size : window.calls + 1,
    failures: window.failures + (code & 1) - (full ? old & 1 : 0),
    slow: window.slow + (code >>> 1) - (full ? old >>> 1 : 0),
    slots,
  }
}

/** The window's outcomes, oldest first, as 2-bit codes (bit 0 failed, bit 1 slow). */
export const countWindowOutcomes = (window: CountWindow, size: number): ReadonlyArray<number> => {
  const out: number[] = []
  const start = window.calls === size ? window.next : 0
  for (let i = 0; i < window.calls; i++) out.push(slotCode(window.slots, (start + i) % size))
  return out
}

// ---- codecs ------------------------------------------------------------------------------

const Raw = t.type({
  kind: t.literal('count'),
  next: NonNegativeInt,
  calls: NonNegativeInt,
  failures: NonNegativeInt,
  slow: NonNegativeInt,
  slots: numbersOf(Integer),
})

/**
 * The codec of a count window of `size` slots. Decoding checks the whole structure: the ring
 * fits, unfilled slots are empty, and the totals equal what the slots hold.
 */
export const countWindowCodec = (size: number): t.Type<CountWindow, CountWindow, unknown> =>
  new t.Type<CountWindow, CountWindow, unknown>(
    `a count window of ${size} calls`,
    (u): u is CountWindow => E.isRight(validate(u, size)),
    (u, c) => {
      const r = validate(u, size)
      return E.isRight(r) ? t.success(r.right) : t.failure(u, c, r.left)
    },
    (w) => ({ kind: 'count', next: w.next, calls: w.calls, failures: w.failures, slow: w.slow, slots: w.slots.slice() }),
  )

const validate = (u: unknown, size: number): E.Either<string, CountWindow> => {
  const raw = Raw.is(u) ? E.right(u) : Raw.decode(u)
  if (E.isLeft(raw)) return E.left(`expected a count window of ${size} calls`)
  const w = raw.right
  if (w.slots.length !== wordsFor(size))
    return E.left(`expected ${wordsFor(size)} slot words for a window of ${size}, got ${w.slots.length}`)
  if (w.slots.some((x) => x < -(2 ** 31) || x >= 2 ** 31)) return E.left('expected slot words to be 32-bit integers')
  if (w.calls > size || w.next >= size) return E.left(`expected calls <= ${size} and next < ${size}`)
  if (w.calls < size && w.next !== w.calls) return E.left('expected next to equal calls while the window is filling')
  let failures = 0
  let slow = 0
  for (let i = 0; i < wordsFor(size) * SLOTS_PER_WORD; i++) {
    const code = slotCode(w.slots, i)
    if (i >= w.calls && code !== 0) return E.left(`expected unfilled slot ${i} to be empty`)
    failures += code & 1
    slow += code >>> 1
  }
  if (failures !== w.failures || slow !== w.slow) return E.left(`expected totals to match the slots (failures ${failures}, slow ${slow})`)
  return E.right({ kind: 'count', next: w.next, calls: w.calls, failures: w.failures, slow: w.slow, slots: w.slots })
}

// ---- instances ---------------------------------------------------------------------------

/**
 * Count windows of one size form a monoid: `concat(a, b)` is the last `size` outcomes of a's
 * outcomes followed by b's (keeping the last N of a concatenation is associative), and the empty
 * window is the identity.
 */
export const getCountWindowMonoid = (size: number): M.Monoid<CountWindow> => ({
  empty: emptyCountWindow(size),
  concat: (a, b) => {
    let out = emptyCountWindow(size)
    for (const code of [...countWindowOutcomes(a, size), ...countWindowOutcomes(b, size)]) {
      out = addToCountWindow(out, size, (code & 1) === 1, code >>> 1 === 1)
    }
    return out
  },
})
