/**
 * The scenario space: a parametric generator of cells over the axes that decide which strategy
 * wins (traffic from 1 to 10,000 requests/s, Poisson or bursty arrivals, fast or slow calls, the
 * incident's shape and length, a cold start, and noise that never justifies a trip). Each cell is
 * an ordinary {@link Scenario}; the generator takes no random draws, so the space is the same on
 * every machine, and a cell's draws come from the seed it is simulated with.
 *
 * The cells are split into two halves, `train` and `test`, alternating within each family by
 * traffic level: defaults and tuned configs are chosen on one half and reported on the other.
 */
import { type HealthSegment, healthChanges, type LoadModel, type Scenario } from '../Scenario.js'

/** Which half of the space a cell is in: choose on `train`, report on `test`. */
export type Half = 'train' | 'test'

/** One cell of the space: a scenario and the coordinates it was generated from. */
export interface Cell {
  /** `family@rps`, e.g. `partial-30@200`: unique, stable across versions that keep the family. */
  readonly id: string
  /** The incident (or noise) shape, e.g. `outage`, `partial-30`, `noise-chronic-12`. */
  readonly family: string
  /** `incident`: something a breaker should act on; `noise`: nothing justifies a trip. */
  readonly kind: 'incident' | 'noise'
  /** Its traffic, in requests per second. */
  readonly rps: number
  /** `poisson`, or `bursty` (surges over a base). */
  readonly arrivals: 'poisson' | 'bursty'
  /** `fast` (40 ms median) or `slow` (1.5 s) calls. */
  readonly latency: 'fast' | 'slow'
  /** Whether the upstream collapses again under too much load while it recovers. */
  readonly fragile: boolean
  /** Whether the upstream's incident has a precursor (latency creeping, errors ramping) before it fails hard. */
  readonly precursor: boolean
  /** `train` or `test`: which half of the space it is in. */
  readonly half: Half
  /** The scenario the simulator runs for it. */
  readonly scenario: Scenario
}

// ---- building blocks -------------------------------------------------------------------------

type Latency = HealthSegment['latencyMs']
const FAST: Latency = { median: 40, p99: 150 }
const SLOW: Latency = { median: 1_500, p99: 4_000 }
/** The healthy error rate of every cell: a little noise, as every real upstream has. */
const BASE_ERRORS = 0.002
/** How long a hung call keeps its caller: the caller's timeout. */
const TIMEOUT_MS = 2_000
/** Healthy traffic before any incident: three 10 s windows, or two where that is thousands of calls already. */
const warmMs = (rps: number): number => (rps >= 1_000 ? 20_000 : 30_000)

const segment = (atMs: number, failureRate: number, latencyMs: Latency, extra: Partial<HealthSegment> = {}): HealthSegment => ({
  atMs,
  failureRate,
  latencyMs,
  ...extra,
})

/** How long a cell runs on after its upstream is back: long enough at low rates for a slow ramp to show. */
const afterMs = (rps: number): number => (rps <= 2 ? 300_000 : rps <= 20 ? 240_000 : rps <= 200 ? 120_000 : rps <= 1_000 ? 60_000 : 30_000)

/** How long a noise cell runs: long enough for a rare false trip, bounded in simulated requests. */
const noiseMs = (rps: number): number =>
  rps <= 2 ? 3_600_000 : rps <= 20 ? 1_200_000 : rps <= 200 ? 600_000 : rps <= 1_000 ? 300_000 : 60_000

/** What a family builds for one traffic level: health, incident and recovery times, and optionally fragility and arrivals. */
interface Shape {
  readonly health: ReadonlyArray<HealthSegment>
  readonly incidentAtMs: number
  readonly recoveredAtMs: number
  readonly durationMs: number
  readonly fragility?: Scenario['fragility']
}

interface Family {
  readonly name: string
  readonly kind: 'incident' | 'noise'
  readonly rates: ReadonlyArray<number>
  readonly latency?: 'fast' | 'slow'
  readonly arrivals?: 'poisson' | 'bursty'
  readonly fragile?: boolean
  readonly precursor?: boolean
  readonly description: string
  readonly shape: (rps: number, latency: Latency) => Shape
}

/** A hard outage of `lengthMs` after the warm-up, then `after` from its end. */
const outage =
  (lengthMs: number, extra: Partial<HealthSegment> = {}) =>
  (rps: number, latency: Latency): Shape => ({
    health: [
      segment(0, BASE_ERRORS, latency),
      segment(warmMs(rps), 1, latency, extra),
      segment(warmMs(rps) + lengthMs, BASE_ERRORS, latency),
    ],
    incidentAtMs: warmMs(rps),
    recoveredAtMs: warmMs(rps) + lengthMs,
    durationMs: warmMs(rps) + lengthMs + afterMs(rps),
  })

