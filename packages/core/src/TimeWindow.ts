/**
 * A time window: outcomes of the last `durationMs`, kept in `buckets` equal buckets that rotate
 * lazily from `now` on each event (no timers). A bucket covers `durationMs / buckets` ms; an
 * outcome leaves the window `durationMs` after the start of its bucket.
 *
 * Time never runs backwards here: an event older than the newest bucket is counted in the newest
 * bucket (the clock is clamped to the latest time seen).
 */

import type * as M from 'fp-ts/lib/Monoid.js'
import * as t from 'io-ts'
import type { Counts } from './Counts.js'
import { NonNegativeInt, numbersOf } from './codecs.js'
import * as E from './either.js'
import { primeShape } from './shapes.js'

// ---- model -------------------------------------------------------------------------------

/** Configuration of a time window. */
export interface TimeWindowSpec {
  /** The span of the window, in ms. */
  readonly durationMs: number
  /** How many buckets it is cut into. */
  readonly buckets: number
}

/**
 * State of a time window: the newest bucket's epoch and counts (`head*`, kept apart so that
 * recording an outcome copies no array), running totals over all buckets, and the older buckets.
 */
export interface TimeWindow extends Counts {
  /** Always `time`. */
  readonly kind: 'time'
  /** `floor(time / bucketMs)` of the newest bucket. */
  readonly epoch: number
  /** Counts of the newest bucket. */
  readonly headCalls: number
  /** Failures in the newest bucket. */
  readonly headFailures: number
  /** Slow calls in the newest bucket. */
  readonly headSlow: number
  /**
   * `[calls, failures, slow]` per bucket, the bucket of epoch `e` at ring index `e mod buckets`;
   * the newest bucket's slot stays zero (its counts are the `head*` fields).
   */
  readonly counts: ReadonlyArray<number>
}

/** The epoch of the empty window: older than any time, so any rotation clears it. */
const DAWN = Number.MIN_SAFE_INTEGER

const bucketMs = (spec: TimeWindowSpec): number => spec.durationMs / spec.buckets

/** The ring slot of the bucket of `epoch` (exported for the window detectors; not public). */
export const ringIndex = (epoch: number, buckets: number): number => ((epoch % buckets) + buckets) % buckets

/** The epoch a time falls in; non-finite times fall before everything (they never rotate). */
export const epochOf = (spec: TimeWindowSpec, now: number): number => {
  const e = Math.floor(now / bucketMs(spec))
  return Number.isSafeInteger(e) ? e : DAWN
}

/** Every window is built here, so all share one shape (exported for the window detectors; not public). */
export const timeWindow = (
  epoch: number,
  calls: number,
  failures: number,
  slow: number,
  headCalls: number,
  headFailures: number,
  headSlow: number,
  counts: ReadonlyArray<number>,
): TimeWindow => ({ kind: 'time', epoch, calls, failures, slow, headCalls, headFailures, headSlow, counts })
primeShape((v) => timeWindow(v, v, v, v, v, v, v, v))

// ---- constructors ------------------------------------------------------------------------

/** An empty window whose newest bucket is the one `now` falls in. */
export const emptyTimeWindow = (spec: TimeWindowSpec, now: number): TimeWindow =>
  timeWindow(epochOf(spec, now), 0, 0, 0, 0, 0, 0, new Array<number>(spec.buckets * 3).fill(0))

// ---- reducers ----------------------------------------------------------------------------

