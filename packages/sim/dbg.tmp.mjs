import { circuit } from '@datapunk/breaker'
import { simulateFleet } from '@datapunk/breaker-sim'

const it = circuit({
  trip: { kind: 'failure-rate', threshold: 0.3, minimumCalls: 10, window: { kind: 'time', durationMs: 10_000, buckets: 10 } },
  openFor: { kind: 'constant', ms: 600_000 },
})
for (let seed = 100; seed <= 110; seed++) {
  const r = simulateFleet({
    replicas: 30,
    faulty: 10,
    shared: true,
    seed,
    outageAtMs: 0,
    rps: 3000,
    syncMs: 200,
    baselineFailureRate: 0.03,
    strategy: it,
    horizonMs: 30000,
  })
  if (r.healthyOpened) {
    console.log(seed, r.healthyOpened, r.healthyRejected)
    break
  }
}
