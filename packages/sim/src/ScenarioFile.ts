/**
 * Scenarios as data: the JSON format of a scenario file, decoded with readable errors. The
 * built-in scenarios are files of this format (packages/sim/scenarios); `breaker-sim run
 * --scenario-file` reads yours.
 */
import { readFileSync, statSync } from 'node:fs'
import { constrained, literal, report, struct, tagged } from '@datapunk/breaker'
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { healthChanges, peakRps, type Scenario } from './Scenario.js'

/** The most requests one simulated run may make (rate times duration): a bound on time and memory. */
export const MAX_SIMULATED_REQUESTS = 50_000_000
/** The most calls a scenario may have in flight at once (its peak rate times its slowest p99 latency): what the simulator holds in memory. */
export const MAX_IN_FLIGHT = 1_000_000
/** The longest scenario: one day. */
export const MAX_SCENARIO_MS = 86_400_000

const NameCodec = new t.Type<string, string, unknown>(
  'a name of lowercase letters, digits and dashes',
  (u): u is string => typeof u === 'string' && /^[a-z0-9][a-z0-9-]{0,63}$/.test(u),
  (u, c) => (typeof u === 'string' && /^[a-z0-9][a-z0-9-]{0,63}$/.test(u) ? t.success(u) : t.failure(u, c)),
  (a) => a,
)
const Text = new t.Type<string, string, unknown>(
  'a text of at most 500 characters',
  (u): u is string => typeof u === 'string' && u.length <= 500,
  (u, c) => (typeof u === 'string' && u.length <= 500 ? t.success(u) : t.failure(u, c)),
  (a) => a,
)
const Time = constrained(`a time in ms in [0, ${MAX_SCENARIO_MS}]`, (n) => n >= 0 && n <= MAX_SCENARIO_MS)
const Duration = constrained(`a duration in ms in [1000, ${MAX_SCENARIO_MS}]`, (n) => n >= 1000 && n <= MAX_SCENARIO_MS)
const Rps = constrained('a rate in requests per second in (0, 100000]', (n) => n > 0 && n <= 100_000)
const Probability = constrained('a probability in [0, 1]', (n) => n >= 0 && n <= 1)
const LatencyMs = constrained('a latency in ms in (0, 600000]', (n) => n > 0 && n <= 600_000)

/** How many health segments, and how many load steps, a scenario may have. */
const MAX_HEALTH_SEGMENTS = 10_000
const MAX_LOAD_STEPS = 10_000

/** A non-empty array of at most `max` values of `codec`, each reported at its index when it fails. */
const boundedArray = <A>(what: string, codec: t.Type<A, unknown, unknown>, max: number) =>
  new t.Type<ReadonlyArray<A>, unknown, unknown>(
    `a non-empty array of ${what}`,
    (u): u is ReadonlyArray<A> => Array.isArray(u) && u.length > 0 && u.length <= max && u.every((x) => codec.is(x)),
    (u, c) => {
      if (!Array.isArray(u) || u.length === 0 || u.length > max) return t.failure(u, c, `expected 1 to ${max} ${what}`)
      const errors: t.ValidationError[] = []
      const out: A[] = []
      u.forEach((x, i) => {
        const r = codec.validate(x, t.appendContext(c, `[${i}]`, codec, x))
        if (E.isLeft(r)) errors.push(...r.left)
        else out.push(r.right)
      })
      return errors.length > 0 ? t.failures(errors) : t.success(out)
    },
    (a) => a,
  )

const LoadModel = tagged('a load model', {
  constant: struct('a constant load', { kind: literal('constant'), rps: Rps }),
  poisson: struct('a Poisson load', { kind: literal('poisson'), rps: Rps }),
  bursts: struct('a bursty load', { kind: literal('bursts'), rps: Rps, burstRps: Rps, everyMs: Duration, forMs: Duration }),
  steps: struct('a load in steps', {
    kind: literal('steps'),
    steps: boundedArray('load steps', struct('a load step', { atMs: Time, rps: Rps }), MAX_LOAD_STEPS),
  }),
})

const HealthSegment = struct(
  'a health segment',
  {
    atMs: Time,
    failureRate: Probability,
    latencyMs: struct('a latency distribution', { median: LatencyMs, p99: LatencyMs }),
  },
  { failureLatencyMs: LatencyMs, capacityRps: Rps },
)

