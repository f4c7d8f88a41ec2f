/**
 * `circuit({ trip, recovery, openFor })`: the three-state machine assembled from a detector, a
 * recovery policy and an open duration. It owns the phases, generations, manual modes and the
 * clock clamp; the parts own their counting.
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import type { BreakerEvent } from './BreakerEvent.js'
import { CircuitState, Mode, type TransitionReason, transitionReasons } from './CircuitState.js'
import { classicHalfOpen } from './ClassicHalfOpen.js'
import { type CircuitConfig, type CircuitConfigInput, type ConfigError, decodeConfig } from './Config.js'
import { Finite, NonNegativeInt, nullable, oneOf, report } from './codecs.js'
import { admitted, type Decision, ignoredInvalid, ignoredStale, recorded, rejected, rejectedForcedOpen } from './Decision.js'
import type { Detector, DetectorSnapshot, DetectorState } from './Detector.js'
import { gradualRecovery } from './GradualRecovery.js'
import { openDuration } from './OpenDuration.js'
import type { Recovery, RecoveryState } from './Recovery.js'
import type { Snapshot, Strategy } from './Strategy.js'
import { detectorFromConfig } from './Trip.js'

// ---- model -------------------------------------------------------------------------------

/** The state of a circuit: plain JSON data, snapshotted and restored by the strategy's codec. */
export interface CircuitData {
  readonly phase: CircuitState
  readonly mode: Mode
  /** Bumped on every transition; outcomes with an older ticket are stale. */
  readonly generation: number
  /** When an open circuit turns half-open; `null` unless open by a trip. */
  readonly openUntil: number | null
  /** Consecutive trips since the last close (the backoff's exponent). */
  readonly trips: number
  /** When the current phase began (also the clock's floor for transitions). */
  readonly since: number
  readonly reason: TransitionReason
  /** The detector's counts: live while closed, frozen while open or half-open, fresh on close. */
  readonly detector: DetectorState
  /** The recovery policy's state while half-open, else `null`. */
  readonly recovery: RecoveryState | null
}

/** A strategy built by {@link circuit}: also exposes its config and parts. */
export interface CircuitStrategy extends Strategy<CircuitData> {
  readonly config: CircuitConfig
  readonly detector: Detector
  readonly recovery: Recovery
}

/**
 * Every `CircuitData` is built here: one shape for all states, so property reads on the hot path
 * stay monomorphic (an object spread with overrides is also several times slower in V8).
 */
export const circuitData = (
  phase: CircuitState,
  mode: Mode,
  generation: number,
  openUntil: number | null,
  trips: number,
  since: number,
  reason: TransitionReason,
  detector: DetectorState,
  recovery: RecoveryState | null,
): CircuitData => ({ phase, mode, generation, openUntil, trips, since, reason, detector, recovery })

const withDetector = (s: CircuitData, detector: DetectorState): CircuitData =>
  circuitData(s.phase, s.mode, s.generation, s.openUntil, s.trips, s.since, s.reason, detector, s.recovery)

const withRecovery = (s: CircuitData, recovery: RecoveryState): CircuitData =>
  circuitData(s.phase, s.mode, s.generation, s.openUntil, s.trips, s.since, s.reason, s.detector, recovery)

// ---- constructors ------------------------------------------------------------------------

/**
 * Builds a circuit strategy from a config (see {@link CircuitConfigInput}). Throws a
 * {@link ConfigError} naming every bad field; use {@link fromConfig} for an `Either` instead.
 *
 * @example
 * import { BreakerEvent, circuit } from '@datapunk/breaker'
 * const strategy = circuit({
 *   trip: { kind: 'consecutive-failures', threshold: 2 },
 *   recovery: { kind: 'classic', probes: 1 },
 *   openFor: { kind: 'constant', ms: 1000 },
 * })
 * let state = strategy.initial(0)
 * for (const at of [0, 10]) {
 *   const [afterRequest, ticket] = strategy.step(state, BreakerEvent.requested(), at)
 *   if (ticket._tag !== 'Admitted') break
 *   ;[state] = strategy.step(afterRequest, BreakerEvent.failed(ticket, 5), at + 5)
 * }
 * strategy.inspect(state).state // 'open'
 * strategy.step(state, BreakerEvent.requested(), 20)[1] // { _tag: 'Rejected', reason: 'open', retryAfterMs: 995 }
 */
