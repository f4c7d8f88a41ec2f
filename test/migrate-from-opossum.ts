import { circuit } from '@datapunk/breaker'
import { BrokenCircuitError, createBreaker } from '@datapunk/breaker-runtime'

// opossum: new CircuitBreaker(getPrice, { timeout: 3000, errorThresholdPercentage: 50,
//   resetTimeout: 30000, rollingCountTimeout: 10000, rollingCountBuckets: 10, volumeThreshold: 10,
//   errorFilter: (e) => e.status === 404 })
export const getPrice = async (sku: string): Promise<number> => (sku === 'missing' ? Promise.reject({ status: 404 }) : 42)

export const breaker = createBreaker(
  circuit({
    name: 'prices',
    trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 10, window: { kind: 'time', durationMs: 10_000, buckets: 10 } },
    recovery: { kind: 'classic', probes: 1 }, // the default: one trial call half-open, as opossum
    openFor: { kind: 'constant', ms: 30_000 },
  }),
)

// opossum: breaker.fire(sku), breaker.fallback(() => 0), breaker.on('open', ...)
export const price = (sku: string): Promise<number> =>
  breaker
    .execute(() => getPrice(sku), {
      timeoutMs: 3000,
      // errorFilter returns true for errors that must not count; isFailure is its opposite.
      isFailure: (e) => (e as { status?: number }).status !== 404,
    })
    .catch((error: unknown) => {
      if (error instanceof BrokenCircuitError) return 0 // the fallback
      throw error
    })

export const opened: string[] = []
breaker.transitions$.subscribe((e) => {
  if (e._tag === 'StateChanged' && e.to === 'open') opened.push(e.reason)
})
