/** A circuit state's codec (every field checked, the state reachable from its parts) and `restore`. */

import * as t from 'io-ts'
import { CircuitState, Mode, type TransitionReason, transitionReasons } from '../CircuitState.js'
import { absentOr, Finite, intIn, NonNegativeInt, nullable, numbersOf, oneOf, report, validateAt } from '../codecs.js'
import { PPM } from '../credit.js'
import * as E from '../either.js'
import { Limits } from '../Limits.js'
import type { Strategy } from '../Strategy.js'
import { type CircuitData, type CircuitParts, circuitData, phaseData } from './model.js'
import { maxOpenMs } from './swap.js'

// ---- codecs ------------------------------------------------------------------------------

export const FollowCodec = t.type({ ratePpm: intIn(0, PPM), credit: intIn(0, PPM - 1) })

/** `follow` may be absent: snapshots taken before fleet mode existed have none. */
export const PhaseCodec = t.type({
  state: oneOf<CircuitState>([CircuitState.Closed, CircuitState.Open, CircuitState.HalfOpen]),
  mode: oneOf<Mode>([Mode.Normal, Mode.ForcedOpen, Mode.Isolated, Mode.Disabled]),
  generation: NonNegativeInt,
  openUntil: nullable(Finite),
  trips: NonNegativeInt,
  since: Finite,
  reason: oneOf<TransitionReason>(transitionReasons),
  isolations: numbersOf(NonNegativeInt),
  nextIsolation: NonNegativeInt,
  probesFrom: NonNegativeInt,
  follow: absentOr(nullable(FollowCodec)),
  peakInFlight: absentOr(NonNegativeInt),
  retryUntil: absentOr(nullable(Finite)),
  growsFrom: absentOr(NonNegativeInt),
})

export const Shell = t.type({
  phase: PhaseCodec,
  clock: Finite,
  issued: NonNegativeInt,
  inFlight: NonNegativeInt,
  probes: numbersOf(Finite),
  detector: t.unknown,
  recovery: t.unknown,
})

export const ascending = (xs: ReadonlyArray<number>): boolean => xs.every((x, i) => i === 0 || x > (xs[i - 1] ?? x))

/** Why a decoded shell is a state the reducer could never reach, or `undefined`. */
export const unreachable = <D, R>(p: CircuitParts<D, R>, s: t.TypeOf<typeof Shell>): string | undefined => {
  const ph = s.phase
  if (ph.since > s.clock) return 'expected since at or before clock'
  if (s.inFlight > s.issued) return 'expected at most issued calls in flight'
  if (ph.probesFrom > s.issued || (ph.probesFrom > 0 && ph.state !== CircuitState.HalfOpen))
    return 'expected probesFrom at most issued, and 0 unless half-open'
  if ((ph.growsFrom ?? 0) > s.issued || ((ph.growsFrom ?? 0) > 0 && ph.state !== CircuitState.HalfOpen))
    return 'expected growsFrom at most issued, and 0 unless half-open'
  if (!ascending(ph.isolations) || ph.isolations.some((id) => id >= ph.nextIsolation))
    return 'expected ascending isolation ids below nextIsolation'
  if (ph.isolations.length > 0 && ph.mode !== Mode.Isolated && ph.mode !== Mode.ForcedOpen)
    return 'only an isolated or forced-open circuit holds isolations'
  if (ph.mode === Mode.Isolated && ph.isolations.length === 0) return 'an isolated circuit holds at least one isolation'
  // Times are floats: `since + duration - since` may exceed `duration` by a rounding step at large times.
  const rounding = Math.abs(ph.since) * Number.EPSILON * 4
  if (ph.openUntil !== null && ph.openUntil - ph.since > maxOpenMs(p.openFor, ph.reason) + rounding) {
    return `expected openUntil at most ${maxOpenMs(p.openFor, ph.reason)} ms after since (the longest open duration)`
  }
  switch (ph.state) {
    case CircuitState.HalfOpen: {
      if (s.recovery === null || ph.mode !== Mode.Normal) return 'a half-open circuit needs a recovery state and mode normal'
      if (ph.openUntil !== null) return 'a half-open circuit has no openUntil'
      if (s.probes.length !== s.inFlight * 2) return 'expected one [id, admittedAt] pair per probe in flight'
      const ids = s.probes.filter((_, i) => i % 2 === 0)
      // Probes carried over a swap (ids below probesFrom) may exceed this circuit's own limit.
      const limit = p.learnProbeLimit ? Math.max(p.maxProbesInFlight, 2 * (ph.peakInFlight ?? 0)) : p.maxProbesInFlight
      if (ids.filter((id) => id >= ph.probesFrom).length > limit || s.inFlight > Math.max(Limits.maxProbesInFlight, limit)) {
        return `expected at most ${limit} probes in flight (besides any carried over a swap)`
      }
      const times = s.probes.filter((_, i) => i % 2 === 1)
      if (!ids.every((id) => Number.isSafeInteger(id) && id >= 0 && id < s.issued) || !ascending(ids))
        return 'expected ascending probe ids below issued'
      if (times.some((at) => at > s.clock) || !times.every((at, i) => i === 0 || at >= (times[i - 1] ?? at))) {
        return 'expected probe admission times in order and not after clock'
      }
      return undefined
    }
    case CircuitState.Open:
      if (s.probes.length > 0 || s.issued > 0) return 'an open circuit has no probes or calls'
      if (s.recovery !== null && (p.recovery.restart === undefined || ph.mode !== Mode.Normal || ph.reason !== 'recovery-failed')) {
        return 'an open circuit holds a recovery state only after a failed recovery, for a recovery policy that restarts from it'
      }
      if (ph.mode === Mode.Disabled) return 'an open circuit cannot be disabled'
      return (ph.mode === Mode.Normal) === (ph.openUntil === null) ? 'an open circuit has openUntil exactly when in mode normal' : undefined
    default:
      if (s.recovery !== null || s.probes.length > 0) return 'only a half-open circuit has a recovery state or probes'
      if (ph.openUntil !== null) return 'a closed circuit has no openUntil'
      return ph.mode === Mode.Normal || ph.mode === Mode.Disabled ? undefined : 'a closed circuit is in mode normal or disabled'
  }
}