export const circuit = (input: CircuitConfigInput): CircuitStrategy => {
  const decoded = decodeConfig(input)
  if (E.isLeft(decoded)) throw decoded.left
  return fromDecodedConfig(decoded.right)
}

/**
 * Decodes `input` (e.g. parsed JSON) and builds the strategy, or returns a {@link ConfigError}
 * whose message names each bad path, what was expected and what was given.
 *
 * @example
 * import { fromConfig } from '@datapunk/breaker'
 * const result = fromConfig({ trip: { kind: 'failure-rate', treshold: 0.5, window: { kind: 'count', size: 10 } } })
 * result._tag === 'Left' && result.left.message
 * // 'trip.treshold: unknown key (expected only kind, threshold, window, minimumCalls)\ntrip.threshold: missing (expected a ratio in (0, 1])'
 */
export const fromConfig = (input: unknown): E.Either<ConfigError, CircuitStrategy> => E.map(fromDecodedConfig)(decodeConfig(input))

/** Builds the strategy of an already decoded config. */
export const fromDecodedConfig = (config: CircuitConfig): CircuitStrategy => {
  const detector = detectorFromConfig(config.trip)
  const recovery: Recovery = (
    config.recovery.kind === 'classic' ? classicHalfOpen(config.recovery) : gradualRecovery(config.recovery)
  ) as Recovery
  const { openFor } = config

  // ---- transitions (each bumps the generation) ----

  const trip = (s: CircuitData, detectorState: DetectorState, at: number, reason: TransitionReason): CircuitData => {
    const trips = s.trips + 1
    return circuitData(
      CircuitState.Open,
      Mode.Normal,
      s.generation + 1,
      at + openDuration(openFor, trips),
      trips,
      at,
      reason,
      detectorState,
      null,
    )
  }

  const halfOpen = (s: CircuitData, at: number): CircuitData =>
    circuitData(CircuitState.HalfOpen, Mode.Normal, s.generation + 1, null, s.trips, at, 'open-elapsed', s.detector, recovery.start(at))

  const close = (s: CircuitData, at: number, reason: TransitionReason, mode: Mode): CircuitData =>
    circuitData(
      CircuitState.Closed,
      mode,
      s.generation + 1,
      null,
      reason === 'disabled' ? s.trips : 0,
      at,
      reason,
      detector.initial(at),
      null,
    )

  const applyVerdict = (s: CircuitData, verdict: RecoveryState | 'close' | 'reopen', at: number): CircuitData =>
    verdict === 'close'
      ? close(s, at, 'recovered', Mode.Normal)
      : verdict === 'reopen'
        ? trip(s, s.detector, at, 'recovery-failed')
        : verdict === s.recovery
          ? s
          : withRecovery(s, verdict)

  // ---- the reducer ----

  // Results are immutable values, so identical inputs may share one. A one-entry memo of the
  // closed-state results turns the steady state of a healthy breaker (the state object does not
  // change between calls) into a comparison instead of two allocations per step.
  let closedAdmitState: CircuitData | undefined
  let closedAdmitResult: readonly [CircuitData, Decision] = [
    circuitData(CircuitState.Closed, Mode.Normal, -1, null, 0, 0, 'initial', detector.initial(0), null),
    admitted(0, false),
  ]
  let unchangedState: CircuitData | undefined
  let unchangedResult: readonly [CircuitData, Decision] = closedAdmitResult

  const admitClosed = (s: CircuitData): readonly [CircuitData, Decision] => {
    if (s === closedAdmitState) return closedAdmitResult
    const previous = closedAdmitResult[1]
    const decision = previous._tag === 'Admitted' && previous.generation === s.generation ? previous : admitted(s.generation, false)
    closedAdmitState = s
    closedAdmitResult = [s, decision]
    return closedAdmitResult
  }

  const recordedUnchanged = (s: CircuitData): readonly [CircuitData, Decision] => {
    if (s !== unchangedState) {
      unchangedState = s
      unchangedResult = [s, recorded]
    }
    return unchangedResult
  }

  const onRequest = (s: CircuitData, now: number): readonly [CircuitData, Decision] => {
    if (s.phase === CircuitState.Closed) return admitClosed(s)
    let state = s
    if (s.phase === CircuitState.Open) {
      if (s.mode === Mode.ForcedOpen || s.openUntil === null) return [s, rejectedForcedOpen]
      if (!(now >= s.openUntil)) return [s, rejected('open', s.openUntil - now)]
      state = halfOpen(s, now)
    }
    const before = state.recovery
    if (before === null) return [state, rejectedForcedOpen]
    const after = recovery.request(before, now)
    if (recovery.inFlight(after) > recovery.inFlight(before)) {
      return [withRecovery(state, after), admitted(state.generation, true)]
    }
    return [after === before ? state : withRecovery(state, after), recovery.rejection(after, now)]
  }

  const onOutcome = (
    s: CircuitData,
    event: { readonly ticket: unknown; readonly latencyMs: number },
    failed: boolean,
    now: number,
  ): readonly [CircuitData, Decision] => {
    const latencyMs = event.latencyMs
    if (!(latencyMs >= 0 && latencyMs < Number.POSITIVE_INFINITY)) return [s, ignoredInvalid]
    const ticket = event.ticket as { readonly generation?: unknown } | null | undefined
    if (ticket == null || ticket.generation !== s.generation) return [s, ignoredStale]
    if (s.phase === CircuitState.Closed) {
      const counted = detector.record(s.detector, failed, latencyMs, now)
      if (s.mode === Mode.Normal && detector.tripped(counted)) return [trip(s, counted, now, 'tripped'), recorded]
      return counted === s.detector ? recordedUnchanged(s) : [withDetector(s, counted), recorded]
    }
    if (s.phase === CircuitState.HalfOpen && s.recovery !== null && recovery.inFlight(s.recovery) > 0) {
      return [applyVerdict(s, recovery.outcome(s.recovery, failed, latencyMs, now), now), recorded]
    }
    return [s, ignoredStale]
  }

  const onCancel = (s: CircuitData, ticket: unknown): readonly [CircuitData, Decision] => {
    const t = ticket as { readonly generation?: unknown } | null | undefined
    if (t == null || t.generation !== s.generation) return [s, ignoredStale]
    if (s.phase === CircuitState.HalfOpen && s.recovery !== null) {
      if (recovery.inFlight(s.recovery) === 0) return [s, ignoredStale]
      return [withRecovery(s, recovery.cancel(s.recovery)), recorded]
    }
    return [s, s.phase === CircuitState.Closed ? recorded : ignoredStale]
  }

  const onTick = (s: CircuitData, now: number): readonly [CircuitData, Decision] => {
    if (s.phase === CircuitState.Closed) {
      const advanced = detector.advance(s.detector, now)
      return [advanced === s.detector ? s : withDetector(s, advanced), recorded]
    }
    if (s.phase === CircuitState.Open) {
      return [s.openUntil !== null && s.mode === Mode.Normal && now >= s.openUntil ? halfOpen(s, now) : s, recorded]
    }
    return [s.recovery === null ? s : applyVerdict(s, recovery.tick(s.recovery, now), now), recorded]
  }

  const step = (s: CircuitData, event: BreakerEvent, time: number): readonly [CircuitData, Decision] => {
    // Clock clamp: a time before the current phase began (or not a time at all) counts as then.
    const now = time >= s.since && time < Number.POSITIVE_INFINITY ? time : s.since
    switch (event?._tag) {
      case 'CallRequested':
        return onRequest(s, now)
      case 'CallSucceeded':
        return onOutcome(s, event, false, now)
      case 'CallFailed':
        return onOutcome(s, event, true, now)
      case 'CallCancelled':
        return onCancel(s, event.ticket)
      case 'Ticked':
        return onTick(s, now)
      case 'ForcedOpen':
        if (s.mode === Mode.ForcedOpen) return [s, recorded]
        return [
          circuitData(CircuitState.Open, Mode.ForcedOpen, s.generation + 1, null, s.trips, now, 'forced-open', s.detector, null),
          recorded,
        ]
      case 'Disabled':
        if (s.mode === Mode.Disabled) return [s, recorded]
        return [close(s, now, 'disabled', Mode.Disabled), recorded]
      case 'Reset':
        return [close(s, now, 'reset', Mode.Normal), recorded]
      default:
        return [s, ignoredInvalid]
    }
  }

  // ---- inspection ----

  const inspect = (s: CircuitData): Snapshot => {
    const detectors = detector.measure(s.detector)
    const first = <K extends keyof DetectorSnapshot>(key: K): DetectorSnapshot[K] | null => {
      for (const d of detectors) if (d[key] !== null) return d[key]
      return null
    }
    return {
      state: s.phase,
      mode: s.mode,
      generation: s.generation,
      openUntil: s.openUntil,
      since: s.since,
      reason: s.reason,
      trips: s.trips,
      admitRate:
        s.phase === CircuitState.Closed ? 1 : s.phase === CircuitState.Open || s.recovery === null ? 0 : recovery.admitRate(s.recovery),
      calls: first('calls') as number | null,
      failures: first('failures') as number | null,
      slowCalls: first('slowCalls') as number | null,
      failureRate: first('failureRate') as number | null,
      slowCallRate: first('slowCallRate') as number | null,
      consecutiveFailures: first('consecutiveFailures') as number | null,
      detectors,
      recovery: s.phase === CircuitState.HalfOpen && s.recovery !== null ? recovery.measure(s.recovery) : null,
    }
  }

  return {
    name: config.name,
    config,
    detector,
    recovery,
    initial: (now) => {
      const at = Number.isFinite(now) ? now : 0
      return circuitData(CircuitState.Closed, Mode.Normal, 0, null, 0, at, 'initial', detector.initial(at), null)
    },
    step,
    inspect,
    codec: circuitDataCodec(config, detector, recovery),
  }
}

