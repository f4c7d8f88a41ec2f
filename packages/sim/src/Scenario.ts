import { normal, type Random, seeded } from './Random.js'

/** How requests arrive. */
export type LoadModel =
  | { readonly kind: 'constant'; readonly rps: number }
  | { readonly kind: 'poisson'; readonly rps: number }
  | { readonly kind: 'bursts'; readonly rps: number; readonly burstRps: number; readonly everyMs: number; readonly forMs: number }
  /**
   * Poisson arrivals at a rate that changes in steps: each step's `rps` from its `atMs` until the
   * next step's (the first at 0, times rising). A surge of traffic, a retry storm, a daily peak.
   */
  | { readonly kind: 'steps'; readonly steps: ReadonlyArray<LoadStep> }

/** One step of a {@link LoadModel} of kind `steps`: `rps` requests/s from `atMs` on. */
export interface LoadStep {
  /** When this rate starts, in simulated ms. */
  readonly atMs: number
  /** Requests per second from then on (until the next step). */
  readonly rps: number
}

/**
 * The highest rate a load model reaches, in requests/s.
 *
 * @example
 * import { peakRps } from '@datapunk/breaker-sim'
 * peakRps({ kind: 'steps', steps: [{ atMs: 0, rps: 200 }, { atMs: 30_000, rps: 400 }, { atMs: 60_000, rps: 200 }] }) // 400
 */
export const peakRps = (load: LoadModel): number =>
  load.kind === 'bursts' ? Math.max(load.rps, load.burstRps) : load.kind === 'steps' ? Math.max(...load.steps.map((s) => s.rps)) : load.rps

/**
 * The mean rate of a load model over `durationMs`, in requests/s (what a run of that length
 * draws, on average).
 *
 * @example
 * import { meanRps } from '@datapunk/breaker-sim'
 * meanRps({ kind: 'steps', steps: [{ atMs: 0, rps: 200 }, { atMs: 30_000, rps: 400 }] }, 60_000) // 300
 * meanRps({ kind: 'bursts', rps: 100, burstRps: 1_000, everyMs: 10_000, forMs: 1_000 }, 60_000) // 190
 */
export const meanRps = (load: LoadModel, durationMs: number): number => {
  if (load.kind === 'bursts') return (load.rps * (load.everyMs - load.forMs) + load.burstRps * load.forMs) / load.everyMs
  if (load.kind !== 'steps') return load.rps
  let requests = 0
  load.steps.forEach((s, i) => {
    const end = Math.min(durationMs, load.steps[i + 1]?.atMs ?? durationMs)
    if (end > s.atMs) requests += (s.rps * (end - s.atMs)) / 1000
  })
  return durationMs > 0 ? (requests * 1000) / durationMs : 0
}

/** The upstream's health from `atMs` on (until the next segment). */
export interface HealthSegment {
  /** When this segment starts, in simulated ms. */
  readonly atMs: number
  /** Probability that a call fails. */
  readonly failureRate: number
  /** Median latency and 99th percentile of a call (log-normal). */
  readonly latencyMs: { readonly median: number; readonly p99: number }
  /**
   * How long a failed call takes, in ms: a hung upstream makes its callers wait for their timeout.
   * Absent: a failure takes the segment's latency draw, as a success does.
   */
  readonly failureLatencyMs?: number
  /**
   * The most calls per second the upstream serves: beyond it, it sheds the excess with fast errors
   * (over the last second's calls, a share `1 - capacityRps / load` of them fails). Absent: no limit.
   */
  readonly capacityRps?: number
}

/** The share of calls an upstream with `capacityRps` sheds at `load` calls over the last second. */
export const shedAt = (capacityRps: number | undefined, load: number): number =>
  capacityRps === undefined || load <= capacityRps ? 0 : 1 - capacityRps / load

/**
 * A fragile recovery: from `fromMs`, an upstream that has just come back collapses again (fails
 * every call for `collapseMs`) if it gets more than `capacityRps` over the last second; it is
 * healthy for good once it has gone `settleMs` without collapsing.
 *
 * With `strain`, it shows its fragility before it breaks, as an overloaded server does (it sheds
 * load with errors as its queues fill): once the last second's load passes `fromShare` of the
 * capacity, calls fail with a probability rising linearly to `failureRate` at the capacity (on top
 * of the health segment's own failures). Without it, the upstream is a cliff: perfectly healthy up
 * to the capacity, collapsed above it.
 */
export interface Fragility {
  /** When the upstream starts to recover (and is fragile), in simulated ms. */
  readonly fromMs: number
  /** The calls per second above which it collapses again while fragile. */
  readonly capacityRps: number
  /** How long it must take its load without collapsing to be healthy for good. */
  readonly settleMs: number
  /** How long a collapse lasts (every call fails at once). */
  readonly collapseMs: number
  /** Errors from load below the collapse (absent: none). */
  readonly strain?: Strain
}

/** The errors a fragile upstream makes under load before it collapses (see {@link Fragility}). */
export interface Strain {
  /** The share of the capacity from which errors start, in [0, 1). */
  readonly fromShare: number
  /** The failure probability at the capacity, in [0, 1]. */
  readonly failureRate: number
}

/** The strain failure probability of a fragile upstream at `load` requests over the last second. */
export const strainAt = (fragility: Fragility, load: number): number => {
  const strain = fragility.strain
  if (strain === undefined) return 0
  const share = load / fragility.capacityRps
  if (share <= strain.fromShare) return 0
  return strain.failureRate * Math.min(1, (share - strain.fromShare) / (1 - strain.fromShare))
}

