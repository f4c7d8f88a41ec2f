import { type CircuitData, type CircuitStrategy, circuitData } from './Circuit.js'
import { CircuitState } from './CircuitState.js'
import { canonical, type Detector, type DetectorState } from './Detector.js'

/**
 * Moves a breaker's state from one circuit strategy to another at run time (the seed's runtime
 * strategy swapping), without losing what the breaker knows:
 *
 * - the phase, mode, generation, `openUntil`, trip count and reason are kept: an open breaker
 *   stays open until the same time, and in-flight calls keep counting;
 * - detector counts are carried where the new detector counts the same way (equal config, or
 *   for `any-of`, each member with an equal config in the old one); others start empty at `now`;
 * - a half-open breaker keeps its recovery state if the recovery config is unchanged; otherwise
 *   the new recovery starts afresh and the generation is bumped, so probes admitted under the
 *   old policy report as stale instead of being counted by a policy that never admitted them.
 *
 * @example
 * import { circuit, swapStrategy } from '@datapunk/breaker'
 * const lenient = circuit({ trip: { kind: 'consecutive-failures', threshold: 10 } })
 * const strict = circuit({ trip: { kind: 'consecutive-failures', threshold: 3 }, recovery: { kind: 'gradual' } })
 * const state = swapStrategy(lenient, lenient.initial(0), strict, 5)
 * strict.inspect(state).state // 'closed'
 */
export const swapStrategy = (from: CircuitStrategy, state: CircuitData, to: CircuitStrategy, now: number): CircuitData => {
  const at = now >= state.since && now < Number.POSITIVE_INFINITY ? now : state.since
  const detector = carryDetector(from.detector, state.detector, to.detector, at)
  const { phase, mode, generation, openUntil, trips, since, reason } = state
  if (phase !== CircuitState.HalfOpen || state.recovery === null || from.recovery.key === to.recovery.key) {
    return circuitData(phase, mode, generation, openUntil, trips, since, reason, detector, state.recovery)
  }
  return circuitData(phase, mode, generation + 1, openUntil, trips, at, 'swapped', detector, to.recovery.start(at))
}

const carryDetector = (from: Detector, state: DetectorState, to: Detector, now: number): DetectorState => {
  if (from.key === to.key) return state
  if (to.config.kind === 'any-of' && state.kind === 'any-of' && from.config.kind === 'any-of') {
    // Match members by config: each new member takes the state of an old member that counts the same way.
    const oldMembers = from.config.detectors.map((config, i) => ({ config, state: state.detectors[i] }))
    const fresh = to.initial(now)
    if (fresh.kind !== 'any-of') return fresh
    const members = to.config.detectors.map((config, i) => {
      const match = oldMembers.find((m) => keyOf(m.config) === keyOf(config))
      return match?.state ?? fresh.detectors[i]
    })
    return members.every((m): m is DetectorState => m !== undefined) ? { kind: 'any-of', detectors: members } : fresh
  }
  if (from.config.kind === 'any-of' && state.kind === 'any-of') {
    const index = from.config.detectors.findIndex((config) => keyOf(config) === to.key)
    const match = index >= 0 ? state.detectors[index] : undefined
    if (match !== undefined) return match
  }
  if (to.config.kind === 'any-of') {
    const fresh = to.initial(now)
    if (fresh.kind !== 'any-of') return fresh
    return {
      kind: 'any-of',
      detectors: to.config.detectors.map((config, i) => (keyOf(config) === from.key ? state : (fresh.detectors[i] ?? state))),
    }
  }
  return to.initial(now)
}

const keyOf = (config: unknown): string => canonical(config)
