import type { CircuitData, CircuitStrategy } from '@datapunk/breaker'

/**
 * `strategy` with its `inspect` counted: how many snapshots a metrics adapter made. Everything
 * else (its step, in-place twin included, its codec) is the strategy's own.
 */
export const countingInspect = (strategy: CircuitStrategy) => {
  const counter = { inspected: 0 }
  const counted: CircuitStrategy = {
    ...strategy,
    inspect: (state: CircuitData) => {
      counter.inspected++
      return strategy.inspect(state)
    },
  }
  return { strategy: counted, counter }
}