/** Moves the window forward to `epoch`, dropping the buckets that fall out. Never moves back. */
export const rotateTimeWindowTo = (window: TimeWindow, spec: TimeWindowSpec, epoch: number): TimeWindow => {
  if (!(epoch > window.epoch)) return window
  const { buckets } = spec
  if (window.calls === 0) return timeWindow(epoch, 0, 0, 0, 0, 0, 0, window.counts)
  if (epoch - window.epoch >= buckets) return timeWindow(epoch, 0, 0, 0, 0, 0, 0, new Array<number>(buckets * 3).fill(0))
  const counts = window.counts.slice()
  // The old newest bucket joins the ring...
  const headAt = ringIndex(window.epoch, buckets) * 3
  counts[headAt] = window.headCalls
  counts[headAt + 1] = window.headFailures
  counts[headAt + 2] = window.headSlow
  // ...and the buckets the window moved past leave it (the last of them becomes the new head's slot).
  let { calls, failures, slow } = window
  for (let step = 1; step <= epoch - window.epoch; step++) {
    const at = ringIndex(window.epoch + step, buckets) * 3
    calls -= counts[at] ?? 0
    failures -= counts[at + 1] ?? 0
    slow -= counts[at + 2] ?? 0
    counts[at] = 0
    counts[at + 1] = 0
    counts[at + 2] = 0
  }
  return timeWindow(epoch, calls, failures, slow, 0, 0, 0, counts)
}

/** Lets time pass: rotates the window to the bucket `now` falls in. */
export const advanceTimeWindow = (window: TimeWindow, spec: TimeWindowSpec, now: number): TimeWindow =>
  rotateTimeWindowTo(window, spec, epochOf(spec, now))

/** Records one outcome at `now` (in the newest bucket if `now` is older than it). */
export const addToTimeWindow = (window: TimeWindow, spec: TimeWindowSpec, failed: boolean, slow: boolean, now: number): TimeWindow =>
  addToTimeWindowAt(window, spec, failed, slow, epochOf(spec, now))

/** Records one outcome in the bucket of `epoch` (in the newest bucket if `epoch` is older than it). */
export const addToTimeWindowAt = (window: TimeWindow, spec: TimeWindowSpec, failed: boolean, slow: boolean, epoch: number): TimeWindow => {
  const w = rotateTimeWindowTo(window, spec, epoch)
  const f = failed ? 1 : 0
  const s = slow ? 1 : 0
  return timeWindow(w.epoch, w.calls + 1, w.failures + f, w.slow + s, w.headCalls + 1, w.headFailures + f, w.headSlow + s, w.counts)
}

/**
 * Moves every bucket by `epochs` (the clock jumped): the same counts, in the same order, with the
 * newest bucket at `window.epoch + epochs`. The empty window stays as it is.
 */
export const shiftTimeWindow = (window: TimeWindow, spec: TimeWindowSpec, epochs: number): TimeWindow => {
  if (epochs === 0 || window.epoch === DAWN || !Number.isSafeInteger(window.epoch + epochs)) return window
  const epoch = window.epoch + epochs
  const counts = new Array<number>(spec.buckets * 3).fill(0)
  for (const [e, c] of timeWindowBuckets(window, spec)) {
    if (e === window.epoch) continue
    const at = ringIndex(e + epochs, spec.buckets) * 3
    counts[at] = c.calls
    counts[at + 1] = c.failures
    counts[at + 2] = c.slow
  }
  return timeWindow(epoch, window.calls, window.failures, window.slow, window.headCalls, window.headFailures, window.headSlow, counts)
}

/** The buckets' counts keyed by absolute epoch (non-empty buckets only), oldest first. */
export const timeWindowBuckets = (window: TimeWindow, spec: TimeWindowSpec): ReadonlyArray<readonly [number, Counts]> => {
  const out: Array<readonly [number, Counts]> = []
  // Count by index, not by epoch: near the empty window's epoch (-(2^53 - 1)) `e++` would not move.
  for (let i = 1 - spec.buckets; i < 0; i++) {
    const e = window.epoch + i
    const at = ringIndex(e, spec.buckets) * 3
    const calls = window.counts[at] ?? 0
    if (calls > 0) out.push([e, { calls, failures: window.counts[at + 1] ?? 0, slow: window.counts[at + 2] ?? 0 }])
  }
  if (window.headCalls > 0) out.push([window.epoch, { calls: window.headCalls, failures: window.headFailures, slow: window.headSlow }])
  return out
}

