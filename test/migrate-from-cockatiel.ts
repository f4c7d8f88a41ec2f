import { circuit } from '@datapunk/breaker'
import { classifyHttp, createBreaker } from '@datapunk/breaker-runtime'

// cockatiel: circuitBreaker(handleAll, { halfOpenAfter: new ExponentialBackoff({ initialDelay: 1000,
//   maxDelay: 30000 }), breaker: new SamplingBreaker({ threshold: 0.2, duration: 30000, minimumRps: 5 }) })
export const breaker = createBreaker(
  circuit({
    name: 'inventory',
    // minimumRps 5 over 30 s is 150 calls at the least.
    trip: { kind: 'failure-rate', threshold: 0.2, minimumCalls: 150, window: { kind: 'time', durationMs: 30_000, buckets: 10 } },
    openFor: { kind: 'exponential', initialMs: 1000, maxMs: 30_000 },
  }),
)

// cockatiel: policy.execute(({ signal }) => fetch(url, { signal })), with handleWhenResult(r => r.status >= 500)
export const stock = (url: string): Promise<Response> =>
  breaker.execute((signal) => fetch(url, { signal }), { ...classifyHttp(), timeoutMs: 2000 })

// cockatiel: policy.onBreak(...), onHalfOpen(...), onReset(...)
export const changes: string[] = []
breaker.transitions$.subscribe((e) => {
  if (e._tag === 'StateChanged') changes.push(`${e.from} -> ${e.to}`)
})
