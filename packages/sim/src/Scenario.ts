import { normal, type Random } from './Random.js'

/** How requests arrive. */
export type LoadModel =
  | { readonly kind: 'constant'; readonly rps: number }
  | { readonly kind: 'poisson'; readonly rps: number }
  | { readonly kind: 'bursts'; readonly rps: number; readonly burstRps: number; readonly everyMs: number; readonly forMs: number }

/** The upstream's health from `atMs` on (until the next segment). */
export interface HealthSegment {
  readonly atMs: number
  /** Probability that a call fails. */
  readonly failureRate: number
  /** Median latency and 99th percentile of a call (log-normal). */
  readonly latencyMs: { readonly median: number; readonly p99: number }
}

/**
 * A fragile recovery: from `fromMs`, an upstream that has just come back collapses again (fails
 * every call for `collapseMs`) if it gets more than `capacityRps` over the last second; it is
 * healthy for good once it has gone `settleMs` without collapsing.
 */
export interface Fragility {
  readonly fromMs: number
  readonly capacityRps: number
  readonly settleMs: number
  readonly collapseMs: number
}

/** A scenario: load, the upstream's health over time, and the moments metrics refer to. */
export interface Scenario {
  readonly name: string
  readonly description: string
  readonly durationMs: number
  readonly load: LoadModel
  readonly health: ReadonlyArray<HealthSegment>
  readonly fragility?: Fragility
  /** When trouble starts (time to detect counts from here). */
  readonly incidentAtMs: number
  /** When the upstream is back (time back to full traffic counts from here). */
  readonly recoveredAtMs: number
}

const healthy = (atMs: number): HealthSegment => ({ atMs, failureRate: 0.002, latencyMs: { median: 40, p99: 150 } })
const down = (atMs: number): HealthSegment => ({ atMs, failureRate: 1, latencyMs: { median: 5, p99: 20 } })

const range = (from: number, to: number, step: number): number[] => {
  const out: number[] = []
  for (let x = from; x < to; x += step) out.push(x)
  return out
}

/** The built-in scenarios, by name. */
export const scenarios: Readonly<Record<string, Scenario>> = {
  'fragile-recovery': {
    name: 'fragile-recovery',
    description: 'a hard outage (60-120 s), then an upstream that collapses again above 50% of the load until it has held for 30 s',
    durationMs: 300_000,
    load: { kind: 'poisson', rps: 200 },
    health: [healthy(0), down(60_000), healthy(120_000)],
    fragility: { fromMs: 120_000, capacityRps: 100, settleMs: 30_000, collapseMs: 20_000 },
    incidentAtMs: 60_000,
    recoveredAtMs: 120_000,
  },
  outage: {
    name: 'outage',
    description: 'a hard outage from 60 s to 120 s: every call fails fast, then all is well',
    durationMs: 240_000,
    load: { kind: 'poisson', rps: 200 },
    health: [healthy(0), down(60_000), healthy(120_000)],
    incidentAtMs: 60_000,
    recoveredAtMs: 120_000,
  },
  brownout: {
    name: 'brownout',
    description: 'from 60 s the error rate climbs to 60% and latency to 1.5 s over 90 s; healthy again at 200 s',
    durationMs: 300_000,
    load: { kind: 'poisson', rps: 200 },
    health: [
      healthy(0),
      ...range(60_000, 150_000, 10_000).map((atMs, i, all) => {
        const f = (i + 1) / all.length
        return { atMs, failureRate: 0.6 * f, latencyMs: { median: 40 + 1000 * f, p99: 150 + 1400 * f } }
      }),
      { atMs: 150_000, failureRate: 0.6, latencyMs: { median: 1000, p99: 1500 } },
      healthy(200_000),
    ],
    incidentAtMs: 60_000,
    recoveredAtMs: 200_000,
  },
  flapping: {
    name: 'flapping',
    description: 'from 60 s to 240 s the upstream is down for 10 s in every 30 s',
    durationMs: 300_000,
    load: { kind: 'poisson', rps: 200 },
    health: [healthy(0), ...range(60_000, 240_000, 30_000).flatMap((atMs) => [down(atMs), healthy(atMs + 10_000)])],
    incidentAtMs: 60_000,
    recoveredAtMs: 240_000,
  },
  'slow-degradation': {
    name: 'slow-degradation',
    description: 'latency creeps from 40 ms to 2 s over 60-180 s, errors (30%) start at 150 s; healthy at 240 s',
    durationMs: 300_000,
    load: { kind: 'constant', rps: 200 },
    health: [
      healthy(0),
      ...range(60_000, 180_000, 10_000).map((atMs, i, all) => {
        const f = (i + 1) / all.length
        return { atMs, failureRate: atMs >= 150_000 ? 0.3 : 0.002, latencyMs: { median: 40 + 1960 * f, p99: 150 + 2400 * f } }
      }),
      { atMs: 180_000, failureRate: 0.3, latencyMs: { median: 2000, p99: 2600 } },
      healthy(240_000),
    ],
    incidentAtMs: 60_000,
    recoveredAtMs: 240_000,
  },
}

/** Request arrival times (ms) over `durationMs`, drawn from `random`. */
export const arrivals = (load: LoadModel, durationMs: number, random: Random): Float64Array => {
  const out: number[] = []
  const rateAt = (t: number): number => (load.kind === 'bursts' && t % load.everyMs < load.forMs ? load.burstRps : load.rps)
  let t = 0
  while (t < durationMs) {
    const rps = rateAt(t)
    t += load.kind === 'constant' ? 1000 / rps : (-Math.log(1 - random()) * 1000) / rps
    if (t < durationMs) out.push(t)
  }
  return Float64Array.from(out)
}

/** The health segment in force at `t`. */
export const healthAt = (scenario: Scenario, t: number): HealthSegment => {
  let current = scenario.health[0] ?? healthy(0)
  for (const segment of scenario.health) if (segment.atMs <= t) current = segment
  return current
}

/** A log-normal latency with the segment's median and p99, from a standard normal draw `z`. */
export const latencyOf = (segment: HealthSegment, z: number): number => {
  const sigma = Math.log(segment.latencyMs.p99 / segment.latencyMs.median) / 2.326
  return segment.latencyMs.median * Math.exp(sigma * z)
}

export { normal }
