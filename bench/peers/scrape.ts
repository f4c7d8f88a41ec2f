/**
 * What a Prometheus scrape of many breakers costs: one keyed group of `keys` breakers (each with
 * a success and a failure, so its duration histogram has series), attached to a prom-client
 * registry; `registry.metrics()` timed `scrapes` times after a first one (which also makes each
 * breaker's label sets). The text is what prom-client writes; the series are the catalogue's.
 * Beside it, the floor: the same lines only joined into one string.
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
  /**
   * The floor under any scrape of these series in this process: the same lines, already written,
   * only joined into one text (median ms). No exporter writes them faster.
   */
  readonly joinFloorMs: number
  /**
   * A lower floor: the same text cut into one piece per breaker (`breakers` pieces of equal
   * length), joined (median ms). What one string of this size costs to build in this process
   * however few pieces it is written in (an exporter that kept each breaker's text between
   * scrapes would still pay it).
   */
  readonly blockFloorMs: number
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
  const lines = text.split('\n')
  /** The median ms of `scrapes` joins of `pieces` (NaN if one does not give the scrape's text back). */
  const joinMs = (pieces: ReadonlyArray<string>, separator: string): number => {
    const floors: number[] = []
    for (let i = 0; i < scrapes; i++) {
      const start = performance.now()
      const joined = pieces.join(separator)
      floors.push(performance.now() - start + (joined.length === text.length ? 0 : Number.NaN))
    }
    floors.sort((a, b) => a - b)
    return floors[Math.floor(floors.length / 2)] ?? Number.NaN
  }
  const size = Math.ceil(text.length / keys)
  const blocks = Array.from({ length: keys }, (_, i) => text.slice(i * size, (i + 1) * size))
  return {
    breakers: keys,
    medianMs: times[Math.floor(times.length / 2)] ?? Number.NaN,
    megabytes: text.length / 1e6,
    lines: lines.length,
    joinFloorMs: joinMs(lines, '\n'),
    blockFloorMs: joinMs(blocks, ''),
  }
}