// ---- codecs ------------------------------------------------------------------------------

const Raw = t.type({
  kind: t.literal('time'),
  epoch: t.Int,
  calls: NonNegativeInt,
  failures: NonNegativeInt,
  slow: NonNegativeInt,
  headCalls: NonNegativeInt,
  headFailures: NonNegativeInt,
  headSlow: NonNegativeInt,
  counts: numbersOf(NonNegativeInt),
})

/** The codec of a time window; decoding checks bucket count, per-bucket sanity and totals. */
export const timeWindowCodec = (spec: TimeWindowSpec): t.Type<TimeWindow, TimeWindow, unknown> => {
  const validate = (u: unknown): E.Either<string, TimeWindow> => {
    const raw = Raw.is(u) ? E.right(u) : Raw.decode(u)
    if (E.isLeft(raw)) return E.left(`expected a time window of ${spec.buckets} buckets`)
    const w = raw.right
    if (!Number.isSafeInteger(w.epoch)) return E.left('expected a safe integer epoch')
    if (w.counts.length !== spec.buckets * 3) return E.left(`expected ${spec.buckets * 3} bucket counts, got ${w.counts.length}`)
    if (w.headFailures > w.headCalls || w.headSlow > w.headCalls)
      return E.left('expected the newest bucket to have no more failures or slow calls than calls')
    let calls = w.headCalls
    let failures = w.headFailures
    let slow = w.headSlow
    const headAt = ringIndex(w.epoch, spec.buckets)
    for (let b = 0; b < spec.buckets; b++) {
      const [c = 0, f = 0, s = 0] = w.counts.slice(b * 3, b * 3 + 3)
      if (b === headAt && c + f + s > 0) return E.left("expected the newest bucket's ring slot to be empty")
      if (f > c || s > c) return E.left(`expected bucket ${b} to have no more failures or slow calls than calls`)
      calls += c
      failures += f
      slow += s
    }
    if (calls !== w.calls || failures !== w.failures || slow !== w.slow) return E.left('expected totals to match the buckets')
    return E.right(timeWindow(w.epoch, calls, failures, slow, w.headCalls, w.headFailures, w.headSlow, w.counts))
  }
  return new t.Type<TimeWindow, TimeWindow, unknown>(
    `a time window of ${spec.buckets} buckets over ${spec.durationMs} ms`,
    (u): u is TimeWindow => E.isRight(validate(u)),
    (u, c) => {
      const r = validate(u)
      return E.isRight(r) ? t.success(r.right) : t.failure(u, c, r.left)
    },
    (w) => timeWindow(w.epoch, w.calls, w.failures, w.slow, w.headCalls, w.headFailures, w.headSlow, w.counts.slice()),
  )
}

// ---- instances ---------------------------------------------------------------------------

/**
 * Time windows of one spec form a monoid: `concat` rotates both to the later epoch and adds the
 * buckets (two breakers' windows merge into one), `empty` is a window older than any time.
 */
export const getTimeWindowMonoid = (spec: TimeWindowSpec): M.Monoid<TimeWindow> => ({
  empty: timeWindow(DAWN, 0, 0, 0, 0, 0, 0, new Array<number>(spec.buckets * 3).fill(0)),
  concat: (a, b) => {
    const epoch = Math.max(a.epoch, b.epoch)
    const ra = rotateTimeWindowTo(a, spec, epoch)
    const rb = rotateTimeWindowTo(b, spec, epoch)
    return timeWindow(
      epoch,
      ra.calls + rb.calls,
      ra.failures + rb.failures,
      ra.slow + rb.slow,
      ra.headCalls + rb.headCalls,
      ra.headFailures + rb.headFailures,
      ra.headSlow + rb.headSlow,
      ra.counts.map((x, i) => x + (rb.counts[i] ?? 0)),
    )
  },
})
