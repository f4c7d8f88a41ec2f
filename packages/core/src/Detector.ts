/**
 * A failure detector watches outcomes while the circuit is closed and says when to trip. It owns
 * its counting state (a counter, a window, an average: any plain data) and nothing else: the
 * circuit owns the phases. The interface is open: a detector you write is a value of the same
 * type as the library's, and composes with them (`anyOf`, `allOf`, `circuitOf`).
 */
import type * as t from 'io-ts'
import type { Evidence } from './Evidence.js'

// ---- model -------------------------------------------------------------------------------

/**
 * Decodes and encodes a part's state (method syntax keeps it variance-friendly, so a
 * `StateCodec<MyState>` is also a `StateCodec<unknown>`). `validate` must check everything: a
 * decoded state goes straight into the reducer.
 */
export interface StateCodec<S> {
  /** Reads a state from JSON-safe data at `context`, checking everything. */
  validate(input: unknown, context: t.Context): t.Validation<S>
  /** Writes the state as JSON-safe data that `validate` reads back. */
  encode(state: S): unknown
}

/** What a detector reports for metrics and UIs. Fields a detector does not track are `null`. */
export interface DetectorSnapshot {
  /** The detector's kind (`'failure-rate'`, or your own). */
  readonly kind: string
  /** Calls in the window (`null` for detectors without a window). */
  readonly calls: number | null
  /** Failures in the window (`null` for detectors without a window). */
  readonly failures: number | null
  /** Slow calls in the window (`null` where slow calls are not tracked). */
  readonly slowCalls: number | null
  /** `failures / calls`, or `null` below `minimumCalls` or where not tracked. */
  readonly failureRate: number | null
  /** `slowCalls / calls`, or `null` below `minimumCalls` or where not tracked. */
  readonly slowCallRate: number | null
  /** The current run of failures (consecutive-failures only). */
  readonly consecutiveFailures: number | null
  /** Any other figures the detector wants on dashboards (an average latency, a score), by name. */
  readonly figures?: Readonly<Record<string, number | null>>
}

/**
 * A detector: pure functions over its own state `S` (any plain data). Methods never throw, never
 * mutate their input, and return the same state object when nothing changed (the circuit then
 * allocates nothing).
 *
 * Write your own by filling in this interface; see `examples/custom-detector`.
 */
export interface Detector<S> {
  /** The kind shown in snapshots and used in configs (`'failure-rate'`, `'ewma-latency'`). */
  readonly kind: string
  /** The JSON config this detector was built from (for `key`, logs and `fromConfig` round-trips). */
  readonly config: unknown
  /** Canonical text of the config: detectors with equal keys count the same way (swaps carry their state). */
  readonly key: string
  /** A fresh state at `now`: nothing counted. */
  initial(now: number): S
  /**
   * Takes one outcome of a call admitted while closed (`latencyMs` is finite and >= 0).
   * `overdueMs`: the call was reported to `overdue` after this long (see there); a detector that
   * counted it then skips it now. Detectors without `overdue` ignore it.
   */
  record(state: S, failed: boolean, latencyMs: number, now: number, overdueMs?: number): S
  /**
   * The slow-call threshold (ms) from which this detector counts a call still running (see
   * `overdue`); a composite has its members' smallest. Absent: it counts calls when they end.
   */
  readonly overdueAfterMs?: number
  /**
   * A call admitted while closed is still running after `elapsedMs` (a handle reports each call
   * once, when it passes the strategy's smallest `overdueAfterMs`): a detector that counts slow
   * calls counts it now, as slow and not failed, if `elapsedMs` reaches its threshold, and skips it
   * when it ends (its `record` then gets `overdueMs` >= its threshold). A detector whose threshold
   * is above `elapsedMs` leaves it to `record`. So each detector counts each call once.
   */
  overdue?(state: S, elapsedMs: number, now: number): S
  /** Lets time pass (time windows expire buckets). */
  advance(state: S, now: number): S
  /** Whether the circuit should open now. */
  tripped(state: S): boolean
  /** Figures for metrics, one entry per detector (composites list their members). */
  measure(state: S): ReadonlyArray<DetectorSnapshot>
  /** Reads and writes its state as JSON-safe data (snapshots, restores, swaps). */
  readonly codec: StateCodec<S>
  /**
   * The caller's clock jumped back by `-deltaMs` (a negative number) to `now`: move every time the
   * state holds by `deltaMs`. Without it, the circuit restarts the detector at `now` (safe for
   * time-based state, but it forgets counts): a detector that holds no times returns `state`.
   */
  rebase?(state: S, deltaMs: number, now: number): S
  /**
   * The failure-rate threshold this detector trips at, if it has one: a recovery's own threshold
   * defaults to the strictest one of the closed detectors (recovery is stricter than closed).
   */
  readonly failureRateThreshold?: number
  /**
   * A composite's members and their states (so a swap can carry a member's counts into a new
   * strategy that has the same member).
   */
  members?(state: S): ReadonlyArray<readonly [Detector<unknown>, unknown]>
  /**
   * Takes over what another detector counted, for a run-time swap: return a state, or `undefined`
   * to start fresh. `from` is plain data (see {@link DetectorHandoff}: the old detector's kind,
   * key, config, state and members); called only when the keys differ (equal keys carry the state
   * as it is).
   */
  adopt?(from: DetectorHandoff, now: number): S | undefined
  /**
   * The counts this detector gathered itself, for other replicas of a fleet (see `Evidence`): one
   * entry per detector that shares (composites list their members'). Counts absorbed from others
   * are never shared back.
   */
  share?(state: S): ReadonlyArray<Evidence>
  /**
   * Takes in what the rest of a fleet counted (the sum of the other replicas' evidence, by key),
   * replacing what was absorbed before: an entry missing for this detector's key means the others
   * counted nothing. `tripped` then judges local and absorbed counts together. Must ignore
   * malformed entries (see `isEvidence`) rather than throw.
   */
  absorb?(state: S, evidence: ReadonlyArray<Evidence>, now: number): S
}

