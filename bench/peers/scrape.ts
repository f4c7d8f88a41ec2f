/**
 * What a Prometheus scrape of many breakers costs: one keyed group of `keys` breakers (each with
 * a success and a failure, so its duration histogram has series), attached to a prom-client
 * registry; `registry.metrics()` timed `scrapes` times after a first one (which also makes each
 * breaker's label sets). The text is what prom-client writes; the series are the catalogue's.
 */
import { circuit } from '@datapunk/breaker'
import { prometheusMetrics } from '@datapunk/breaker-prometheus'
import { breakerGroup } from '@datapunk/breaker-runtime'
import { Registry } from 'prom-client'

/** The scrape measured. */
export interface ScrapeCost {
  readonly breakers: number
  readonly medianMs: number
  readonly megabytes: number
  readonly lines: number
}

export const scrapeCost = async (keys: number, scrapes: number): Promise<ScrapeCost> => {
  const registry = new Registry()
  const group = breakerGroup<string>({
    strategyFor: () =>
      circuit({ name: 'mesh', trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 10, window: { kind: 'count', size: 50 } } }),
    maxKeys: keys,
  })
  prometheusMetrics(group, { registry })
  for (let i = 0; i < keys; i++) {
    const breaker = group.get(`host-${i}`)
    for (const outcome of ['success', 'failure', 'success'] as const) {
      const admission = breaker.admit()
      if (admission._tag === 'Admitted') admission.settle(outcome)
    }
  }
  let text = await registry.metrics()
  const times: number[] = []
  for (let i = 0; i < scrapes; i++) {
    const start = performance.now()
    text = await registry.metrics()
    times.push(performance.now() - start)
  }
  times.sort((a, b) => a - b)
  return {
    breakers: keys,
    medianMs: times[Math.floor(times.length / 2)] ?? Number.NaN,
    megabytes: text.length / 1e6,
    lines: text.split('\n').length,
  }
}