/** A 30 s outage, then `middle` (segments relative to the outage's end, over `middleMs`), then healthy. */
const outageThen =
  (middleMs: number, middle: (at: number, latency: Latency, rps: number) => ReadonlyArray<HealthSegment>) =>
  (rps: number, latency: Latency): Shape => {
    const back = warmMs(rps) + 30_000
    const healthy = back + middleMs
    return {
      health: [
        segment(0, BASE_ERRORS, latency),
        segment(warmMs(rps), 1, latency),
        ...middle(back, latency, rps),
        segment(healthy, BASE_ERRORS, latency),
      ],
      incidentAtMs: warmMs(rps),
      recoveredAtMs: healthy,
      durationMs: healthy + afterMs(rps),
    }
  }

/** A 30 s outage, then an upstream that collapses again above `ratio` of the offered load until it has held for 30 s. */
const fragile =
  (ratio: number, warns: boolean) =>
  (rps: number, latency: Latency): Shape => ({
    ...outage(30_000)(rps, latency),
    fragility: {
      fromMs: warmMs(rps) + 30_000,
      capacityRps: Math.max(1, Math.round(ratio * rps)),
      settleMs: 30_000,
      collapseMs: 5_000,
      ...(warns ? { strain: { fromShare: 0.5, failureRate: 0.4 } } : {}),
    },
  })

/** Noise over a long healthy run: `every` ms, `forMs` of `during`, otherwise `background` errors. */
const noise =
  (
    background: number,
    every?: { readonly everyMs: number; readonly forMs: number; readonly failureRate: number; readonly latencyMs?: Latency },
  ) =>
  (rps: number, latency: Latency): Shape => {
    const durationMs = noiseMs(rps)
    const health: HealthSegment[] = [segment(0, background, latency)]
    if (every !== undefined) {
      for (let at = every.everyMs; at + every.forMs < durationMs; at += every.everyMs) {
        health.push(segment(at, every.failureRate, every.latencyMs ?? latency), segment(at + every.forMs, background, latency))
      }
    }
    return { health, incidentAtMs: durationMs, recoveredAtMs: durationMs, durationMs }
  }

const LOW_TO_HIGH = [2, 20, 200, 1_000, 5_000] as const

