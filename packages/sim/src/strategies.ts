import { type CircuitStrategy, circuit } from '@datapunk/breaker'

/** The failure detection every demo strategy but the last shares: 50% over 10 s, 20 calls at least. */
export const demoDetection = {
  kind: 'failure-rate',
  threshold: 0.5,
  minimumCalls: 20,
  window: { kind: 'time', durationMs: 10_000, buckets: 10 },
} as const

/**
 * The strategies the demo compares: the same detection with classic half-open and with gradual
 * recovery (its defaults), and a consecutive-failures breaker with exponential backoff.
 */
export const demoStrategies = (): ReadonlyArray<CircuitStrategy> => [
  circuit({ name: 'classic', trip: demoDetection, recovery: { kind: 'classic', probes: 1 }, openFor: { kind: 'constant', ms: 5_000 } }),
  circuit({
    name: 'gradual',
    trip: demoDetection,
    recovery: { kind: 'gradual' },
    openFor: { kind: 'constant', ms: 5_000 },
  }),
  circuit({
    name: 'consecutive+backoff',
    trip: { kind: 'consecutive-failures', threshold: 10 },
    recovery: { kind: 'classic', probes: 3 },
    openFor: { kind: 'exponential', initialMs: 1_000, maxMs: 30_000 },
  }),
]
