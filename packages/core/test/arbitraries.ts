import type { CircuitConfigInput, OpenForConfigInput, RecoveryConfigInput, TripConfigInput } from '@datapunk/breaker'
import fc from 'fast-check'

/** Random but valid window specs: small, so windows fill and wrap within a short sequence. */
export const windowSpec = fc.oneof(
  fc.record({ kind: fc.constant('count' as const), size: fc.integer({ min: 1, max: 40 }) }),
  fc.record({
    kind: fc.constant('time' as const),
    durationMs: fc.integer({ min: 12, max: 5000 }),
    buckets: fc.integer({ min: 1, max: 12 }),
  }),
)

const ratio = fc.double({ min: 0.01, max: 1, noNaN: true })

/** Every built-in detector kind, composites last. */
export const DETECTOR_KINDS = [
  'consecutive-failures',
  'failure-count',
  'failure-rate',
  'slow-call-rate',
  'change-point',
  'trend-forecast',
  'cusum',
  'learned',
  'any-of',
  'all-of',
] as const
export type DetectorKind = (typeof DETECTOR_KINDS)[number]

const minimumCallsFor = (window: { kind: 'count'; size: number } | { kind: 'time' }) =>
  fc.integer({ min: 1, max: window.kind === 'count' ? window.size : 30 })

/** The arbitrary of a detector kind's configs (at a nesting depth), built once: `chain`s ask for it once per value. */
const trips = new Map<string, fc.Arbitrary<TripConfigInput>>()
export const tripOf = (kind: DetectorKind, depth = 0): fc.Arbitrary<TripConfigInput> => {
  const key = `${kind}/${depth}`
  const known = trips.get(key)
  if (known !== undefined) return known
  const built = buildTrip(kind, depth)
  trips.set(key, built)
  return built
}

const buildTrip = (kind: DetectorKind, depth: number): fc.Arbitrary<TripConfigInput> => {
  switch (kind) {
    case 'consecutive-failures':
      return fc.record({ kind: fc.constant(kind), threshold: fc.integer({ min: 1, max: 8 }) })
    case 'failure-count':
      return windowSpec.chain((window) =>
        fc.record({
          kind: fc.constant(kind),
          threshold: fc.integer({ min: 1, max: window.kind === 'count' ? window.size : 10 }),
          window: fc.constant(window),
        }),
      )
    case 'failure-rate':
      return windowSpec.chain((window) =>
        fc.record({ kind: fc.constant(kind), threshold: ratio, minimumCalls: minimumCallsFor(window), window: fc.constant(window) }),
      )
    case 'slow-call-rate':
      return windowSpec.chain((window) =>
        fc.record({
          kind: fc.constant(kind),
          threshold: ratio,
          slowCallMs: fc.integer({ min: 1, max: 200 }),
          minimumCalls: minimumCallsFor(window),
          window: fc.constant(window),
        }),
      )
    case 'change-point':
      return fc.record(
        {
          kind: fc.constant(kind),
          signal: fc.constantFrom('failure' as const, 'latency' as const),
          tolerance: fc.double({ min: 0, max: 2, noNaN: true }),
          threshold: fc.double({ min: 0.1, max: 20, noNaN: true }),
          baselineWeight: ratio,
          minimumCalls: fc.integer({ min: 1, max: 30 }),
          cap: fc.double({ min: 0.5, max: 10, noNaN: true }),
        },
        { requiredKeys: ['kind', 'signal'] },
      )
    case 'trend-forecast':
      return fc.tuple(fc.integer({ min: 1, max: 500 }), fc.boolean()).chain(([bucketMs, latency]) =>
        fc.record(
          {
            kind: fc.constant(kind),
            signal: fc.constant(latency ? ('latency' as const) : ('failure' as const)),
            threshold: latency ? fc.double({ min: 1, max: 2000, noNaN: true }) : ratio,
            quantile: fc.double({ min: 0.5, max: 0.99, noNaN: true }),
            bucketMs: fc.constant(bucketMs),
            horizonMs: fc.integer({ min: bucketMs, max: bucketMs * 20 }),
            levelWeight: ratio,
            trendWeight: ratio,
            minimumCalls: fc.integer({ min: 1, max: 10 }),
            warmupBuckets: fc.integer({ min: 1, max: 5 }),
          },
          { requiredKeys: ['kind', 'signal', 'threshold', 'bucketMs', 'horizonMs'] },
        ),
      )
    case 'cusum':
      // Short buckets and baselines, so a property's sequence learns, judges and trips.
      return fc.record(
        {
          kind: fc.constant(kind),
          signal: fc.constantFrom('failure' as const, 'latency' as const),
          falseTripsPerDay: fc.double({ min: 0.01, max: 1000, noNaN: true }),
          slack: fc.double({ min: 0.01, max: 2, noNaN: true }),
          burstMs: fc.integer({ min: 0, max: 300 }),
          burstShift: fc.double({ min: 0, max: 4, noNaN: true }),
          burstMargin: fc.double({ min: 0, max: 6, noNaN: true }),
          persist: fc.boolean(),
          bucketMs: fc.integer({ min: 10, max: 100 }),
          baselineMs: fc.integer({ min: 1000, max: 20_000 }),
        },
        { requiredKeys: ['kind', 'signal'] },
      )
    case 'learned': {
      return fc.record({
        kind: fc.constant(kind),
        model: predictorModel(50),
        bucketMs: fc.integer({ min: 1, max: 300 }),
        minimumCalls: fc.integer({ min: 1, max: 5 }),
        confirmBuckets: fc.integer({ min: 1, max: 3 }),
        warmupBuckets: fc.integer({ min: 1, max: 4 }),
      })
    }
    case 'any-of':
    case 'all-of':
      return fc.record({
        kind: fc.constant(kind),
        detectors: fc.array(
          fc
            .constantFrom<DetectorKind>(...(depth < 1 ? DETECTOR_KINDS : (['consecutive-failures', 'failure-rate'] as const)))
            .chain((k) => tripOf(k, depth + 1)),
          { minLength: 1, maxLength: 3 },
        ),
      })
  }
}