const Share = constrained('a share in [0, 1)', (n) => n >= 0 && n < 1)
const Strain = struct('a strain', { fromShare: Share, failureRate: Probability })
const Fragility = struct('a fragility', { fromMs: Time, capacityRps: Rps, settleMs: Duration, collapseMs: Duration }, { strain: Strain })

const Shape = struct(
  'a scenario',
  {
    name: NameCodec,
    durationMs: Duration,
    load: LoadModel,
    health: boundedArray('health segments', HealthSegment, MAX_HEALTH_SEGMENTS),
    incidentAtMs: Time,
    recoveredAtMs: Time,
  },
  { description: Text, fragility: Fragility, jitterMs: Time },
)

const at = (c: t.Context, path: string, value: unknown): t.Context =>
  path.split('.').reduce<t.Context>((ctx, key) => t.appendContext(ctx, key, t.unknown, value), c)

/** The checks across fields a scenario must pass, as errors at their paths. */
const crossChecks = (s: t.TypeOf<typeof Shape>, c: t.Context): t.Errors => {
  const errors: t.ValidationError[] = []
  const fail = (path: string, value: unknown, message: string) => errors.push({ value, context: at(c, path, value), message })
  s.health.forEach((segment, i) => {
    if (i === 0 && segment.atMs !== 0)
      fail('health.[0].atMs', segment.atMs, `expected the first segment to start at 0, got ${segment.atMs}`)
    const before = s.health[i - 1]
    if (before !== undefined && segment.atMs <= before.atMs) {
      fail(`health.[${i}].atMs`, segment.atMs, `expected a time after the previous segment's (${before.atMs}), got ${segment.atMs}`)
    }
    if (segment.atMs >= s.durationMs)
      fail(`health.[${i}].atMs`, segment.atMs, `expected a time before durationMs (${s.durationMs}), got ${segment.atMs}`)
    if (segment.latencyMs.p99 < segment.latencyMs.median) {
      fail(
        `health.[${i}].latencyMs.p99`,
        segment.latencyMs.p99,
        `expected at least the median (${segment.latencyMs.median}), got ${segment.latencyMs.p99}`,
      )
    }
  })
  if (s.recoveredAtMs < s.incidentAtMs)
    fail('recoveredAtMs', s.recoveredAtMs, `expected at least incidentAtMs (${s.incidentAtMs}), got ${s.recoveredAtMs}`)
  if (s.recoveredAtMs > s.durationMs)
    fail('recoveredAtMs', s.recoveredAtMs, `expected at most durationMs (${s.durationMs}), got ${s.recoveredAtMs}`)
  if (s.load.kind === 'bursts' && s.load.forMs > s.load.everyMs) {
    fail('load.forMs', s.load.forMs, `expected at most everyMs (${s.load.everyMs}), got ${s.load.forMs}`)
  }
  if (s.load.kind === 'steps') {
    const steps = s.load.steps
    steps.forEach((step, i) => {
      if (i === 0 && step.atMs !== 0) fail('load.steps.[0].atMs', step.atMs, `expected the first step to start at 0, got ${step.atMs}`)
      const before = steps[i - 1]
      if (before !== undefined && step.atMs <= before.atMs)
        fail(`load.steps.[${i}].atMs`, step.atMs, `expected a time after the previous step's (${before.atMs}), got ${step.atMs}`)
    })
  }
  const peak = peakRps(s.load)
  const requests = Math.ceil((peak * s.durationMs) / 1000)
  if (requests > MAX_SIMULATED_REQUESTS) {
    fail(
      'durationMs',
      s.durationMs,
      `expected at most ${MAX_SIMULATED_REQUESTS.toLocaleString('en-US')} requests (rate x duration), got ${requests.toLocaleString('en-US')}`,
    )
  }
  // Calls in flight at once are what the simulator holds in memory: rate x the slowest p99.
  const slowestMs = Math.max(...s.health.map((h) => Math.max(h.latencyMs.p99, h.failureLatencyMs ?? 0)))
  const inFlight = Math.ceil((peak * slowestMs) / 1000)
  if (inFlight > MAX_IN_FLIGHT) {
    fail(
      'health',
      slowestMs,
      `expected at most ${MAX_IN_FLIGHT.toLocaleString('en-US')} calls in flight at once (peak rate x slowest p99 latency), got ${inFlight.toLocaleString('en-US')}`,
    )
  }
  if (s.fragility !== undefined && s.fragility.fromMs >= s.durationMs) {
    fail('fragility.fromMs', s.fragility.fromMs, `expected a time before durationMs (${s.durationMs}), got ${s.fragility.fromMs}`)
  }
  if (s.jitterMs !== undefined) jitterCheck(s, s.jitterMs, fail)
  return errors
}

