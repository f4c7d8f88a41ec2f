/**
 * What a breaker runs with, in one field: its name, its clock, the strategy in use and, after a
 * swap, the one it may fall back to. A keyed group holds many breakers that agree on all of them,
 * and most never swap: they share one `Setup` (see `SetupCache`), so an idle breaker pays one
 * field for four. A swap gives the breaker a `Setup` of its own.
 */
import type { Strategy } from '@datapunk/breaker'
import type { Clock } from './Clock.js'
import { checkStrategy } from './checkInput.js'

/** The fallback of a breaker whose strategy threw with none to go back to. */
export const BROKEN: unique symbol = Symbol('broken')

/** Where a breaker goes if its strategy throws: the strategy before the last swap, `BROKEN`, or nowhere. */
export type Fallback = Strategy<unknown> | typeof BROKEN | undefined

export class Setup {
  constructor(
    /** Its name in logs, errors and metrics. */
    readonly name: string,
    /** The clock it reads time from. */
    readonly clock: Clock,
    /** The strategy in use. */
    readonly strategy: Strategy<unknown>,
    /** Where it goes if `strategy` throws (see `Fallback`). */
    readonly fallback: Fallback = undefined,
  ) {}

  /** The same name and clock with `strategy` in use and `fallback` behind it. */
  with(strategy: Strategy<unknown>, fallback: Fallback): Setup {
    return new Setup(this.name, this.clock, strategy, fallback)
  }
}

/** How many setups a cache keeps before it starts over (a group whose keys each get their own strategy). */
const CACHED = 16

/**
 * Setups without a fallback, shared by the breakers that run the same strategy on the same clock
 * under its name (a keyed group's breakers; one that `nameFor` names keeps its own name beside
 * the shared setup). Bounded: past `CACHED` strategies it starts over, so a group that gives every
 * key its own strategy holds no setup for keys it dropped.
 */
export class SetupCache {
  private readonly setups = new Map<Strategy<unknown>, Setup>()

  constructor(private readonly clock: Clock) {}

  setupFor(strategy: Strategy<unknown>): Setup {
    const cached = this.setups.get(strategy)
    if (cached !== undefined) return cached
    // Checked once per strategy the cache meets (a group's `strategyFor` that returns anything else
    // fails the `get` that asked, before a breaker exists).
    checkStrategy('breakerGroup: strategyFor(key)', strategy)
    const setup = new Setup(strategy.name, this.clock, strategy)
    if (this.setups.size >= CACHED) this.setups.clear()
    this.setups.set(strategy, setup)
    return setup
  }
}
