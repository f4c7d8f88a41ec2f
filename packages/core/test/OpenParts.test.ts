/**
 * The open algebra (core issue, section 1): parts a user writes compose with the library's
 * everywhere. The `@ts-expect-error` lines are type tests: `pnpm test` type-checks this file, and
 * fails if one of them stops being an error.
 */
import {
  allOf,
  anyOf,
  BreakerEvent,
  circuit,
  circuitOf,
  classicHalfOpen,
  consecutiveFailures,
  constantOpenFor,
  type Detector,
  decodeDetector,
  detectorKind,
  emptyDetectorSnapshot,
  failureRate,
  fromConfig,
  gradualRecovery,
  literal,
  PositiveInt,
  type Recovery,
  restore,
  type Strategy,
  struct,
  swapStrategy,
} from '@datapunk/breaker'
import * as t from 'io-ts'
import { describe, expect, it } from 'vitest'
import { admitted, Harness } from './harness.js'

/** A user's detector with its own state type: trips after `limit` failures ever seen (no reset). */
interface TallyState {
  readonly tally: number
}
const TallyConfig = struct('a tally detector', { kind: literal('tally'), limit: PositiveInt })
const tally = (limit: number): Detector<TallyState> => ({
  kind: 'tally',
  config: { kind: 'tally', limit },
  key: `tally/${limit}`,
  initial: () => ({ tally: 0 }),
  record: (s, failed) => (failed ? { tally: s.tally + 1 } : s),
  advance: (s) => s,
  tripped: (s) => s.tally >= limit,
  measure: (s) => [{ ...emptyDetectorSnapshot('tally'), figures: { tally: s.tally } }],
  codec: {
    validate: (u, c) =>
      typeof u === 'object' && u !== null && Number.isSafeInteger((u as TallyState).tally)
        ? t.success({ tally: (u as TallyState).tally })
        : t.failure(u, c, 'expected a tally'),
    encode: (s) => ({ tally: s.tally }),
  },
})

/** A user's recovery: admit everything, close on the first success, reopen on the first failure. */
const optimistic: Recovery<{ readonly seen: number }> = {
  kind: 'optimistic',
  config: { kind: 'optimistic' },
  key: 'optimistic',
  start: () => ({ seen: 0 }),
  request: (s) => ({ state: { seen: s.seen + 1 }, admitted: true }),
  outcome: (_s, failed) => (failed ? 'reopen' : 'close'),
  cancel: (s) => s,
  tick: (s) => s,
  admitRate: () => 1,
  measure: (_s, inFlight) => ({ kind: 'optimistic', admitRate: 1, inFlight }),
  codec: {
    validate: (u, c) =>
      typeof u === 'object' && u !== null ? t.success({ seen: Number((u as { seen: unknown }).seen) || 0 }) : t.failure(u, c),
    encode: (s) => s,
  },
}