/**
 * What a detector hands to its successor in a run-time swap: plain data, so a swap works the same
 * through wrappers, copies and processes (no object identity involved). Built by
 * {@link detectorHandoff}.
 */
export interface DetectorHandoff {
  /** The detector's kind. */
  readonly kind: string
  /** The canonical config text: a detector with the same key counts the same way. */
  readonly key: string
  /** The config it was built from. */
  readonly config: unknown
  /** Its state, as it stood. */
  readonly state: unknown
  /** A composite's members, each handing off its own state. */
  readonly members: ReadonlyArray<DetectorHandoff>
}

// ---- helpers -----------------------------------------------------------------------------

/**
 * Canonical JSON text of a value (keys sorted), for comparing configs: what `JSON.stringify` writes
 * when every object's keys are sorted first (array-index keys, as ever in JS, ahead of the others in
 * numeric order). Written out rather than through a replacer that rebuilt every object: each part
 * computes its key when it is built, and the replacer was about a third of building a circuit.
 */
export const canonical = (value: unknown): string => written(value, '') ?? 'null'

/** A key JS orders as an array index: ahead of the other keys, in numeric order. */
const isIndex = (k: string): boolean => {
  const c = k.charCodeAt(0)
  if (!(c >= 48 && c <= 57)) return false
  const n = Number(k)
  return Number.isInteger(n) && n >= 0 && n < 4_294_967_295 && String(n) === k
}

/** A key JSON writes as it is, in quotes (nothing to escape). */
const PLAIN_KEY = /^[\w-]*$/

const byKey = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** The canonical text of `v` (the value of `key` in its holder), or `undefined` where JSON writes nothing. */
const written = (value: unknown, key: string): string | undefined => {
  let v = value
  if (typeof v === 'object' && v !== null && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    v = (v as { toJSON: (key: string) => unknown }).toJSON(key)
  }
  if (typeof v !== 'object' || v === null) return JSON.stringify(v)
  if (Array.isArray(v)) {
    let text = '['
    for (let i = 0; i < v.length; i++) text += `${i === 0 ? '' : ','}${written(v[i], String(i)) ?? 'null'}`
    return `${text}]`
  }
  const keys = Object.keys(v).sort(byKey)
  let indices = 0
  for (const k of keys) if (isIndex(k)) indices++
  const ordered = indices === 0 ? keys : [...keys.filter(isIndex).sort((a, b) => Number(a) - Number(b)), ...keys.filter((k) => !isIndex(k))]
  let text = '{'
  for (const k of ordered) {
    const entry = written((v as Record<string, unknown>)[k], k)
    if (entry === undefined) continue
    text += `${text.length === 1 ? '' : ','}${PLAIN_KEY.test(k) ? `"${k}"` : JSON.stringify(k)}:${entry}`
  }
  return `${text}}`
}

/** A snapshot entry with every standard figure `null`: a start for detectors that track few of them. */
export const emptyDetectorSnapshot = (kind: string): DetectorSnapshot => ({
  kind,
  calls: null,
  failures: null,
  slowCalls: null,
  failureRate: null,
  slowCallRate: null,
  consecutiveFailures: null,
})

/** The most levels of members a hand-off holds (configs allow fewer: see `Limits.maxDetectorDepth`). */
const MAX_HANDOFF_DEPTH = 16

/**
 * A detector's hand-off in `state` (see {@link DetectorHandoff}): its kind, key, config and state,
 * and its members' hand-offs (depth first).
 *
 * @example
 * import { consecutiveFailures, detectorHandoff } from '@datapunk/breaker'
 * const detector = consecutiveFailures({ threshold: 3 })
 * const handoff = detectorHandoff(detector, detector.record(detector.initial(0), true, 5, 1))
 * handoff.kind // 'consecutive-failures'
 * handoff.key === detector.key // true
 * detector.measure(handoff.state as never)[0]?.consecutiveFailures // 1
 */
export const detectorHandoff = (detector: Detector<unknown>, state: unknown, depth = 0): DetectorHandoff => ({
  kind: detector.kind,
  key: detector.key,
  config: detector.config,
  state,
  members:
    detector.members === undefined || depth >= MAX_HANDOFF_DEPTH
      ? []
      : detector.members(state).map(([member, memberState]) => detectorHandoff(member, memberState, depth + 1)),
})

/** Every hand-off of a tree, depth first: the root, then its members' (a composite's leaves come after it). */
export const handoffLeaves = (handoff: DetectorHandoff): ReadonlyArray<DetectorHandoff> => {
  const out: DetectorHandoff[] = []
  const visit = (h: DetectorHandoff): void => {
    out.push(h)
    for (const member of h.members) visit(member)
  }
  visit(handoff)
  return out
}

/**
 * The state `to` should start from after a swap from the detector that handed off `from`: the
 * same state when the keys are equal, else what `to.adopt` makes of it, else the state of a member
 * of `from` with the same key, else a fresh one.
 */
export const carryDetectorState = <S>(from: DetectorHandoff, to: Detector<S>, now: number): S => {
  if (from.key === to.key) return from.state as S
  const adopted = to.adopt?.(from, now)
  if (adopted !== undefined) return adopted
  for (const h of handoffLeaves(from)) if (h.key === to.key) return h.state as S
  return to.initial(now)
}
