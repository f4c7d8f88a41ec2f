import * as t from 'io-ts'
import { CircuitState, Mode } from './CircuitState.js'
import { ConfigError, problem } from './ConfigError.js'
import { circuitDataCodec } from './circuit/codec.js'
import { carriedProbes, inspect } from './circuit/inspect.js'
import {
  type CircuitParts,
  type CircuitPartsInput,
  type CircuitStrategy,
  circuitData,
  isTime,
  NO_EVIDENCE,
  NONE,
  phaseData,
} from './circuit/model.js'
import { step, stepInPlace } from './circuit/reducer.js'
import { adopt, handoff } from './circuit/swap.js'
import { intIn, literal } from './codecs.js'
import { Limits } from './Limits.js'
import { kindOf, partProblem } from './PartShapes.js'
import { withInPlace } from './Strategy.js'

export { restore, SnapshotError } from './circuit/codec.js'
export type {
  CircuitConfig,
  CircuitData,
  CircuitHandoff,
  CircuitPartsInput,
  CircuitStrategy,
  FollowData,
  PhaseData,
} from './circuit/model.js'

// ---- constructors ------------------------------------------------------------------------

/** How long a probe may stay in flight before it counts as failed, in ms (a circuit config's `probeTimeoutMs`). */
export const ProbeTimeout = intIn(Limits.minDurationMs, Limits.maxDurationMs)
/** The most probes in flight at once: a number, or `'learned'` (a circuit config's `maxProbesInFlight`). */
export const MaxProbesInFlight = t.union(
  [intIn(1, Limits.maxProbesInFlight), literal('learned')],
  `an integer in [1, ${Limits.maxProbesInFlight}] or 'learned'`,
)

/**
 * Builds a circuit from part values: a detector, a recovery and an open-duration policy, each
 * the library's or your own. Throws a `ConfigError` for half-open limits out of range.
 *
 * @example
 * import { BreakerEvent, circuitOf, classicHalfOpen, constantOpenFor, consecutiveFailures } from '@datapunk/breaker'
 * const strategy = circuitOf({
 *   name: 'payments',
 *   detector: consecutiveFailures({ threshold: 2 }),
 *   recovery: classicHalfOpen({ probes: 1 }),
 *   openFor: constantOpenFor(1000),
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
export const circuitOf = <D, R>(input: CircuitPartsInput<D, R>): CircuitStrategy<D, R> => {
  if (typeof input !== 'object' || input === null)
    throw new ConfigError([problem('', `expected { detector, recovery, openFor }, got ${kindOf(input)}`)])
  const problems = [
    ...[
      partProblem('detector', 'a detector', input.detector),
      partProblem('recovery', 'a recovery', input.recovery),
      partProblem('openFor', 'an open duration', input.openFor),
    ].flatMap((p) => p ?? []),
    ...(input.probeTimeoutMs === undefined || ProbeTimeout.is(input.probeTimeoutMs)
      ? []
      : [problem('probeTimeoutMs', `expected ${ProbeTimeout.name}, got ${String(input.probeTimeoutMs)}`)]),
    ...(input.maxProbesInFlight === undefined || MaxProbesInFlight.is(input.maxProbesInFlight)
      ? []
      : [problem('maxProbesInFlight', `expected ${MaxProbesInFlight.name}, got ${String(input.maxProbesInFlight)}`)]),
  ]
  if (problems.length > 0) throw new ConfigError(problems)
  const p: CircuitParts<D, R> = {
    detector: input.detector,
    recovery: input.recovery,
    openFor: input.openFor,
    probeTimeoutMs: input.probeTimeoutMs ?? Limits.defaultProbeTimeoutMs,
    maxProbesInFlight: typeof input.maxProbesInFlight === 'number' ? input.maxProbesInFlight : Limits.defaultMaxProbesInFlight,
    learnProbeLimit: typeof input.maxProbesInFlight !== 'number',
  }
  const maxProbesInFlight = p.learnProbeLimit ? 'learned' : p.maxProbesInFlight
  const name = input.name ?? 'circuit'
  const strategy: CircuitStrategy<D, R> = {
    name,
    config: {
      name,
      trip: p.detector.config,
      recovery: p.recovery.config,
      openFor: p.openFor.config,
      probeTimeoutMs: p.probeTimeoutMs,
      maxProbesInFlight,
    },
    detector: p.detector,
    recovery: p.recovery,
    openFor: p.openFor,
    probeTimeoutMs: p.probeTimeoutMs,
    maxProbesInFlight,
    ...(p.detector.overdueAfterMs === undefined ? {} : { overdueAfterMs: p.detector.overdueAfterMs }),
    initial: (now) => {
      const at = isTime(now) ? now : 0
      return circuitData<D, R>(
        phaseData(CircuitState.Closed, Mode.Normal, 0, null, 0, at, 'initial', NONE, 1),
        at,
        0,
        0,
        NONE,
        p.detector.initial(at),
        null,
      )
    },
    step: withInPlace(
      (s, event, now) => step(p, s, event, now),
      (s, event, now) => stepInPlace(p, s, event, now),
    ),
    inspect: (s) => inspect(p, s),
    share: (s) => (s.phase.state === CircuitState.Closed && p.detector.share !== undefined ? p.detector.share(s.detector) : NO_EVIDENCE),
    codec: circuitDataCodec(name, p),
    handoff: (s) => handoff(p, s),
    adopt: (from, now) => adopt(p, from, now),
    transitioned: (before, after) =>
      before.phase !== after.phase ||
      (after.recovery !== before.recovery &&
        after.recovery !== null &&
        (before.recovery === null || p.recovery.admitRate(after.recovery) !== p.recovery.admitRate(before.recovery))) ||
      // The last probe carried over a swap settling unblocks admission without any other change.
      (after.phase.probesFrom > 0 && carriedProbes(before) > 0 !== carriedProbes(after) > 0),
  }
  return strategy
}
