/**
 * Hidden classes, primed.
 *
 * V8 gives every object shape (the same keys, added in the same order) one representation per
 * field, learned from the values stored: small integers, doubles, or any value. When a field
 * learned as small integers later holds a fraction, V8 retires the shape: code optimized for it
 * deoptimizes, and objects made from the retired shape are migrated one at a time, on access.
 * A process that steps a strategy at integer times first (a test, the simulator, a replay at
 * virtual time 0, 1, 2, ...) and then runs a live breaker (times from a monotonic clock in ms,
 * fractional latencies) hits exactly that: measured on the development VM, a breaker's closed
 * call went from ~70 ns to ~1,500 ns added, for as long as the old shape's code kept running.
 *
 * Priming builds one object of a shape with a string in every field, then with an integer and
 * with a fraction, at module load: every field is "any value" from the start, and never changes
 * representation again, whatever times and latencies come later. Numbers in such fields are
 * boxed, which costs nothing extra here: a time read once from the clock is shared, not copied,
 * by every object that stores it.
 */

/**
 * The last object of each primed shape, kept for the life of the process: V8 holds the links
 * between shapes weakly, so a shape no live object uses can be collected, and the next object
 * built with the same keys would start a new one, learning its representations afresh.
 */
const primed: unknown[] = []

/**
 * Builds the shape `make` builds three times, with `''`, `0` and `0.5` as every argument, and
 * keeps the last object: a hot constructor's fields start out holding any value, for good. Call it
 * once, at module load, for each state type of a part of your own whose numeric fields hold times,
 * latencies or rates (anything that is an integer in one test and a fraction in production).
 *
 * @example
 * import { primeShape } from '@datapunk/breaker'
 * interface Ewma {
 *   readonly averageMs: number
 *   readonly samples: number
 * }
 * // Every state of the part is built here, and primed next to it.
 * const ewma = (averageMs: number, samples: number): Ewma => ({ averageMs, samples })
 * primeShape((v) => ewma(v, v))
 * ewma(12.5, 3).averageMs // 12.5
 */
export const primeShape = (make: (value: never) => unknown): void => {
  make('' as never)
  make(0 as never)
  primed.push(make(0.5 as never))
}
