/**
 * The shared body of `anyOf` and `allOf`: a detector made of member detectors, each counting in
 * its own state, combined by a trip rule. Members are any detectors, the library's or yours.
 */

import * as t from 'io-ts'
import { ConfigError, problem } from './ConfigError.js'
import { validateAt } from './codecs.js'
import { canonical, type Detector, type DetectorSnapshot, handoffLeaves, type StateCodec } from './Detector.js'
import * as E from './either.js'
import { Limits } from './Limits.js'
import { kindOf, partProblem } from './PartShapes.js'

// ---- model -------------------------------------------------------------------------------

/** State of a composite detector: its members' states, in order. */
export interface CompositeState {
  /** `any-of` or `all-of`. */
  readonly kind: string
  /** Each member's state, in config order. */
  readonly detectors: ReadonlyArray<unknown>
}

/** Nesting depth of the composites built here (a leaf, or a detector built elsewhere, is 1 deep). */
const depths = new WeakMap<object, number>()
const depthOf = (detector: Detector<unknown>): number => depths.get(detector) ?? 1

// ---- constructors ------------------------------------------------------------------------

/** Checks that `detectors` is an array of 1 to `maxDetectorMembers` detectors (each named by its index when it is not one). */
const checkMembers = (detectors: unknown): void => {
  if (!Array.isArray(detectors)) throw new ConfigError([problem('detectors', `expected an array of detectors, got ${kindOf(detectors)}`)])
  const count = detectors.length
  if (count === 0) throw new ConfigError([problem('detectors', `expected 1 to ${Limits.maxDetectorMembers} detectors, got none`)])
  if (count > Limits.maxDetectorMembers)
    throw new ConfigError([problem('detectors', `expected at most ${Limits.maxDetectorMembers} detectors, got ${count}`)])
  const bad = detectors.flatMap((d, i) => partProblem(`detectors[${i}]`, 'a detector', d) ?? [])
  if (bad.length > 0) throw new ConfigError(bad)
}

/**
 * Builds a composite of `kind` over `detectors` that trips when `trips(member results)` holds.
 * Throws a `ConfigError` beyond {@link Limits} (members, nesting depth), with no members, or with a
 * member that is not a detector.
 */
export const composite = (
  kind: string,
  detectors: ReadonlyArray<Detector<unknown>>,
  trips: (count: number, tripped: (i: number) => boolean) => boolean,
): Detector<CompositeState> => {
  checkMembers(detectors)
  const count = detectors.length
  const depth = 1 + Math.max(...detectors.map(depthOf))
  if (depth > Limits.maxDetectorDepth) {
    throw new ConfigError([
      { path: 'detectors', message: `detectors: expected nesting at most ${Limits.maxDetectorDepth} deep, got ${depth}` },
    ])
  }
  const config = { kind, detectors: detectors.map((d) => d.config) }
  const state = (members: ReadonlyArray<unknown>): CompositeState => ({ kind, detectors: members })

  const mapStates = (s: CompositeState, f: (d: Detector<unknown>, member: unknown) => unknown): CompositeState => {
    let next: unknown[] | undefined
    for (let i = 0; i < count; i++) {
      const d = detectors[i] as Detector<unknown>
      const member = s.detectors[i]
      const updated = f(d, member)
      if (updated !== member) {
        next ??= s.detectors.slice()
        next[i] = updated
      }
    }
    return next === undefined ? s : state(next)
  }

  const codec: StateCodec<CompositeState> = {
    validate: (u, c) => {
      if (typeof u !== 'object' || u === null || (u as { kind?: unknown }).kind !== kind) return t.failure(u, c, `expected ${kind} state`)
      const states = (u as { detectors?: unknown }).detectors
      if (!Array.isArray(states) || states.length !== count) return t.failure(u, c, `expected ${count} detector states`)
      const out: unknown[] = []
      for (let i = 0; i < count; i++) {
        const d = detectors[i] as Detector<unknown>
        const r = validateAt(d.codec, states[i], c, `detectors[${i}]`)
        if (E.isLeft(r)) return r
        out.push(r.right)
      }
      return t.success(state(out))
    },
    encode: (s) => ({ kind, detectors: s.detectors.map((member, i) => (detectors[i] as Detector<unknown>).codec.encode(member)) }),
  }

  const rates = detectors.map((d) => d.failureRateThreshold).filter((r): r is number => r !== undefined)
  const detector: Detector<CompositeState> = {
    kind,
    config,
    key: canonical(config),
    initial: (now) => state(detectors.map((d) => d.initial(now))),
    record: (s, failed, latencyMs, now, overdueMs) => mapStates(s, (d, member) => d.record(member, failed, latencyMs, now, overdueMs)),
    advance: (s, now) => mapStates(s, (d, member) => d.advance(member, now)),
    rebase: (s, deltaMs, now) => mapStates(s, (d, member) => (d.rebase === undefined ? d.initial(now) : d.rebase(member, deltaMs, now))),
    tripped: (s) => trips(count, (i) => (detectors[i] as Detector<unknown>).tripped(s.detectors[i])),
    measure: (s): ReadonlyArray<DetectorSnapshot> => detectors.flatMap((d, i) => d.measure(s.detectors[i])),
    members: (s) => detectors.map((d, i) => [d, s.detectors[i]] as const),
    share: (s) => detectors.flatMap((d, i) => (d.share === undefined ? [] : d.share(s.detectors[i]))),
    absorb: (s, evidence, now) => mapStates(s, (d, member) => (d.absorb === undefined ? member : d.absorb(member, evidence, now))),
    // Carry each member's counts from a member of the old detector that counts the same way.
    adopt: (from, now) => {
      const leaves = new Map<string, unknown>()
      for (const h of handoffLeaves(from)) if (!leaves.has(h.key)) leaves.set(h.key, h.state)
      return state(detectors.map((d) => (leaves.has(d.key) ? leaves.get(d.key) : (d.adopt?.(from, now) ?? d.initial(now)))))
    },
    codec,
  }
  const counting = countingRunningCalls(detector, detectors, mapStates)
  const built = rates.length === 0 ? counting : { ...counting, failureRateThreshold: Math.min(...rates) }
  depths.set(built, depth)
  return built
}

/**
 * `detector`, counting calls still running through those of its members that do (see
 * `Detector.overdue`): from the smallest of their thresholds. `detector` itself where none does.
 */
const countingRunningCalls = (
  detector: Detector<CompositeState>,
  detectors: ReadonlyArray<Detector<unknown>>,
  mapStates: (s: CompositeState, f: (d: Detector<unknown>, member: unknown) => unknown) => CompositeState,
): Detector<CompositeState> => {
  const thresholds = detectors.map((d) => d.overdueAfterMs).filter((ms): ms is number => ms !== undefined)
  if (thresholds.length === 0) return detector
  return {
    ...detector,
    overdueAfterMs: Math.min(...thresholds),
    overdue: (s, elapsedMs, now) => mapStates(s, (d, member) => (d.overdue === undefined ? member : d.overdue(member, elapsedMs, now))),
  }
}
