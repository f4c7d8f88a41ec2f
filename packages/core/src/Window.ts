/**
 * The windows detectors count in, behind one interface: a count window (last N calls) or a time
 * window (last D ms in B buckets).
 */
import type * as M from 'fp-ts/lib/Monoid.js'
import type * as t from 'io-ts'
import { addToCountWindow, type CountWindow, countWindowCodec, emptyCountWindow, getCountWindowMonoid } from './CountWindow.js'
import { DurationMs, intIn, literal, refine, struct, tagged } from './codecs.js'
import { Limits } from './Limits.js'
import {
  addToTimeWindowAt,
  emptyTimeWindow,
  epochOf,
  getTimeWindowMonoid,
  rotateTimeWindowTo,
  shiftTimeWindow,
  type TimeWindow,
  timeWindowCodec,
} from './TimeWindow.js'

// ---- model -------------------------------------------------------------------------------

/** Which window to count in. */
export type WindowSpec = CountWindowSpec | TimeWindowSpecTagged

/** The last `size` calls. */
export interface CountWindowSpec {
  /** A count window. */
  readonly kind: 'count'
  /** The last `size` calls. */
  readonly size: number
}

/** The last `durationMs`, in `buckets` buckets (a bucket spans `durationMs / buckets`). */
export interface TimeWindowSpecTagged {
  /** A time window. */
  readonly kind: 'time'
  /** The last `durationMs` ms. */
  readonly durationMs: number
  /** In this many buckets (the window moves a bucket at a time). */
  readonly buckets: number
}

/** A window's state: either kind. */
export type WindowState = CountWindow | TimeWindow

/** Operations on the windows of one spec. */
export interface WindowOps<W extends WindowState> {
  /** The window's spec. */
  readonly spec: WindowSpec
  /** An empty window at `now`. */
  initial(now: number): W
  /** The window with one more call (failed or not, slow or not) at `now`. */
  add(window: W, failed: boolean, slow: boolean, now: number): W
  /** The window at `now`: buckets older than its duration dropped. */
  advance(window: W, now: number): W
  /** Moves the window's times by `deltaMs` (the clock jumped). */
  rebase(window: W, deltaMs: number): W
  /** Reads and writes the window as JSON-safe data. */
  readonly codec: t.Type<W, W, unknown>
  /** Adds two windows of the same spec (a fleet's counts to this replica's). */
  readonly monoid: M.Monoid<W>
}

// ---- codecs ------------------------------------------------------------------------------

/**
 * Config codec of a window spec, within {@link Limits}: a count window of at most
 * `maxCountWindowSize` calls; a time window of at most `maxTimeWindowBuckets` buckets, each at
 * least 1 ms wide.
 */
export const WindowSpec: t.Type<WindowSpec, WindowSpec, unknown> = tagged('a window', {
  count: struct('a count window', { kind: literal('count'), size: intIn(1, Limits.maxCountWindowSize) }),
  time: refine(
    struct('a time window', {
      kind: literal('time'),
      durationMs: DurationMs,
      buckets: intIn(1, Limits.maxTimeWindowBuckets),
    }),
    (w) =>
      w.durationMs / w.buckets < 1
        ? {
            path: 'buckets',
            value: w.buckets,
            message: `expected at most durationMs (${w.durationMs}) buckets (a bucket spans at least 1 ms), got ${w.buckets}`,
          }
        : undefined,
  ),
})

// ---- constructors ------------------------------------------------------------------------

/** The operations for a window spec. */
export const windowOps = (spec: WindowSpec): WindowOps<WindowState> => {
  if (spec.kind === 'count') {
    const size = spec.size
    const ops: WindowOps<CountWindow> = {
      spec,
      initial: () => emptyCountWindow(size),
      add: (w, failed, slow) => addToCountWindow(w, size, failed, slow),
      advance: (w) => w,
      rebase: (w) => w,
      codec: countWindowCodec(size),
      monoid: getCountWindowMonoid(size),
    }
    return ops as WindowOps<WindowState>
  }
  const timeSpec = { durationMs: spec.durationMs, buckets: spec.buckets }
  // The bucket of a time, with the width computed once (a division per outcome is measurable).
  const width = spec.durationMs / spec.buckets
  const epochAt = (now: number): number => {
    const e = Math.floor(now / width)
    return Number.isSafeInteger(e) ? e : epochOf(timeSpec, now)
  }
  const ops: WindowOps<TimeWindow> = {
    spec,
    initial: (now) => emptyTimeWindow(timeSpec, now),
    add: (w, failed, slow, now) => addToTimeWindowAt(w, timeSpec, failed, slow, epochAt(now)),
    advance: (w, now) => rotateTimeWindowTo(w, timeSpec, epochAt(now)),
    rebase: (w, deltaMs) => shiftTimeWindow(w, timeSpec, Math.floor(deltaMs / (timeSpec.durationMs / timeSpec.buckets))),
    codec: timeWindowCodec(timeSpec),
    monoid: getTimeWindowMonoid(timeSpec),
  }
  return ops as WindowOps<WindowState>
}