describe('parts a user writes compose with the library’s', () => {
  it('a custom detector and recovery build a circuit, inside anyOf and allOf, and nest', () => {
    const strategy = circuitOf({
      name: 'mixed',
      detector: anyOf([tally(3), allOf([consecutiveFailures({ threshold: 2 }), anyOf([tally(2)])])]),
      recovery: optimistic,
      openFor: constantOpenFor(100),
    })
    const h = new Harness(strategy)
    h.call(0, 'failure', 0)
    h.call(1, 'success', 0)
    expect(h.snapshot.state).toBe('closed')
    h.call(2, 'failure', 0) // tally 2, 1 in a row: all-of not yet
    expect(h.snapshot.state).toBe('closed')
    h.call(3, 'failure', 0) // tally 3: any-of trips
    expect(h.snapshot).toMatchObject({ state: 'open', reason: 'tripped' })
    expect(h.snapshot.detectors.map((d) => d.kind)).toEqual(['tally', 'consecutive-failures', 'tally'])
    h.call(103, 'success', 0)
    expect(h.snapshot.state).toBe('closed')
    expect(restore(strategy, JSON.parse(JSON.stringify(strategy.codec.encode(h.state))))._tag).toBe('Right')
  })

  it('type-checks a custom part where a part goes, and refuses a wrong one', () => {
    const detector: Detector<TallyState> = tally(1)
    circuitOf({ detector, recovery: classicHalfOpen(), openFor: constantOpenFor(1) })
    anyOf([detector, failureRate({ threshold: 0.5, window: { kind: 'count', size: 10 } })])
    // Each wrong one is refused at run time too, for callers without types, naming what is wrong.
    expect(() =>
      // @ts-expect-error a recovery is not a detector
      anyOf([optimistic]),
    ).toThrow('detectors[0]: expected a detector, but its initial is not a function')
    expect(() =>
      // @ts-expect-error a detector without `tripped` is not a detector
      circuitOf({ detector: { ...detector, tripped: undefined }, recovery: optimistic, openFor: constantOpenFor(1) }),
    ).toThrow('detector: expected a detector, but its tripped is not a function')
    // @ts-expect-error a state that does not match the detector's own
    detector.record({ consecutiveFailures: 1 }, true, 1, 0)
    expect(() =>
      // @ts-expect-error the open duration is a part value, not a number
      circuitOf({ detector, recovery: optimistic, openFor: 1000 }),
    ).toThrow('openFor: expected an open duration, got number')
    expect(() => circuitOf({ detector, recovery: { trip: 'x' } as never, openFor: constantOpenFor(1) })).toThrow(
      'recovery: expected a recovery, got an object without a kind (a config?)',
    )
    expect(detector.kind).toBe('tally')
  })

  it('a custom kind works wherever a config is read', () => {
    const kinds = { detectors: { tally: detectorKind({ codec: TallyConfig, build: (c) => tally(c.limit) }) } }
    const config = {
      name: 'from-json',
      trip: {
        kind: 'any-of',
        detectors: [
          { kind: 'tally', limit: 2 },
          { kind: 'consecutive-failures', threshold: 9 },
        ],
      },
    }
    const built = fromConfig(config, { kinds })
    if (built._tag === 'Left') throw built.left
    expect(built.right.config.trip).toEqual(config.trip)
    const bad = fromConfig({ trip: { kind: 'tally', limit: 0 } }, { kinds })
    expect(bad._tag === 'Left' && bad.left.message).toBe('trip.limit: expected an integer >= 1, got 0')
    // Without the table the kind is unknown, and the error lists the kinds there are.
    const unknown = decodeDetector({ kind: 'tally', limit: 2 })
    expect(unknown._tag === 'Left' && unknown.left.message).toBe(
      'kind: expected one of "consecutive-failures" | "failure-count" | "failure-rate" | "slow-call-rate" | "change-point" | "trend-forecast" | "cusum" | "learned" | "any-of" | "all-of", got "tally"',
    )
  })

  it('a swap between a custom-part circuit and a built-in one carries a shared member’s counts', () => {
    const custom = circuitOf({
      detector: anyOf([tally(5), consecutiveFailures({ threshold: 4 })]),
      recovery: optimistic,
      openFor: constantOpenFor(50),
    })
    const builtIn = circuit({ trip: { kind: 'consecutive-failures', threshold: 4 }, recovery: { kind: 'gradual' } })
    const h = new Harness(custom)
    h.call(0, 'failure', 0)
    h.call(1, 'failure', 0)
    const moved = swapStrategy(custom, h.state, builtIn, 2)
    expect(builtIn.inspect(moved).consecutiveFailures).toBe(2)
    const back = swapStrategy(builtIn, moved, custom, 3)
    expect(custom.inspect(back).detectors.map((d) => d.consecutiveFailures ?? d.figures?.tally)).toEqual([0, 2])
  })

  it('a swap from a strategy of another kind keeps its phase and open-until and counts afresh', () => {
    // A hand-written strategy: always open until t = 500, as `inspect` reports it.
    const foreign: Strategy<null> = {
      name: 'foreign',
      initial: () => null,
      step: (s) => [s, { _tag: 'Rejected', reason: 'open', retryAfterMs: null }],
      inspect: () => ({
        ...circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }).inspect(
          circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }).initial(0),
        ),
        state: 'open',
        openUntil: 500,
        generation: 7,
        admitRate: 0,
      }),
      codec: t.null,
    }
    const to = circuit({ trip: { kind: 'consecutive-failures', threshold: 1 }, recovery: { kind: 'classic' } })
    const state = swapStrategy(foreign, null, to, 100)
    expect(to.inspect(state)).toMatchObject({ state: 'open', openUntil: 500, generation: 8, reason: 'swapped' })
    expect(to.step(state, BreakerEvent.requested(), 200)[1]).toEqual({ _tag: 'Rejected', reason: 'open', retryAfterMs: 300 })
  })

  it('two breakers on one strategy value never see each other’s results', () => {
    const shared = circuit({ trip: { kind: 'consecutive-failures', threshold: 2 }, recovery: { kind: 'gradual' } })
    const a = new Harness(shared)
    const b = new Harness(shared)
    const ticketA = admitted(a.request(0))
    const ticketB = admitted(b.request(0))
    expect(ticketA).not.toBe(ticketB)
    a.settle(ticketA, 'failure', 1)
    a.call(2, 'failure', 0)
    expect(a.snapshot.state).toBe('open')
    expect(b.snapshot).toMatchObject({ state: 'closed', consecutiveFailures: 0, inFlight: 1 })
    expect(b.settle(ticketB, 'success', 3)).toEqual({ _tag: 'Recorded' })
    expect(b.request(4)).toEqual({ _tag: 'Admitted', generation: 0, id: 1, probe: false })
  })

  it('gradual recovery with a time-driven ramp follows Envoy’s slow-start curve and still reopens on a bad stage', () => {
    const envoy = gradualRecovery({ initialRate: 0.1, rampMs: 10_000, aggression: 2, stageCalls: 5 })
    const s0 = envoy.start(0)
    // (t / window) ^ (1 / aggression): 25% of the way is 50% of the traffic; never below initialRate.
    expect(envoy.admitRate(envoy.request(s0, 2_500).state)).toBe(0.5)
    expect(envoy.admitRate(envoy.request(s0, 1).state)).toBe(0.1)
    const strategy = circuit({
      trip: { kind: 'consecutive-failures', threshold: 1 },
      recovery: { kind: 'gradual', initialRate: 0.1, rampMs: 10_000, stageCalls: 5 },
      openFor: { kind: 'constant', ms: 1000 },
    })
    const h = new Harness(strategy)
    h.call(0, 'failure', 0)
    let failures = 0
    for (let t = 1000; t < 30_000; t += 10) {
      const d = h.request(t)
      if (d._tag === 'Admitted') {
        // A relapse: enough straight failures to outweigh the healthy stages before it.
        const bad = t > 3000 && failures < 15
        if (bad) failures++
        h.settle(d, bad ? 'failure' : 'success', t)
      }
      if (h.snapshot.state !== 'half-open') break
    }
    expect(h.snapshot).toMatchObject({ state: 'open', reason: 'recovery-failed' })
    // A clean run ramps to 100% and closes once the ramp is over.
    const clean = new Harness(strategy)
    clean.call(0, 'failure', 0)
    let closedAt = -1
    for (let t = 1000; t < 30_000 && closedAt < 0; t += 10) {
      const d = clean.request(t)
      if (d._tag === 'Admitted') clean.settle(d, 'success', t)
      if (clean.snapshot.state === 'closed') closedAt = t
    }
    expect(closedAt).toBeGreaterThanOrEqual(11_000)
    expect(closedAt).toBeLessThan(12_000)
  })
})
