import {
  BreakerEvent,
  type CircuitStrategy,
  ConfigError,
  circuit,
  exponentialOpenFor,
  fromConfig,
  InvalidEventError,
  restore,
  retryAfterOpenFor,
} from '@datapunk/breaker'
import { describe, expect, it } from 'vitest'

type State = ReturnType<CircuitStrategy['initial']>

/** One admitted call that fails at `at`, with the retry hint `retryAfterMs` if given. */
const fail = (strategy: CircuitStrategy, state: State, at: number, retryAfterMs?: number): State => {
  const [requested, ticket] = strategy.step(state, BreakerEvent.requested(), at)
  if (ticket._tag !== 'Admitted') throw new Error(`not admitted at ${at}: ${JSON.stringify(ticket)}`)
  return strategy.step(requested, BreakerEvent.failed(ticket, 5, retryAfterMs), at)[0]
}

const honouring = (threshold = 1) =>
  circuit({
    trip: { kind: 'consecutive-failures', threshold },
    openFor: { kind: 'retry-after', minMs: 500, maxMs: 60_000, otherwise: { kind: 'exponential', initialMs: 1000, maxMs: 8000 } },
  })

describe('retry hints (Retry-After)', () => {
  it('a retry-after open duration honours the hint of the failure that trips', () => {
    const strategy = honouring()
    const open = fail(strategy, strategy.initial(0), 1000, 30_000)
    expect(strategy.inspect(open).openUntil).toBe(31_000)
    const [, rejected] = strategy.step(open, BreakerEvent.requested(), 2000)
    expect(rejected).toEqual({ _tag: 'Rejected', reason: 'open', retryAfterMs: 29_000 })
  })

  it('holds the hint to [minMs, maxMs], and falls back to its otherwise policy without one', () => {
    const strategy = honouring()
    expect(strategy.inspect(fail(strategy, strategy.initial(0), 0, 3_600_000)).openUntil).toBe(60_000)
    expect(strategy.inspect(fail(strategy, strategy.initial(0), 0, 0)).openUntil).toBe(500)
    expect(strategy.inspect(fail(strategy, strategy.initial(0), 0)).openUntil).toBe(1000)
  })

  it('remembers a hint from an earlier failure until the trip, as long as it still lies ahead', () => {
    const strategy = honouring(3)
    let state = fail(strategy, strategy.initial(0), 0, 20_000)
    state = fail(strategy, state, 1000)
    state = fail(strategy, state, 2000)
    expect(strategy.inspect(state).openUntil).toBe(20_000)
    // A hint that has run out by the trip is no hint: the fallback decides.
    let late = fail(strategy, strategy.initial(0), 0, 1500)
    late = fail(strategy, late, 1000)
    late = fail(strategy, late, 2000)
    expect(strategy.inspect(late).openUntil).toBe(3000)
  })

  it('a failed probe with a hint reopens for the hint; a close forgets every hint', () => {
    const strategy = honouring()
    const open = fail(strategy, strategy.initial(0), 0)
    const reopened = fail(strategy, open, 1000, 10_000)
    expect(strategy.inspect(reopened)).toMatchObject({ state: 'open', openUntil: 11_000 })
    // The probe at 11 s succeeds: closed, and the earlier hint is gone.
    const [probing, probe] = strategy.step(reopened, BreakerEvent.requested(), 11_000)
    if (probe._tag !== 'Admitted') throw new Error('probe not admitted')
    const [closed] = strategy.step(probing, BreakerEvent.succeeded(probe, 5), 11_000)
    expect(strategy.inspect(closed).state).toBe('closed')
    expect(closed.phase.retryUntil).toBeNull()
  })

  it('a hint on an outcome that is ignored (a probe already settled) changes nothing', () => {
    const strategy = circuit({
      trip: { kind: 'consecutive-failures', threshold: 1 },
      recovery: { kind: 'classic', probes: 2 },
      openFor: { kind: 'retry-after', otherwise: { kind: 'constant', ms: 1000 } },
    })
    const open = fail(strategy, strategy.initial(0), 0)
    const [probing, probe] = strategy.step(open, BreakerEvent.requested(), 1000)
    if (probe._tag !== 'Admitted') throw new Error('probe not admitted')
    // A second probe stays in flight, so the first one's ticket is checked against the probe list.
    const [both, second] = strategy.step(probing, BreakerEvent.requested(), 1000)
    expect(second._tag).toBe('Admitted')
    const [settled] = strategy.step(both, BreakerEvent.succeeded(probe, 5), 1000)
    expect(strategy.inspect(settled).state).toBe('half-open') // one of two probes in: still recovering
    const [again, decision] = strategy.step(settled, BreakerEvent.failed(probe, 5, 30_000), 1000)
    expect(decision).toEqual({ _tag: 'Ignored', reason: 'already-settled' })
    expect(again).toBe(settled)
  })

  it('other open durations ignore the hint', () => {
    const strategy = circuit({ trip: { kind: 'consecutive-failures', threshold: 1 }, openFor: { kind: 'constant', ms: 2000 } })
    expect(strategy.inspect(fail(strategy, strategy.initial(0), 0, 30_000)).openUntil).toBe(2000)
  })

  it('a state holding a hint round-trips through the codec; an old snapshot without one restores', () => {
    const strategy = honouring(3)
    const state = fail(strategy, strategy.initial(0), 0, 20_000)
    const encoded = JSON.parse(JSON.stringify(strategy.codec.encode(state)))
    const restored = restore(strategy, encoded)
    expect(restored._tag === 'Right' && restored.right.phase.retryUntil).toBe(20_000)
    const { retryUntil: _dropped, ...oldPhase } = encoded.phase
    const old = restore(strategy, { ...encoded, phase: oldPhase })
    expect(old._tag === 'Right' && old.right.phase.retryUntil).toBeNull()
  })

  it('a bad hint is refused by the constructor, and ignored (as no hint) when built by hand', () => {
    expect(() => BreakerEvent.failed({ generation: 0, id: 0, probe: false }, 1, Number.NaN)).toThrow(InvalidEventError)
    expect(() => BreakerEvent.failed({ generation: 0, id: 0, probe: false }, 1, -1)).toThrow(/retryAfterMs/)
    const strategy = honouring()
    const [requested, ticket] = strategy.step(strategy.initial(0), BreakerEvent.requested(), 0)
    if (ticket._tag !== 'Admitted') throw new Error('not admitted')
    const [open, decision] = strategy.step(requested, { _tag: 'CallFailed', ticket, latencyMs: 1, retryAfterMs: Number.NaN }, 0)
    expect(decision._tag).toBe('Recorded')
    expect(strategy.inspect(open).openUntil).toBe(1000)
  })

  it('the retry-after config is checked, with readable errors, and builds the same policy as its constructor', () => {
    const bad = fromConfig({
      trip: { kind: 'consecutive-failures', threshold: 1 },
      openFor: { kind: 'retry-after', minMs: 5000, maxMs: 10 },
    })
    expect(bad._tag === 'Left' && bad.left.message).toMatch(/openFor\.maxMs.*expected at least minMs \(5000\)/)
    const nested = fromConfig({
      trip: { kind: 'consecutive-failures', threshold: 1 },
      openFor: { kind: 'retry-after', otherwise: { kind: 'forever' } },
    })
    expect(nested._tag === 'Left' && nested.left).toBeInstanceOf(ConfigError)
    expect(nested._tag === 'Left' && nested.left.message).toMatch(/openFor\.otherwise/)
    const built = honouring().openFor
    const made = retryAfterOpenFor({ minMs: 500, maxMs: 60_000, otherwise: exponentialOpenFor({ initialMs: 1000, maxMs: 8000 }) })
    expect(built.key).toBe(made.key)
    expect(built.config).toEqual(made.config)
    expect([1, 2, 3].map((trips) => made.durationMs(trips))).toEqual([1000, 2000, 4000])
    expect(made.maxMs).toBe(60_000)
  })
})
