/**
 * A breaker's strategy and, after a swap, the one it may fall back to, in one field: a keyed group
 * holds many breakers, and most never swap. The slot is the strategy itself until a swap (or a
 * strategy that threw with nothing to go back to) makes it a `Swapped`.
 */
import type { Strategy } from '@datapunk/breaker'

/** The fallback of a breaker whose strategy threw with none to go back to. */
export const BROKEN: unique symbol = Symbol('broken')

/** Where a breaker goes if its strategy throws: the strategy before the last swap, `BROKEN`, or nowhere. */
export type Fallback = Strategy<unknown> | typeof BROKEN | undefined

/** A strategy in use with its fallback. */
class Swapped {
  constructor(
    readonly strategy: Strategy<unknown>,
    readonly fallback: Strategy<unknown> | typeof BROKEN,
  ) {}
}

/** A strategy, or a strategy with its fallback. */
export type StrategySlot = Strategy<unknown> | Swapped

/** The strategy in use. */
export const strategyIn = (slot: StrategySlot): Strategy<unknown> => (slot instanceof Swapped ? slot.strategy : slot)

/** Its fallback. */
export const fallbackIn = (slot: StrategySlot): Fallback => (slot instanceof Swapped ? slot.fallback : undefined)

/** The slot of `strategy` with `fallback`. */
export const slotOf = (strategy: Strategy<unknown>, fallback: Fallback): StrategySlot =>
  fallback === undefined ? strategy : new Swapped(strategy, fallback)
