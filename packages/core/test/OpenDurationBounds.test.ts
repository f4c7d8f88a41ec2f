import {
  BreakerEvent,
  boundedOpenDuration,
  circuitOf,
  classicHalfOpen,
  consecutiveFailures,
  Limits,
  type OpenFor,
  restore,
} from '@datapunk/breaker'
import { describe, expect, it } from 'vitest'

/** A custom open-duration policy that returns whatever it is given. */
const returning = (ms: number, maxMs = Number.POSITIVE_INFINITY): OpenFor => ({
  kind: 'mine',
  config: { ms },
  key: 'mine',
  durationMs: () => ms,
  maxMs,
})

const tripAt = (openFor: OpenFor, at: number) => {
  const strategy = circuitOf({ detector: consecutiveFailures({ threshold: 1 }), recovery: classicHalfOpen(), openFor })
  const [requested, ticket] = strategy.step(strategy.initial(0), BreakerEvent.requested(), at)
  if (ticket._tag !== 'Admitted') throw new Error('not admitted')
  const [state] = strategy.step(requested, BreakerEvent.failed(ticket, 0), at)
  return { strategy, state }
}

describe('an open duration from a custom part', () => {
  it('is held to [1 ms, the policy maximum and the longest timer], NaN counting as the longest', () => {
    expect(boundedOpenDuration(returning(Number.POSITIVE_INFINITY), 1)).toBe(Limits.maxDurationMs)
    expect(boundedOpenDuration(returning(2 ** 31), 1)).toBe(Limits.maxDurationMs)
    expect(boundedOpenDuration(returning(Number.NaN, 60_000), 1)).toBe(60_000)
    expect(boundedOpenDuration(returning(Number.NaN, Number.NaN), 1)).toBe(Limits.maxDurationMs)
    expect(boundedOpenDuration(returning(-5, 60_000), 1)).toBe(1)
    expect(boundedOpenDuration(returning(90_000, 60_000), 1)).toBe(60_000)
    expect(boundedOpenDuration(returning(2500), 1)).toBe(2500)
  })

  it('never opens a circuit forever, and its state always restores', () => {
    for (const ms of [Number.POSITIVE_INFINITY, 2 ** 31, Number.NaN, -5, 0]) {
      const { strategy, state } = tripAt(returning(ms), 1000)
      const snapshot = strategy.inspect(state)
      expect(snapshot.state).toBe('open')
      expect(Number.isFinite(snapshot.openUntil)).toBe(true)
      expect(snapshot.openUntil ?? 0).toBeLessThanOrEqual(1000 + Limits.maxDurationMs)
      expect(snapshot.openUntil ?? 0).toBeGreaterThan(1000)
      const restored = restore(strategy, strategy.codec.encode(state))
      expect(restored._tag).toBe('Right')
    }
  })

  it('opened at the end of the accepted clock, leaves open at its end', () => {
    const at = Limits.maxTime - 10
    const { strategy, state } = tripAt(returning(60_000), at)
    expect(strategy.inspect(state).openUntil).toBe(Limits.maxTime)
    const [, decision] = strategy.step(state, BreakerEvent.requested(), Limits.maxTime)
    expect(decision._tag).toBe('Admitted')
  })
})