/** The families of the space, each at the traffic levels it is generated for. */
const FAMILIES: ReadonlyArray<Family> = [
  {
    name: 'outage',
    kind: 'incident',
    rates: [1, ...LOW_TO_HIGH, 10_000],
    description: 'down for 30 s (fast errors), then healthy',
    shape: outage(30_000),
  },
  { name: 'outage-long', kind: 'incident', rates: [2, 200, 1_000], description: 'down for 2 min, then healthy', shape: outage(120_000) },
  {
    name: 'hung-outage',
    kind: 'incident',
    rates: [20, 1_000],
    description: `hung for 60 s (every call waits for the caller's ${TIMEOUT_MS / 1000} s timeout), then healthy`,
    shape: outage(60_000, { failureLatencyMs: TIMEOUT_MS }),
  },
  {
    name: 'outage-slow',
    kind: 'incident',
    rates: [2, 200, 1_000],
    latency: 'slow',
    description: 'calls take 1.5 s; down for 30 s, then a clean but slow recovery',
    shape: outage(30_000),
  },
  {
    name: 'outage-bursty',
    kind: 'incident',
    rates: [200],
    arrivals: 'bursty',
    description: 'bursts of 4x the load for 5 s every 30 s; down for 30 s, then healthy',
    shape: outage(30_000),
  },
  {
    name: 'cold-down',
    kind: 'incident',
    rates: [2, 200, 5_000],
    description: 'down from the first call (a breaker with no history) for 30 s, then healthy',
    shape: (rps, latency) => ({
      health: [segment(0, 1, latency), segment(30_000, BASE_ERRORS, latency)],
      incidentAtMs: 0,
      recoveredAtMs: 30_000,
      durationMs: 30_000 + afterMs(rps),
    }),
  },
  {
    name: 'error-ramp',
    kind: 'incident',
    rates: [2, 20, 200, 1_000],
    precursor: true,
    description: 'errors climb from 10% to 60% over 60 s, hold 30 s, then healthy',
    shape: (rps, latency) => ({
      health: [
        segment(0, BASE_ERRORS, latency),
        ...[0.1, 0.2, 0.3, 0.4, 0.5, 0.6].map((rate, i) => segment(warmMs(rps) + i * 10_000, rate, latency)),
        segment(warmMs(rps) + 90_000, BASE_ERRORS, latency),
      ],
      incidentAtMs: warmMs(rps),
      recoveredAtMs: warmMs(rps) + 90_000,
      durationMs: warmMs(rps) + 90_000 + afterMs(rps),
    }),
  },
  {
    name: 'latency-creep',
    kind: 'incident',
    rates: [20, 200, 1_000],
    precursor: true,
    description: 'latency doubles every 10 s for 40 s, then 60% errors for 30 s, then healthy',
    shape: (rps) => ({
      health: [
        segment(0, BASE_ERRORS, FAST),
        ...[80, 160, 320, 640].map((median, i) => segment(warmMs(rps) + i * 10_000, BASE_ERRORS, { median, p99: median * 3 })),
        segment(warmMs(rps) + 40_000, 0.6, { median: 1_000, p99: 3_000 }),
        segment(warmMs(rps) + 70_000, BASE_ERRORS, FAST),
      ],
      incidentAtMs: warmMs(rps),
      recoveredAtMs: warmMs(rps) + 70_000,
      durationMs: warmMs(rps) + 70_000 + afterMs(rps),
    }),
  },
  ...[10, 30, 50].map(
    (percent): Family => ({
      name: `partial-${percent}`,
      kind: 'incident',
      rates: percent === 30 ? LOW_TO_HIGH : [20, 1_000],
      description: `down for 30 s, back at ${percent}% errors for 60 s, then healthy`,
      shape: outageThen(60_000, (at, latency) => [segment(at, percent / 100, latency)]),
    }),
  ),
  {
    name: 'partial-30-slow',
    kind: 'incident',
    rates: [200],
    latency: 'slow',
    description: 'calls take 1.5 s; down for 30 s, back at 30% errors for 60 s, then healthy',
    shape: outageThen(60_000, (at, latency) => [segment(at, 0.3, latency)]),
  },
  {
    name: 'capacity-steps',
    kind: 'incident',
    rates: [2, 20, 200, 1_000],
    description: 'down for 30 s, then capacity returns in steps: 25% of the load for 30 s, 50% for 30 s, then all of it',
    shape: outageThen(60_000, (at, latency, rps) => [
      segment(at, BASE_ERRORS, latency, { capacityRps: Math.max(1, Math.round(rps / 4)) }),
      segment(at + 30_000, BASE_ERRORS, latency, { capacityRps: Math.max(1, Math.round(rps / 2)) }),
    ]),
  },
  {
    name: 'capacity-half',
    kind: 'incident',
    rates: [200, 1_000],
    description: 'down for 30 s, then half the capacity for 60 s (the excess shed with errors), then all of it',
    shape: outageThen(60_000, (at, latency, rps) => [segment(at, BASE_ERRORS, latency, { capacityRps: Math.max(1, Math.round(rps / 2)) })]),
  },
  {
    name: 'flapping',
    kind: 'incident',
    rates: LOW_TO_HIGH,
    description: 'down for 10 s in every 30 s, three times, then healthy',
    shape: flapping,
  },
  { name: 'flapping-slow', kind: 'incident', rates: [1_000], latency: 'slow', description: 'calls take 1.5 s; flapping', shape: flapping },
  ...(
    [
      [50, true, [2, 20, 200, 1_000]],
      [80, true, [200, 1_000]],
      [50, false, [20, 200, 1_000]],
      [80, false, [200]],
    ] as const
  ).map(
    ([percent, warns, rates]): Family => ({
      name: `fragile-${warns ? 'warn' : 'cliff'}-${percent}`,
      kind: 'incident',
      rates,
      fragile: true,
      description: `down for 30 s, then collapses again above ${percent}% of the load until it has held 30 s${
        warns ? ' (errors rise from half that load)' : ' (no warning)'
      }`,
      shape: fragile(percent / 100, warns),
    }),
  ),
  {
    name: 'fragile-warn-50-bursty',
    kind: 'incident',
    rates: [200],
    arrivals: 'bursty',
    fragile: true,
    description: 'bursts of 4x the load; down for 30 s, then collapses above 50% of the base load until it has held 30 s',
    shape: fragile(0.5, true),
  },
  {
    name: 'cascading',
    kind: 'incident',
    rates: [20, 200, 1_000],
    description: '30% errors, then slow calls, then 80% errors, then a partial recovery at 20%, then healthy',
    shape: (rps) => ({
      health: [
        segment(0, BASE_ERRORS, FAST),
        segment(warmMs(rps), 0.3, { median: 80, p99: 300 }),
        segment(warmMs(rps) + 30_000, 0.3, { median: 600, p99: 1_500 }),
        segment(warmMs(rps) + 60_000, 0.8, { median: 1_500, p99: 3_000 }),
        segment(warmMs(rps) + 120_000, 0.2, { median: 300, p99: 1_000 }),
        segment(warmMs(rps) + 150_000, BASE_ERRORS, FAST),
      ],
      incidentAtMs: warmMs(rps),
      recoveredAtMs: warmMs(rps) + 150_000,
      durationMs: warmMs(rps) + 150_000 + afterMs(rps),
    }),
  },
  { name: 'noise-background-1', kind: 'noise', rates: [20, 1_000], description: '1% errors, all the time', shape: noise(0.01) },
  { name: 'noise-background-5', kind: 'noise', rates: [2, 200, 5_000], description: '5% errors, all the time', shape: noise(0.05) },
  {
    name: 'noise-bursts-40',
    kind: 'noise',
    rates: [20, 200, 1_000],
    description: '3% errors, with 5 s bursts of 40% every minute',
    shape: noise(0.03, { everyMs: 60_000, forMs: 5_000, failureRate: 0.4 }),
  },
  {
    name: 'noise-bursts-25',
    kind: 'noise',
    rates: [200],
    description: 'healthy, with 3 s bursts of 25% errors every 45 s',
    shape: noise(BASE_ERRORS, { everyMs: 45_000, forMs: 3_000, failureRate: 0.25 }),
  },
  {
    name: 'noise-latency-spikes',
    kind: 'noise',
    rates: [20, 200, 1_000],
    description: 'healthy, with 5 s latency spikes (median 500 ms, p99 3 s) every minute',
    shape: noise(BASE_ERRORS, { everyMs: 60_000, forMs: 5_000, failureRate: BASE_ERRORS, latencyMs: { median: 500, p99: 3_000 } }),
  },
  { name: 'noise-chronic-12', kind: 'noise', rates: [2, 200, 5_000], description: '12% errors, chronically', shape: noise(0.12) },
  {
    name: 'cold-start',
    kind: 'noise',
    rates: [200, 1_000, 10_000],
    description: 'a healthy upstream at 200 ms from the first call: full traffic at once through a breaker with no history',
    shape: (rps) => {
      const latency = { median: 200, p99: 600 }
      const durationMs = rps >= 5_000 ? 30_000 : 60_000
      return { health: [segment(0, BASE_ERRORS, latency)], incidentAtMs: durationMs, recoveredAtMs: durationMs, durationMs }
    },
  },
  {
    // Last, so that adding it left every other cell in its half. A breaker that learns from the
    // first flaps that its upstream breaks without the load's doing (gradual recovery's trusted
    // restart) meets, on the third, an upstream that the load does break.
    name: 'fragile-flapping',
    kind: 'incident',
    rates: [200, 1_000],
    fragile: true,
    description:
      'flapping, and back from the third flap it collapses again above 50% of the load until it has held 30 s (errors rise from half that load)',
    shape: flappingThenFragile,
  },
]

