/**
 * The checks at the simulator's programmatic entry points (`simulate`, `simulateWithOracle`,
 * `simulateOracle`, `parseTrace`, `replay`): a value of the wrong kind is a `TypeError` naming it,
 * instead of a `TypeError` from deep inside the run.
 */
import type { Strategy } from '@datapunk/breaker'
import type { Scenario } from './Scenario.js'

export const kindOf = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value)

/** A scenario object (a built-in one, or `parseScenario`'s): a name, a duration, a load and health segments. */
export const checkScenario = (where: string, scenario: unknown): void => {
  const s = scenario as Partial<Scenario> | null
  if (typeof s !== 'object' || s === null || typeof s.durationMs !== 'number' || !Array.isArray(s.health) || typeof s.load !== 'object')
    throw new TypeError(`${where}: expected a scenario (scenarios.outage, or one parseScenario read), got ${kindOf(scenario)}`)
}

/** A strategy: `initial`, `step` and `inspect`. */
export const checkStrategy = (where: string, strategy: unknown): void => {
  const s = strategy as Partial<Strategy<unknown>> | null
  if (
    typeof s !== 'object' ||
    s === null ||
    typeof s.initial !== 'function' ||
    typeof s.step !== 'function' ||
    typeof s.inspect !== 'function'
  )
    throw new TypeError(`${where}: expected a strategy (circuit(...), or your own), got ${kindOf(strategy)}`)
}

/** The arguments of the simulate functions: a scenario, strategies (an array of them, if given) and `{ seed }`. */
export const checkRun = (where: string, scenario: unknown, strategies: unknown, options: unknown): void => {
  checkScenario(where, scenario)
  if (strategies !== undefined) {
    if (!Array.isArray(strategies)) throw new TypeError(`${where}: expected an array of strategies, got ${kindOf(strategies)}`)
    for (const [i, s] of strategies.entries()) checkStrategy(`${where}: strategies[${i}]`, s)
  }
  const seed = (options as { readonly seed?: unknown } | null)?.seed
  if (typeof options !== 'object' || options === null || typeof seed !== 'number' || !Number.isSafeInteger(seed))
    throw new TypeError(
      `${where}: expected options { seed } with an integer seed, got ${typeof options === 'object' && options !== null ? `seed ${String(seed)}` : kindOf(options)}`,
    )
}