/** `jitterMs` must keep the changes after the incident in order and within the run (see `jitteredScenario`). */
const jitterCheck = (s: t.TypeOf<typeof Shape>, jitterMs: number, fail: (path: string, value: unknown, message: string) => void): void => {
  const ends = [...healthChanges(s), s.durationMs]
  for (let i = 1; i < ends.length; i++) {
    const gap = (ends[i] ?? 0) - (ends[i - 1] ?? 0)
    if (gap < jitterMs) {
      const what =
        i === ends.length - 1 ? `the last change after incidentAtMs (${ends[i - 1]}) and durationMs` : `${ends[i - 1]} and ${ends[i]}`
      fail(
        'jitterMs',
        jitterMs,
        `expected at most the shortest gap between changes of health after incidentAtMs (${gap} ms, between ${what}), got ${jitterMs}`,
      )
      return
    }
  }
}

/** The codec of a scenario file: decodes parsed JSON into a {@link Scenario}. */
export const ScenarioFile = new t.Type<Scenario, unknown, unknown>(
  'a scenario',
  (u): u is Scenario => E.isRight(ScenarioFile.validate(u, t.getDefaultContext(t.unknown))),
  (u, c) => {
    const shape = Shape.validate(u, c)
    if (E.isLeft(shape)) return shape
    const errors = crossChecks(shape.right, c)
    if (errors.length > 0) return t.failures(errors)
    const s = shape.right
    return t.success({
      name: s.name,
      description: s.description ?? '',
      durationMs: s.durationMs,
      load: s.load,
      health: s.health,
      ...(s.fragility === undefined ? {} : { fragility: s.fragility }),
      incidentAtMs: s.incidentAtMs,
      recoveredAtMs: s.recoveredAtMs,
      ...(s.jitterMs === undefined || s.jitterMs === 0 ? {} : { jitterMs: s.jitterMs }),
    })
  },
  (s) => s,
)

/**
 * Decodes a scenario (parsed JSON), or explains every problem, each line naming `source` and the
 * path: `outage.json: health[1].failureRate: expected a probability in [0, 1], got 1.5`.
 *
 * @example
 * import { parseScenario } from '@datapunk/breaker-sim'
 * const bad = parseScenario({ name: 'x', durationMs: 500, load: { kind: 'constant', rps: 10 }, health: [], incidentAtMs: 0, recoveredAtMs: 0 }, 's.json')
 * bad._tag === 'Left' && bad.left.split('\n')[0] // 's.json: durationMs: expected a duration in ms in [1000, 86400000], got 500'
 */
export const parseScenario = (json: unknown, source: string): E.Either<string, Scenario> =>
  E.mapLeft((errors: t.Errors) =>
    report(errors)
      .map((p) => `${source}: ${p.message.replace(/\.\[/g, '[')}`)
      .join('\n'),
  )(ScenarioFile.decode(json))

/** The most a scenario file may hold. */
const MAX_SCENARIO_BYTES = 16 * 1024 * 1024

/** Reads and decodes a scenario file; the error names the file. */
export const readScenarioFile = (path: string): E.Either<string, Scenario> => {
  let text: string
  try {
    // A device (`/dev/zero`), a directory or a huge file is refused before reading it.
    const stats = statSync(path)
    if (!stats.isFile()) return E.left(`${path}: not a regular file`)
    if (stats.size > MAX_SCENARIO_BYTES)
      return E.left(`${path}: ${stats.size} bytes, more than the ${MAX_SCENARIO_BYTES} a scenario file may hold`)
    text = readFileSync(path, 'utf8')
  } catch (error) {
    return E.left(`${path}: cannot read it (${error instanceof Error ? error.message : String(error)})`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    return E.left(`${path}: not JSON (${error instanceof Error ? error.message : String(error)})`)
  }
  return parseScenario(json, path)
}