export const anyTrip: fc.Arbitrary<TripConfigInput> = fc.constantFrom<DetectorKind>(...DETECTOR_KINDS).chain((k) => tripOf(k))

/** The strictest failure-rate threshold in a trip config (recovery thresholds must not exceed it). */
const closedRate = (trip: TripConfigInput): number => {
  if (trip.kind === 'failure-rate') return trip.threshold
  if (trip.kind === 'trend-forecast') return trip.signal === 'latency' ? 1 : (trip.threshold ?? 0.5)
  if (trip.kind === 'any-of' || trip.kind === 'all-of') return Math.min(1, ...trip.detectors.map(closedRate))
  return 1
}

export const classicRecovery = (cap: number): fc.Arbitrary<RecoveryConfigInput> =>
  fc.record(
    {
      kind: fc.constant('classic' as const),
      probes: fc.integer({ min: 1, max: 5 }),
      failureRateThreshold: fc.double({ min: 0.01, max: cap, noNaN: true }),
      slowCallMs: fc.integer({ min: 300, max: 1000 }), // rarely slow: most recoveries can succeed
    },
    { requiredKeys: ['kind'] },
  )

export const gradualRecovery = (cap: number): fc.Arbitrary<RecoveryConfigInput> =>
  fc.double({ min: 0.01, max: cap, noNaN: true }).chain((threshold) =>
    fc.record(
      {
        kind: fc.constant('gradual' as const),
        initialRate: fc.double({ min: 0.05, max: 1, noNaN: true }),
        increment: fc.double({ min: 0.05, max: 1, noNaN: true }),
        maxSpeed: fc.integer({ min: 1, max: 8 }),
        stageCalls: fc.integer({ min: 1, max: 6 }),
        stageMs: fc.integer({ min: 0, max: 100 }),
        rampMs: fc.integer({ min: 1, max: 3000 }),
        aggression: fc.double({ min: 0.5, max: 4, noNaN: true }),
        failureRateThreshold: fc.constant(threshold),
        marginalRate: fc.double({ min: 0, max: threshold, noNaN: true }).filter((m) => m < 1),
        confidence: fc.double({ min: 0.5, max: 0.9999, noNaN: true }),
        probationMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 400 })),
        probationCalls: fc.integer({ min: 1, max: 20 }),
        holdMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 800 })),
        burstMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1000 })),
        slowCallMs: fc.integer({ min: 300, max: 1000 }), // rarely slow: most recoveries can succeed
      },
      { requiredKeys: ['kind', 'failureRateThreshold', 'marginalRate'] },
    ),
  )

