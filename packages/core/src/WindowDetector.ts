/**
 * The shared body of the window-based detectors (failure count, failure rate, slow-call rate):
 * each records outcomes into a window and differs only in its trip condition.
 *
 * Time-window detectors also share evidence with a fleet (`share`, `absorb`): once they absorb the
 * other replicas' counts, their state becomes a {@link SharedWindow} (their own window and the
 * others', rotated together) and they trip on the sum. Count windows (the last N calls of this
 * process) have no buckets in common with anyone's, so they neither share nor absorb.
 */

import * as t from 'io-ts'
import { type Counts, rateOf } from './Counts.js'
import { validateAt } from './codecs.js'
import { canonical, type Detector, type DetectorSnapshot, type StateCodec } from './Detector.js'
import { type Evidence, type EvidenceBucket, isEvidence } from './Evidence.js'
import * as E from './either.js'
import { ringIndex, rotateTimeWindowTo, type TimeWindow, timeWindow, timeWindowBuckets } from './TimeWindow.js'
import { type WindowSpec, type WindowState, windowOps } from './Window.js'

/** What distinguishes one window detector from another. */
export interface WindowDetectorSpec {
  /** The detector's kind. */
  readonly kind: string
  /** The decoded config, as it appears in snapshots and keys. */
  readonly config: { readonly window: WindowSpec }
  /** A call at least this slow counts as slow (`Infinity`: slowness is not tracked). */
  readonly slowCallMs: number
  /** Calls the window must hold before a rate exists. */
  readonly minimumCalls: number
  /** The trip condition over the counts judged (this replica's, plus the fleet's once absorbed). */
  readonly tripped: (counts: Counts) => boolean
  /** The failure rate at which it trips, if it trips on one (for `Snapshot.failureRateThreshold`). */
  readonly failureRateThreshold?: number
}

/**
 * A time window detector's state once it has absorbed a fleet's evidence: its own window (what it
 * shares) and the sum of the other replicas' (what it absorbed), always at the same epoch.
 */
export interface SharedWindow {
  /** Always `shared`. */
  readonly kind: 'shared'
  /** This replica's own window. */
  readonly local: TimeWindow
  /** The rest of the fleet's window, rebuilt from its evidence. */
  readonly remote: TimeWindow
}

/** A window detector's state: its window, or its window and a fleet's. */
export type WindowDetectorState = WindowState | SharedWindow

/**
 * The rest of the fleet's window, rebuilt from its evidence at this replica's epoch: buckets older
 * than the window fall out, buckets ahead of it (a peer's clock runs a little fast) count in the
 * newest bucket. `undefined` when no entry is this detector's (same key, bucket size and span).
 */
const othersWindow = (
  time: { readonly durationMs: number; readonly buckets: number },
  key: string,
  bucketMs: number,
  local: TimeWindow,
  evidence: ReadonlyArray<Evidence>,
): TimeWindow | undefined => {
  const mine = evidence.filter((e) => isEvidence(e) && e.key === key && e.bucketMs === bucketMs && e.span === time.buckets)
  if (mine.length === 0) return undefined
  const counts = new Array<number>(time.buckets * 3).fill(0)
  let [calls, failures, slow, headCalls, headFailures, headSlow] = [0, 0, 0, 0, 0, 0]
  for (const e of mine)
    for (const [epoch, c, f, sl] of e.buckets) {
      if (epoch <= local.epoch - time.buckets) continue
      calls += c
      failures += f
      slow += sl
      if (epoch >= local.epoch) {
        headCalls += c
        headFailures += f
        headSlow += sl
      } else {
        const at = ringIndex(epoch, time.buckets) * 3
        counts[at] = (counts[at] ?? 0) + c
        counts[at + 1] = (counts[at + 1] ?? 0) + f
        counts[at + 2] = (counts[at + 2] ?? 0) + sl
      }
    }
  return timeWindow(local.epoch, calls, failures, slow, headCalls, headFailures, headSlow, counts)
}