/** A scenario: load, the upstream's health over time, and the moments metrics refer to. */
export interface Scenario {
  /** Its name (a built-in one is its key in `scenarios`). */
  readonly name: string
  /** What happens, in a sentence. */
  readonly description: string
  /** How long the run lasts, in simulated ms. */
  readonly durationMs: number
  /** How requests arrive. */
  readonly load: LoadModel
  /** The upstream's health over time: segments in time order, the first at 0. */
  readonly health: ReadonlyArray<HealthSegment>
  /** An upstream that collapses under load while it recovers; absent: load never breaks it. */
  readonly fragility?: Fragility
  /** When trouble starts (time to detect counts from here). */
  readonly incidentAtMs: number
  /** When the upstream is back (time back to full traffic counts from here). */
  readonly recoveredAtMs: number
  /**
   * How much later, at most, each change of health after the incident starts comes on a seed: a
   * draw per change per seed, uniform in [0, jitterMs) (see {@link jitteredScenario}). A fixed
   * timeline gives every seed the same beat between the upstream's recovery and a breaker's
   * timers: a 30 s outage and a 5 s open duration met it on the dot on every seed, so a strategy
   * that tripped 5 s in looked better than one that tripped 2 s in, by luck. Absent or 0: the
   * timeline as written. It must be at most the shortest gap between those changes. The load's
   * steps (a `steps` load) are not moved.
   */
  readonly jitterMs?: number
}

/** What {@link healthChanges} reads of a scenario. */
interface Timeline extends Pick<Scenario, 'health' | 'incidentAtMs' | 'recoveredAtMs'> {
  readonly fragility?: Fragility | undefined
}

/**
 * The times after `incidentAtMs` at which a scenario's health changes (a segment's start, the
 * fragile recovery's start, `recoveredAtMs`), each once, in order: what `jitterMs` moves.
 */
export const healthChanges = (s: Timeline): ReadonlyArray<number> => {
  const times = [...s.health.map((h) => h.atMs), ...(s.fragility === undefined ? [] : [s.fragility.fromMs]), s.recoveredAtMs]
  return [...new Set(times.filter((at) => at > s.incidentAtMs))].sort((a, b) => a - b)
}

/**
 * `scenario` as it runs on `seed`: each time after `incidentAtMs` at which its health changes (a
 * segment's start, the fragile recovery's start, `recoveredAtMs`) moves later by its own draw in
 * [0, `jitterMs`), drawn in time order from `seed` on a stream of its own (arrivals and outcomes
 * are drawn as without it); the same time moves the same wherever it appears; the length stays.
 * Without `jitterMs`, `scenario` itself.
 *
 * @example
 * import { jitteredScenario, scenarios } from '@datapunk/breaker-sim'
 * const shaken = { ...scenarios.outage, jitterMs: 5_000 }
 * const run = jitteredScenario(shaken, 7)
 * run.recoveredAtMs >= shaken.recoveredAtMs && run.recoveredAtMs < shaken.recoveredAtMs + 5_000 // true
 * jitteredScenario(scenarios.outage, 7) === scenarios.outage // true
 */
export const jitteredScenario = (scenario: Scenario, seed: number): Scenario => {
  const jitterMs = scenario.jitterMs ?? 0
  if (jitterMs <= 0) return scenario
  const changes = healthChanges(scenario)
  // Its own stream: the seed's arrivals and outcome draws stay what they were.
  const random = seeded(Math.imul(seed >>> 0, 0x9e3779b1) ^ 0x5bd1e995)
  const shift = new Map(changes.map((at) => [at, at + random() * jitterMs]))
  const moved = (at: number): number => shift.get(at) ?? at
  return {
    ...scenario,
    health: scenario.health.map((h) => (shift.has(h.atMs) ? { ...h, atMs: moved(h.atMs) } : h)),
    ...(scenario.fragility === undefined ? {} : { fragility: { ...scenario.fragility, fromMs: moved(scenario.fragility.fromMs) } }),
    recoveredAtMs: moved(scenario.recoveredAtMs),
  }
}

const healthy = (atMs: number): HealthSegment => ({ atMs, failureRate: 0.002, latencyMs: { median: 40, p99: 150 } })

/** Request arrival times (ms) over `durationMs`, drawn from `random`. */
export const arrivals = (load: LoadModel, durationMs: number, random: Random): Float64Array => {
  const peak = peakRps(load)
  // Sized for the expected count and grown by doubling: no array of boxed numbers in between.
  let out = new Float64Array(Math.max(16, Math.ceil((peak * durationMs) / 1000 / 0.9)))
  let n = 0
  let step = 0
  const rateAt = (t: number): number => {
    if (load.kind === 'bursts') return t % load.everyMs < load.forMs ? load.burstRps : load.rps
    if (load.kind !== 'steps') return load.rps
    const steps = load.steps
    while (step + 1 < steps.length && (steps[step + 1]?.atMs ?? Number.POSITIVE_INFINITY) <= t) step++
    return steps[step]?.rps ?? 0
  }
  let t = 0
  while (t < durationMs) {
    const rps = rateAt(t)
    const gap = load.kind === 'constant' ? 1000 / rps : (-Math.log(1 - random()) * 1000) / rps
    // Arrivals are memoryless: a gap that would pass the next step starts over there, at its rate.
    const nextStep = load.kind === 'steps' ? (load.steps[step + 1]?.atMs ?? Number.POSITIVE_INFINITY) : Number.POSITIVE_INFINITY
    if (t + gap >= nextStep) {
      t = nextStep
      continue
    }
    t += gap
    if (t < durationMs) {
      if (n === out.length) {
        const bigger = new Float64Array(out.length * 2)
        bigger.set(out)
        out = bigger
      }
      out[n++] = t
    }
  }
  return out.slice(0, n)
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