export const openFor: fc.Arbitrary<OpenForConfigInput> = fc.oneof(
  fc.record({ kind: fc.constant('constant' as const), ms: fc.integer({ min: 1, max: 500 }) }),
  fc
    .tuple(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: 2000 }), fc.double({ min: 1, max: 4, noNaN: true }))
    .map(([initialMs, extra, multiplier]) => ({ kind: 'exponential' as const, initialMs, maxMs: initialMs + extra, multiplier })),
  // Honours the failures' retry hints (the scripts give some), falling back to a constant.
  fc
    .tuple(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 1, max: 500 }))
    .map(([minMs, extra, ms]) => ({
      kind: 'retry-after' as const,
      minMs,
      maxMs: minMs + extra,
      otherwise: { kind: 'constant' as const, ms },
    })),
)

export const configWith = (
  trip: fc.Arbitrary<TripConfigInput>,
  recovery: 'classic' | 'gradual' | 'any',
): fc.Arbitrary<CircuitConfigInput> =>
  trip.chain((t) => {
    const cap = closedRate(t)
    const r =
      recovery === 'classic'
        ? classicRecovery(cap)
        : recovery === 'gradual'
          ? gradualRecovery(cap)
          : fc.oneof(classicRecovery(cap), gradualRecovery(cap))
    return fc.record(
      {
        trip: fc.constant(t),
        recovery: r,
        openFor,
        probeTimeoutMs: fc.integer({ min: 50, max: 5000 }),
        maxProbesInFlight: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constant('learned' as const)),
      },
      { requiredKeys: ['trip', 'recovery', 'openFor'] },
    )
  })

/**
 * A step of a random scenario: time moves on by `dt`, then one thing happens. `call` requests and,
 * if admitted, settles at once (the common case); `request` leaves the call in flight, and
 * `succeed` / `fail` / `cancel` settle one chosen among those in flight (`pick`), or a made-up
 * ticket when none is.
 */
export type ScriptStep =
  | { readonly dt: number; readonly op: 'call'; readonly fail: boolean; readonly latencyMs: number }
  | { readonly dt: number; readonly op: 'request' }
  | { readonly dt: number; readonly op: 'succeed' | 'fail'; readonly pick: number; readonly latencyMs: number }
  | { readonly dt: number; readonly op: 'cancel'; readonly pick: number }
  | { readonly dt: number; readonly op: 'overdue'; readonly pick: number; readonly latencyMs: number }
  | { readonly dt: number; readonly op: 'tick' | 'forceOpen' | 'disable' | 'reset' | 'halfOpen' | 'close' | 'isolate' }
  | { readonly dt: number; readonly op: 'openFor'; readonly ms: number }
  | { readonly dt: number; readonly op: 'release'; readonly pick: number }
  | { readonly dt: number; readonly op: 'swap' }
  | { readonly dt: number; readonly op: 'invalid' | 'invalid-time' }
  | { readonly dt: number; readonly op: 'peerTripped' | 'peerRecovered' }
  | { readonly dt: number; readonly op: 'follow'; readonly rate: number | null }
  /** The fleet's evidence: this replica's own share scaled by `scale`, epochs moved by `shift`, maybe with junk. */
  | {
      readonly dt: number
      readonly op: 'evidence'
      readonly scale: number
      readonly failShare: number
      readonly shift: number
      readonly junk: boolean
    }

const dt = fc.integer({ min: 0, max: 200 })

/** The longest manual open the scripts command (the invariants bound open phases by it). */
export const MANUAL_OPEN_MAX_MS = 5000
const latency = fc.integer({ min: 0, max: 400 })

