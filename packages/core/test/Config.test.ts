import { circuit, decodeConfig, fromConfig } from '@datapunk/breaker'
import { describe, expect, it } from 'vitest'

const message = (input: unknown): string => {
  const result = fromConfig(input)
  if (result._tag === 'Right') throw new Error('expected the config to be refused')
  return result.left.message
}

const countWindow = { kind: 'count', size: 20 }

describe('config errors are readable and exact', () => {
  it.each([
    [
      'ratio out of range',
      { trip: { kind: 'consecutive-failures', threshold: 3 }, recovery: { kind: 'gradual', initialRate: 1.5 } },
      'recovery.initialRate: expected a ratio in (0, 1], got 1.5',
    ],
    ['zero threshold', { trip: { kind: 'consecutive-failures', threshold: 0 } }, 'trip.threshold: expected an integer >= 1, got 0'],
    [
      'fractional threshold',
      { trip: { kind: 'consecutive-failures', threshold: 2.5 } },
      'trip.threshold: expected an integer >= 1, got 2.5',
    ],
    [
      'typo in a key',
      { trip: { kind: 'failure-rate', treshold: 0.5, window: countWindow } },
      'trip.treshold: unknown key (expected only kind, threshold, window, minimumCalls)\ntrip.threshold: missing (expected a ratio in (0, 1])',
    ],
    [
      'unknown detector kind',
      { trip: { kind: 'error-rate', threshold: 0.5 } },
      'trip.kind: expected one of "consecutive-failures" | "failure-count" | "failure-rate" | "slow-call-rate" | "change-point" | "trend-forecast" | "cusum" | "learned" | "any-of" | "all-of", got "error-rate"',
    ],
    [
      'zero-length window',
      { trip: { kind: 'failure-rate', threshold: 0.5, window: { kind: 'time', durationMs: 0, buckets: 10 } } },
      'trip.window.durationMs: expected a number of milliseconds in [1, 2147483647], got 0',
    ],
    [
      'NaN threshold',
      { trip: { kind: 'failure-rate', threshold: Number.NaN, window: countWindow } },
      'trip.threshold: expected a ratio in (0, 1], got NaN',
    ],
    [
      'negative open duration',
      { trip: { kind: 'consecutive-failures', threshold: 3 }, openFor: { kind: 'constant', ms: -5 } },
      'openFor.ms: expected a number of milliseconds in [1, 2147483647], got -5',
    ],
    [
      'backoff cap below its start',
      { trip: { kind: 'consecutive-failures', threshold: 3 }, openFor: { kind: 'exponential', initialMs: 1000, maxMs: 10 } },
      'openFor.maxMs: expected at least initialMs (1000), got 10',
    ],
    [
      'recovery threshold looser than the closed one',
      {
        trip: { kind: 'failure-rate', threshold: 0.5, window: countWindow },
        recovery: { kind: 'gradual', failureRateThreshold: 0.6 },
      },
      'recovery.failureRateThreshold: expected at most the closed failure-rate threshold (0.5), got 0.6',
    ],
    [
      'marginal rate above the reopen threshold',
      { trip: { kind: 'consecutive-failures', threshold: 3 }, recovery: { kind: 'gradual', failureRateThreshold: 0.2, marginalRate: 0.3 } },
      'recovery.marginalRate: expected at most failureRateThreshold (0.2), got 0.3',
    ],
    [
      'minimumCalls the count window cannot hold',
      { trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 50, window: countWindow } },
      'trip.minimumCalls: expected at most the window size (20), got 50',
    ],
    ['empty any-of', { trip: { kind: 'any-of', detectors: [] } }, 'trip.detectors: expected 1 to 32 detectors, got 0'],
    [
      'bad member of any-of, with its index',
      {
        trip: {
          kind: 'any-of',
          detectors: [
            { kind: 'consecutive-failures', threshold: 3 },
            { kind: 'failure-count', threshold: 'many', window: countWindow },
          ],
        },
      },
      'trip.detectors[1].threshold: expected an integer >= 1, got "many"',
    ],
    ['missing trip', { recovery: { kind: 'classic' } }, 'trip: missing (expected a detector)'],
    ['not an object', 'fast please', '(root): expected a circuit config, got "fast please"'],
    [
      'several problems at once',
      { trip: { kind: 'slow-call-rate', threshold: 2, slowCallMs: -1, window: countWindow }, extra: true },
      'extra: unknown key (expected only trip, name, recovery, openFor, probeTimeoutMs, maxProbesInFlight)\ntrip.threshold: expected a ratio in (0, 1], got 2\ntrip.slowCallMs: expected a number of milliseconds in [1, 2147483647], got -1',
    ],
    [
      'unknown recovery kind',
      { trip: { kind: 'consecutive-failures', threshold: 3 }, recovery: { kind: 'half-open' } },
      'recovery.kind: expected one of "classic" | "gradual", got "half-open"',
    ],
  ])('%s', (_name, input, expected) => {
    expect(message(input)).toBe(expected)
  })

  it('circuit() throws the same error as a typed ConfigError', () => {
    expect(() => circuit({ trip: { kind: 'consecutive-failures', threshold: -1 } })).toThrow(
      expect.objectContaining({ name: 'ConfigError', message: 'trip.threshold: expected an integer >= 1, got -1' }),
    )
  })
})

describe('config defaults', () => {
  it('fills every default', () => {
    const result = decodeConfig({ trip: { kind: 'failure-rate', threshold: 0.5, window: countWindow } })
    expect(result).toEqual({
      _tag: 'Right',
      right: {
        name: 'circuit',
        trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 10, window: countWindow },
        recovery: { kind: 'classic', probes: 1, failureRateThreshold: 0.5 },
        openFor: { kind: 'constant', ms: 1_000 },
        probeTimeoutMs: 60_000,
        maxProbesInFlight: 'learned',
      },
    })
  })

  it('derives the recovery thresholds from a stricter closed threshold', () => {
    const result = decodeConfig({
      trip: { kind: 'failure-rate', threshold: 0.1, window: countWindow },
      recovery: { kind: 'gradual' },
    })
    expect(result._tag === 'Right' && result.right.recovery).toMatchObject({
      kind: 'gradual',
      failureRateThreshold: 0.1,
      marginalRate: 0.05,
    })
  })

  it('round-trips a decoded config through JSON', () => {
    const decoded = decodeConfig({ trip: { kind: 'consecutive-failures', threshold: 3 }, recovery: { kind: 'gradual' } })
    if (decoded._tag === 'Left') throw decoded.left
    expect(decodeConfig(JSON.parse(JSON.stringify(decoded.right)))).toEqual(decoded)
  })
})