/** Builds a detector counting in `spec.config.window` that trips when `spec.tripped(counts)` holds. */
export const windowDetector = (spec: WindowDetectorSpec): Detector<WindowDetectorState> => {
  const ops = windowOps(spec.config.window)
  const { kind, slowCallMs, minimumCalls } = spec
  const tracksSlow = slowCallMs < Number.POSITIVE_INFINITY
  const key = canonical(spec.config)
  const window = spec.config.window
  const time = window.kind === 'time' ? { durationMs: window.durationMs, buckets: window.buckets } : undefined
  const bucketMs = time === undefined ? 0 : time.durationMs / time.buckets

  /** Both windows moved to the local window's epoch (the remote one never leads). */
  const shared = (local: TimeWindow, remote: TimeWindow): SharedWindow => ({
    kind: 'shared',
    local,
    remote: time === undefined ? remote : rotateTimeWindowTo(remote, time, local.epoch),
  })
  const judged = (s: WindowDetectorState): Counts =>
    s.kind === 'shared'
      ? { calls: s.local.calls + s.remote.calls, failures: s.local.failures + s.remote.failures, slow: s.local.slow + s.remote.slow }
      : s

  const measureOne = (s: WindowDetectorState): DetectorSnapshot => {
    const c = judged(s)
    const base: DetectorSnapshot = {
      kind,
      calls: c.calls,
      failures: c.failures,
      slowCalls: tracksSlow ? c.slow : null,
      failureRate: rateOf(c.failures, c.calls, minimumCalls),
      slowCallRate: tracksSlow ? rateOf(c.slow, c.calls, minimumCalls) : null,
      consecutiveFailures: null,
    }
    return s.kind === 'shared'
      ? { ...base, figures: { localCalls: s.local.calls, localFailures: s.local.failures, fleetCalls: s.remote.calls } }
      : base
  }

  const detector: Detector<WindowDetectorState> = {
    kind,
    config: spec.config,
    key,
    initial: (now) => ops.initial(now),
    record: (s, failed, latencyMs, now) => {
      const slow = latencyMs >= slowCallMs
      if (s.kind !== 'shared') return ops.add(s, failed, slow, now)
      return shared(ops.add(s.local, failed, slow, now) as TimeWindow, s.remote)
    },
    advance: (s, now) => {
      if (s.kind !== 'shared') return ops.advance(s, now)
      const local = ops.advance(s.local, now) as TimeWindow
      return local === s.local ? s : shared(local, s.remote)
    },
    rebase: (s, deltaMs) =>
      s.kind !== 'shared'
        ? ops.rebase(s, deltaMs)
        : { kind: 'shared', local: ops.rebase(s.local, deltaMs) as TimeWindow, remote: ops.rebase(s.remote, deltaMs) as TimeWindow },
    // The fleet's counts can make a replica trip sooner, never later: its own window meeting the
    // condition trips it whatever the others' say (a local fault opens as fast as alone).
    tripped: (s) => spec.tripped(judged(s)) || (s.kind === 'shared' && spec.tripped(s.local)),
    measure: (s): ReadonlyArray<DetectorSnapshot> => [measureOne(s)],
    codec: time === undefined ? ops.codec : sharedCodec(ops.codec as t.Type<TimeWindow, TimeWindow, unknown>),
  }
  const withThreshold0 =
    spec.failureRateThreshold === undefined ? detector : { ...detector, failureRateThreshold: spec.failureRateThreshold }
  const withThreshold = tracksSlow ? countingRunningCalls(withThreshold0, slowCallMs) : withThreshold0
  if (time === undefined) return withThreshold
  return {
    ...withThreshold,
    share: (s) => {
      const local = s.kind === 'shared' ? s.local : (s as TimeWindow)
      const buckets = timeWindowBuckets(local, time).map(([epoch, c]): EvidenceBucket => [epoch, c.calls, c.failures, c.slow])
      return [{ key, bucketMs, span: time.buckets, buckets }]
    },
    absorb: (s, evidence, now) => {
      const local = ops.advance(s.kind === 'shared' ? s.local : s, now) as TimeWindow
      const remote = othersWindow(time, key, bucketMs, local, evidence)
      return remote === undefined ? local : { kind: 'shared', local, remote }
    },
  }
}

/**
 * A detector that counts slow calls, counting a call still running once it is `slowCallMs` old
 * (see `Detector.overdue`): as slow and not failed, then skipped when it ends.
 */
const countingRunningCalls = (detector: Detector<WindowDetectorState>, slowCallMs: number): Detector<WindowDetectorState> => {
  const record = detector.record
  return {
    ...detector,
    overdueAfterMs: slowCallMs,
    record: (s, failed, latencyMs, now, overdueMs) =>
      overdueMs !== undefined && overdueMs >= slowCallMs ? s : record(s, failed, latencyMs, now),
    overdue: (s, elapsedMs, now) => (elapsedMs >= slowCallMs ? record(s, false, elapsedMs, now) : s),
  }
}

/** The codec of a time window detector's state: its window, or its window and the fleet's at the same epoch. */
const sharedCodec = (windowCodec: t.Type<TimeWindow, TimeWindow, unknown>): StateCodec<WindowDetectorState> => ({
  validate: (u, c) => {
    if (typeof u !== 'object' || u === null || (u as { kind?: unknown }).kind !== 'shared') return windowCodec.validate(u, c)
    const { local, remote } = u as { local?: unknown; remote?: unknown }
    const l = validateAt(windowCodec, local, c, 'local', windowCodec)
    if (E.isLeft(l)) return l
    const r = validateAt(windowCodec, remote, c, 'remote', windowCodec)
    if (E.isLeft(r)) return r
    if (r.right.epoch !== l.right.epoch) return t.failure(u, c, 'expected the fleet window at the epoch of the local window')
    return t.success<WindowDetectorState>({ kind: 'shared', local: l.right, remote: r.right })
  },
  encode: (s) =>
    s.kind === 'shared'
      ? { kind: 'shared', local: windowCodec.encode(s.local), remote: windowCodec.encode(s.remote) }
      : windowCodec.encode(s as TimeWindow),
})