// ---- codecs ------------------------------------------------------------------------------

const Phase = oneOf<CircuitState>([CircuitState.Closed, CircuitState.Open, CircuitState.HalfOpen])
const ModeCodec = oneOf<Mode>([Mode.Normal, Mode.ForcedOpen, Mode.Disabled])
const Reason = oneOf<TransitionReason>(transitionReasons)

const Shell = t.type({
  phase: Phase,
  mode: ModeCodec,
  generation: NonNegativeInt,
  openUntil: nullable(Finite),
  trips: NonNegativeInt,
  since: Finite,
  reason: Reason,
  detector: t.unknown,
  recovery: t.unknown,
})

/**
 * The state codec of one circuit: decoding checks every field, the parts' states against their
 * configs, and that the combination is one the reducer can reach (an open circuit has an
 * `openUntil` unless forced open; only a half-open one has a recovery state).
 */
function circuitDataCodec(config: CircuitConfig, detector: Detector, recovery: Recovery): t.Type<CircuitData, unknown, unknown> {
  return new t.Type<CircuitData, unknown, unknown>(
    `a snapshot of circuit '${config.name}'`,
    (u): u is CircuitData => E.isRight(decodeData(u, t.getDefaultContext(t.unknown))),
    (u, c) => decodeData(u, c),
    (s) => ({
      phase: s.phase,
      mode: s.mode,
      generation: s.generation,
      openUntil: s.openUntil,
      trips: s.trips,
      since: s.since,
      reason: s.reason,
      detector: detector.codec.encode(s.detector),
      recovery: s.recovery === null ? null : recovery.codec.encode(s.recovery),
    }),
  )

  function decodeData(u: unknown, c: t.Context): t.Validation<CircuitData> {
    const shell = Shell.validate(u, c)
    if (E.isLeft(shell)) return shell
    const s = shell.right
    const d = detector.codec.validate(s.detector, t.appendContext(c, 'detector', t.unknown, s.detector))
    if (E.isLeft(d)) return d
    let r: RecoveryState | null = null
    if (s.recovery !== null) {
      const decoded = recovery.codec.validate(s.recovery, t.appendContext(c, 'recovery', t.unknown, s.recovery))
      if (E.isLeft(decoded)) return decoded
      r = decoded.right
    }
    const inconsistent =
      s.phase === CircuitState.HalfOpen
        ? r === null || s.mode !== Mode.Normal
          ? 'a half-open circuit needs a recovery state and mode normal'
          : undefined
        : r !== null
          ? 'only a half-open circuit has a recovery state'
          : s.phase === CircuitState.Open
            ? (s.mode === Mode.ForcedOpen) !== (s.openUntil === null)
              ? 'an open circuit has openUntil unless forced open'
              : undefined
            : s.mode === Mode.ForcedOpen
              ? 'a closed circuit cannot be forced open'
              : undefined
    if (inconsistent !== undefined) return t.failure(u, c, inconsistent)
    return t.success(circuitData(s.phase, s.mode, s.generation, s.openUntil, s.trips, s.since, s.reason, d.right, r))
  }
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
  constructor(readonly problems: ReadonlyArray<string>) {
    super(problems.join('\n'))
  }
}