/** Three flaps of 10 s down in every 30 s, after the warm-up. */
function flapping(rps: number, latency: Latency): Shape {
  const health: HealthSegment[] = [segment(0, BASE_ERRORS, latency)]
  for (let i = 0; i < 3; i++)
    health.push(segment(warmMs(rps) + i * 30_000, 1, latency), segment(warmMs(rps) + i * 30_000 + 10_000, BASE_ERRORS, latency))
  const recovered = warmMs(rps) + 70_000
  return { health, incidentAtMs: warmMs(rps), recoveredAtMs: recovered, durationMs: recovered + afterMs(rps) }
}

/** {@link flapping}, back from its third flap as {@link fragile}`(0.5, true)` is back from its outage. */
function flappingThenFragile(rps: number, latency: Latency): Shape {
  const shape = flapping(rps, latency)
  return {
    ...shape,
    fragility: {
      fromMs: shape.recoveredAtMs,
      capacityRps: Math.max(1, Math.round(0.5 * rps)),
      settleMs: 30_000,
      collapseMs: 5_000,
      strain: { fromShare: 0.5, failureRate: 0.4 },
    },
  }
}

const loadOf = (rps: number, arrivals: 'poisson' | 'bursty'): LoadModel =>
  arrivals === 'bursty' ? { kind: 'bursts', rps, burstRps: rps * 4, everyMs: 30_000, forMs: 5_000 } : { kind: 'poisson', rps }