/**
 * The state codec of one circuit: decoding checks every field, the parts' states with their own
 * codecs, and that the combination is one the reducer can reach.
 */
export function circuitDataCodec<D, R>(name: string, p: CircuitParts<D, R>): t.Type<CircuitData<D, R>, unknown, unknown> {
  const decodeData = (u: unknown, c: t.Context): t.Validation<CircuitData<D, R>> => {
    // A valid state, the usual case, passes `is` (no Eithers, no contexts) and decodes to itself.
    const shell = Shell.is(u) ? t.success(u) : Shell.validate(u, c)
    if (E.isLeft(shell)) return shell
    const s = shell.right
    const why = unreachable(p, s)
    if (why !== undefined) return t.failure(u, c, why)
    const d = validateAt(p.detector.codec, s.detector, c, 'detector')
    if (E.isLeft(d)) return d
    let r: R | null = null
    if (s.recovery !== null) {
      const decoded = validateAt(p.recovery.codec, s.recovery, c, 'recovery')
      if (E.isLeft(decoded)) return decoded
      r = decoded.right
    }
    const ph = s.phase
    return t.success(
      circuitData(
        phaseData(
          ph.state,
          ph.mode,
          ph.generation,
          ph.openUntil,
          ph.trips,
          ph.since,
          ph.reason,
          ph.isolations,
          ph.nextIsolation,
          ph.probesFrom,
          ph.follow ?? null,
          ph.peakInFlight ?? 0,
          ph.retryUntil ?? null,
          ph.growsFrom ?? 0,
        ),
        s.clock,
        s.issued,
        s.inFlight,
        s.probes,
        d.right,
        r,
      ),
    )
  }
  return new t.Type<CircuitData<D, R>, unknown, unknown>(
    `a snapshot of circuit '${name}'`,
    (u): u is CircuitData<D, R> => E.isRight(decodeData(u, t.getDefaultContext(t.unknown))),
    decodeData,
    (s) => ({
      phase: { ...s.phase, isolations: s.phase.isolations.slice() },
      clock: s.clock,
      issued: s.issued,
      inFlight: s.inFlight,
      probes: s.probes.slice(),
      detector: p.detector.codec.encode(s.detector),
      recovery: s.recovery === null ? null : p.recovery.codec.encode(s.recovery),
    }),
  )
}

/**
 * Decodes a snapshot (from `strategy.codec.encode`, e.g. read back from storage) into a state of
 * `strategy`, or a readable error: a corrupt snapshot never yields a half-restored breaker.
 *
 * @example
 * import { circuit, restore } from '@datapunk/breaker'
 * const strategy = circuit({ trip: { kind: 'consecutive-failures', threshold: 3 } })
 * const saved = JSON.stringify(strategy.codec.encode(strategy.initial(0)))
 * restore(strategy, JSON.parse(saved))._tag // 'Right'
 * restore(strategy, { phase: 'ajar' })._tag // 'Left'
 */
export const restore = <S>(strategy: Strategy<S>, snapshot: unknown): E.Either<SnapshotError, S> =>
  E.mapLeft((errors: t.Errors) => new SnapshotError(report(errors).map((p) => p.message)))(strategy.codec.decode(snapshot))

/** A snapshot that does not decode; `message` lists each problem with its path. */
export class SnapshotError extends Error {
  override readonly name = 'SnapshotError'
  constructor(
    /** Every problem found, one line each. */
    readonly problems: ReadonlyArray<string>,
  ) {
    super(problems.join('\n'))
  }
}
