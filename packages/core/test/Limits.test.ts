/**
 * Configs that cannot hurt the process: every input gives `Right` or `Left`, never an exception,
 * an endless loop or an allocation without bound. Each input below was reproduced against the
 * previous core (a RangeError, a stack overflow, an out-of-memory abort, or a meaningless config
 * accepted); each is now a readable `Left`.
 */
import { circuit, fromConfig, Limits } from '@datapunk/breaker'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { anyTrip, configWith } from './arbitraries.js'
import { NUM_RUNS } from './invariants.js'

const message = (input: unknown): string => {
  const result = fromConfig(input)
  if (result._tag === 'Right') throw new Error('expected the config to be refused')
  return result.left.message
}

const rate = (window: unknown) => ({ trip: { kind: 'failure-rate', threshold: 0.5, window } })

const nested = (depth: number): unknown => {
  let trip: unknown = { kind: 'consecutive-failures', threshold: 1 }
  for (let i = 0; i < depth; i++) trip = { kind: 'any-of', detectors: [trip] }
  return { trip }
}

describe('documented limits', () => {
  it.each([
    [
      'a count window of 2^53 - 1',
      rate({ kind: 'count', size: 2 ** 53 - 1 }),
      'trip.window.size: expected an integer in [1, 10000], got 9007199254740991',
    ],
    ['a count window of 1e9', rate({ kind: 'count', size: 1e9 }), 'trip.window.size: expected an integer in [1, 10000], got 1000000000'],
    [
      'a time window of 2^31 buckets',
      rate({ kind: 'time', durationMs: 10_000, buckets: 2 ** 31 }),
      'trip.window.buckets: expected an integer in [1, 1000], got 2147483648',
    ],
    [
      'a time window of 1e8 buckets',
      rate({ kind: 'time', durationMs: 1e9, buckets: 1e8 }),
      'trip.window.buckets: expected an integer in [1, 1000], got 100000000',
    ],
    [
      'buckets narrower than 1 ms',
      rate({ kind: 'time', durationMs: 100, buckets: 500 }),
      'trip.window.buckets: expected at most durationMs (100) buckets (a bucket spans at least 1 ms), got 500',
    ],
    [
      'a window of 1e-300 ms',
      rate({ kind: 'time', durationMs: 1e-300, buckets: 1 }),
      'trip.window.durationMs: expected a number of milliseconds in [1, 2147483647], got 1e-300',
    ],
    [
      'an open duration of 0',
      { trip: { kind: 'consecutive-failures', threshold: 1 }, openFor: { kind: 'constant', ms: 0 } },
      'openFor.ms: expected a number of milliseconds in [1, 2147483647], got 0',
    ],
    [
      'an open duration past what a timer can hold',
      { trip: { kind: 'consecutive-failures', threshold: 1 }, openFor: { kind: 'exponential', initialMs: 1000, maxMs: 2 ** 31 } },
      'openFor.maxMs: expected a number of milliseconds in [1, 2147483647], got 2147483648',
    ],
    [
      'any-of nested 800 deep',
      nested(800),
      'trip.detectors[0].detectors[0].detectors[0].detectors[0].detectors[0].detectors[0].detectors[0].detectors[0]: expected composites nested at most 8 deep',
    ],
    [
      'any-of with 33 members',
      { trip: { kind: 'any-of', detectors: Array.from({ length: 33 }, () => ({ kind: 'consecutive-failures', threshold: 1 })) } },
      'trip.detectors: expected 1 to 32 detectors, got 33',
    ],
    [
      '1,001 classic probes',
      { trip: { kind: 'consecutive-failures', threshold: 1 }, recovery: { kind: 'classic', probes: 1001 } },
      'recovery.probes: expected an integer in [1, 1000], got 1001',
    ],
    [
      'a probe timeout of 0',
      { trip: { kind: 'consecutive-failures', threshold: 1 }, probeTimeoutMs: 0 },
      'probeTimeoutMs: expected an integer in [1, 2147483647], got 0',
    ],
  ])('%s', (_name, input, expected) => {
    expect(message(input)).toBe(expected)
  })

  it('allows the limits themselves', () => {
    expect(fromConfig(rate({ kind: 'count', size: Limits.maxCountWindowSize }))._tag).toBe('Right')
    expect(fromConfig(rate({ kind: 'time', durationMs: 1000, buckets: Limits.maxTimeWindowBuckets }))._tag).toBe('Right')
    expect(fromConfig(nested(Limits.maxDetectorDepth - 1))._tag).toBe('Right')
    expect(fromConfig(nested(Limits.maxDetectorDepth))._tag).toBe('Left')
  })
})

// Values fast-check's `anything` does not make but a hostile caller might pass.
const hostile = fc.constantFrom<unknown>(
  Object.create(null),
  { trip: Object.create(null) },
  {
    trip: {
      kind: 'any-of',
      get detectors() {
        throw new Error('getter')
      },
    },
  },
  { trip: { kind: 'consecutive-failures', threshold: 10n } },
  {
    trip: new Proxy(
      {},
      {
        get: () => {
          throw new Error('proxy')
        },
        ownKeys: () => {
          throw new Error('proxy')
        },
      },
    ),
  },
  (() => {
    const cyclic: Record<string, unknown> = { kind: 'any-of' }
    cyclic.detectors = [cyclic]
    return { trip: cyclic }
  })(),
)

/** Mutations of a valid config: a field replaced by anything at all. */
const mutated = configWith(anyTrip, 'any').chain((config) =>
  fc
    .tuple(fc.constantFrom('trip', 'recovery', 'openFor', 'name', 'probeTimeoutMs', 'maxProbesInFlight', 'extra'), fc.anything())
    .map(([key, value]) => ({ ...config, [key]: value })),
)
const deepMutated = configWith(anyTrip, 'any').chain((config) =>
  fc.tuple(fc.json(), fc.nat()).map(([json, pick]) => {
    const copy = JSON.parse(JSON.stringify(config)) as Record<string, Record<string, unknown>>
    const target = [copy.trip, copy.recovery, copy.openFor][pick % 3] ?? {}
    const keys = Object.keys(target)
    target[keys[pick % Math.max(1, keys.length)] ?? 'kind'] = JSON.parse(json) as unknown
    return copy
  }),
)

describe('fromConfig over arbitrary input', () => {
  it('returns Right or Left for any JSON, any value, and any mutation of a valid config, and never throws', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.json().map((j) => JSON.parse(j) as unknown),
          fc.anything(),
          hostile,
          mutated,
          deepMutated,
        ),
        (input) => {
          const result = fromConfig(input)
          expect(result._tag === 'Left' || result._tag === 'Right').toBe(true)
          if (result._tag === 'Left') expect(result.left.message.length).toBeGreaterThan(0)
          else expect(() => circuit(input as never)).not.toThrow()
        },
      ),
      { numRuns: NUM_RUNS },
    )
  })
})
