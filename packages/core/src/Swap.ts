import type { Handoff, Strategy } from './Strategy.js'

/**
 * What `from` hands over in `state` (its `handoff`, or its snapshot alone).
 *
 * @example
 * import { circuit, handoffOf } from '@datapunk/breaker'
 * const strategy = circuit({ trip: { kind: 'consecutive-failures', threshold: 3 } })
 * handoffOf(strategy, strategy.initial(0), 0).kind // 'circuit'
 */
export const handoffOf = <A>(from: Strategy<A>, state: A, now: number): Handoff =>
  from.handoff?.(state, now) ?? { kind: 'snapshot', snapshot: from.inspect(state) }

/**
 * Moves a breaker's state from one strategy to another at run time (the seed's runtime strategy
 * swapping), for any two strategies:
 *
 * - if `to` offers `adopt`, it takes over `from`'s hand-off (plain data: see `Handoff`). Circuits adopt another circuit's state part by
 *   part: the phase, mode, generation, `openUntil` (capped by the new open duration), trip count
 *   and calls in flight are kept; the detector's counts are carried where the new detector counts
 *   the same way (equal config, a member with an equal config, or the new detector's own
 *   `adopt`), else it starts empty; a half-open circuit keeps its recovery state if the recovery
 *   config is unchanged, otherwise the new recovery starts afresh in the same generation, and the
 *   probes in flight block new ones until they settle (counted nowhere): a swap never multiplies
 *   the probes in flight. From a strategy of another kind, a circuit keeps what `inspect`
 *   reports (phase, mode, `openUntil`) under a new generation and counts afresh.
 * - otherwise the swap starts from `to.initial(now)`.
 *
 * @example
 * import { circuit, swapStrategy } from '@datapunk/breaker'
 * const lenient = circuit({ trip: { kind: 'consecutive-failures', threshold: 10 } })
 * const strict = circuit({ trip: { kind: 'consecutive-failures', threshold: 3 }, recovery: { kind: 'gradual' } })
 * const state = swapStrategy(lenient, lenient.initial(0), strict, 5)
 * strict.inspect(state).state // 'closed'
 */
export const swapStrategy = <A, B>(from: Strategy<A>, state: A, to: Strategy<B>, now: number): B =>
  to.adopt === undefined ? to.initial(now) : to.adopt(handoffOf(from, state, now), now)