/** One step, failing with probability `failureBias` (fixed per scenario, so some scenarios are outages). */
const scriptStep = (failureBias: number): fc.Arbitrary<ScriptStep> =>
  fc.oneof(
    {
      weight: 12,
      arbitrary: fc.record({
        dt,
        op: fc.constant('call' as const),
        fail: fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x < failureBias),
        latencyMs: latency,
      }),
    },
    { weight: 3, arbitrary: fc.record({ dt, op: fc.constant('request' as const) }) },
    {
      weight: 3,
      arbitrary: fc.record({
        dt,
        op: fc.double({ min: 0, max: 1, noNaN: true }).map((x) => (x < failureBias ? ('fail' as const) : ('succeed' as const))),
        pick: fc.nat(),
        latencyMs: latency,
      }),
    },
    { weight: 1, arbitrary: fc.record({ dt, op: fc.constant('cancel' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ dt, op: fc.constant('overdue' as const), pick: fc.nat(), latencyMs: latency }) },
    { weight: 2, arbitrary: fc.record({ dt: fc.integer({ min: 0, max: 3000 }), op: fc.constant('tick' as const) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        dt: fc.integer({ min: -50, max: 100 }),
        op: fc.constantFrom(
          'forceOpen' as const,
          'disable' as const,
          'reset' as const,
          'invalid' as const,
          'invalid-time' as const,
          'halfOpen' as const,
          'close' as const,
          'isolate' as const,
        ),
      }),
    },
    { weight: 1, arbitrary: fc.record({ dt, op: fc.constant('openFor' as const), ms: fc.integer({ min: 1, max: MANUAL_OPEN_MAX_MS }) }) },
    { weight: 1, arbitrary: fc.record({ dt, op: fc.constant('release' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ dt, op: fc.constantFrom('peerTripped' as const, 'peerRecovered' as const) }) },
    {
      weight: 2,
      arbitrary: fc.record({
        dt,
        op: fc.constant('follow' as const),
        rate: fc.oneof(fc.constant(null), fc.constantFrom(0, 0.1, 0.5, 1), fc.double({ min: 0, max: 1, noNaN: true })),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        dt,
        op: fc.constant('evidence' as const),
        scale: fc.integer({ min: 0, max: 20 }),
        failShare: fc.double({ min: 0, max: 1, noNaN: true }),
        shift: fc.integer({ min: -12, max: 3 }),
        junk: fc.boolean(),
      }),
    },
    // A run-time swap to the other config of the pair (and back, the next time).
    { weight: 1, arbitrary: fc.record({ dt, op: fc.constant('swap' as const) }) },
    // The caller's clock jumps: back or forward by up to an hour, or to somewhere far away.
    {
      weight: 1,
      arbitrary: fc.record({
        dt: fc.oneof(fc.integer({ min: -3_600_000, max: 3_600_000 }), fc.constantFrom(1e15, -1e15, -2000, 2000)),
        op: fc.constant('tick' as const),
      }),
    },
  )

// One arbitrary per bias, built once: `chain` would otherwise build the whole `oneof` for every segment.
const BIASES = [0, 0, 0.05, 0.3, 0.7, 1] as const
const segmentOf = new Map(BIASES.map((bias) => [bias, fc.array(scriptStep(bias), { minLength: 1, maxLength: 60 })]))
const segment: fc.Arbitrary<ScriptStep[]> = fc.constantFrom(...BIASES).chain((bias) => segmentOf.get(bias) ?? fc.array(scriptStep(bias)))

/**
 * A scenario: up to three segments, each with its own failure bias (healthy, flaky, an outage),
 * so scenarios trip, recover, and trip again.
 */
export const script: fc.Arbitrary<ReadonlyArray<ScriptStep>> = fc
  .array(segment, { minLength: 1, maxLength: 3 })
  .map((segments) => segments.flat())

/**
 * A learned predictor's model with weights in [-max, max]; the averaged features' weights may be
 * absent (a model written before they existed).
 */
export const predictorModel = (max: number) => {
  const weight = fc.double({ min: -max, max, noNaN: true })
  return fc.record({
    bias: weight,
    weights: fc.record(
      {
        failureRate: weight,
        failureRateChange: weight,
        logLatencyRatio: weight,
        logLatencyRatioChange: weight,
        failureRate10: weight,
        failureRate60: weight,
        logLatencyRatio10: weight,
        logLatencyRatio60: weight,
      },
      { requiredKeys: ['failureRate', 'failureRateChange', 'logLatencyRatio', 'logLatencyRatioChange'] },
    ),
  })
}

/**
 * Any value JavaScript has, for checking a function against JSON's own writing: bigints, boxed
 * values, dates, maps, sets, typed and sparse arrays, objects without a prototype, objects that
 * print as strings; object keys drawn from `key`, leaves from `values` too when given.
 */
export const anyValue = (key: fc.Arbitrary<string>, values?: ReadonlyArray<fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> =>
  fc.anything({
    withBigInt: true,
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withNullPrototype: true,
    withObjectString: true,
    withSet: true,
    withSparseArray: true,
    withTypedArray: true,
    key,
    ...(values === undefined ? {} : { values: [...values] }),
  })