/** The traffic levels {@link qualitySpace} builds a family at, in requests/s: the space's own span. */
export const SPACE_RATES = { min: 1, max: 10_000 } as const

/** Options of {@link qualitySpace}. */
export interface SpaceOptions {
  /**
   * Build every family at these traffic levels (whole requests/s, from 1 to 10,000) instead of its own:
   * the space at your traffic, or at levels it was not chosen on. Each family's shape is built
   * for the level as it is for its own (warm-up, duration, capacities and fragile thresholds
   * follow the rate). Sorted, repeats dropped.
   */
  readonly rates?: ReadonlyArray<number>
}

/**
 * Every cell of the space, family by family, each family by rising traffic. Deterministic: the
 * same list, in the same order, every time. With `rates`, every family at those traffic levels
 * instead of its own (a rate out of range throws a `RangeError` naming it).
 *
 * @example
 * import { qualitySpace } from '@datapunk/breaker-sim'
 * const cells = qualitySpace()
 * cells.length >= 60 // true
 * cells.find((c) => c.id === 'partial-30@200')?.scenario.health[2]?.failureRate // 0.3
 * qualitySpace({ rates: [300] }).find((c) => c.family === 'outage')?.id // 'outage@300'
 */
export const qualitySpace = (options: SpaceOptions = {}): ReadonlyArray<Cell> => {
  const rates = options.rates === undefined ? undefined : spaceRates(options.rates)
  return FAMILIES.flatMap((family, f) => {
    const latencyName = family.latency ?? 'fast'
    const latency = latencyName === 'slow' ? SLOW : FAST
    const arrivals = family.arrivals ?? 'poisson'
    return (rates ?? family.rates).map((rps, i): Cell => {
      const shape = family.shape(rps, latency)
      const id = `${family.name}@${rps}`
      return {
        id,
        family: family.name,
        kind: family.kind,
        rps,
        arrivals,
        latency: latencyName,
        fragile: family.fragile ?? false,
        precursor: family.precursor ?? false,
        // Alternate within the family, and start every other family on the other half, so each
        // half holds every shape at some traffic levels and single-level families split evenly.
        half: (i + f) % 2 === 0 ? 'train' : 'test',
        scenario: {
          name: id.replace('@', '-at-'),
          description: `${family.description}; ${rps.toLocaleString('en-US')} requests/s${arrivals === 'bursty' ? ' between bursts' : ''}`,
          durationMs: shape.durationMs,
          load: loadOf(rps, arrivals),
          health: shape.health,
          ...(shape.fragility === undefined ? {} : { fragility: shape.fragility }),
          incidentAtMs: shape.incidentAtMs,
          recoveredAtMs: shape.recoveredAtMs,
          ...(family.kind === 'incident' ? { jitterMs: jitterOf(shape) } : {}),
        },
      }
    })
  })
}

/** `rates` checked, sorted, without repeats. */
const spaceRates = (rates: ReadonlyArray<number>): ReadonlyArray<number> => {
  const bad = rates.find((r) => !Number.isInteger(r) || r < SPACE_RATES.min || r > SPACE_RATES.max)
  if (bad !== undefined || rates.length === 0) {
    throw new RangeError(
      `qualitySpace: expected rates in whole requests/s from ${SPACE_RATES.min} to ${SPACE_RATES.max.toLocaleString('en-US')}, got ${rates.length === 0 ? 'none' : String(bad)}`,
    )
  }
  return [...new Set(rates)].sort((a, b) => a - b)
}

/**
 * How much later each change of an incident cell's health comes on a seed: up to the baseline's
 * open duration (5 s), so that over the seeds the upstream recovers at every point of a breaker's
 * open period (every outage here lasts a multiple of 5 s, and a failure-rate threshold over a 10 s
 * window trips 5 s into a hard outage at high traffic: without it, classic half-open's probe met
 * the recovery on the dot on every seed); less where the changes are closer than that.
 */
const JITTER_MS = 5_000
const jitterOf = (shape: Shape): number => {
  const ends = [...healthChanges(shape), shape.durationMs]
  let gap = JITTER_MS
  for (let i = 1; i < ends.length; i++) gap = Math.min(gap, (ends[i] ?? 0) - (ends[i - 1] ?? 0))
  return gap
}
