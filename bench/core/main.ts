/**
 * `pnpm bench:core`: steps per second of each library strategy next to its hand-written mutable
 * twin (./twins.ts), measured in one process, interleaved round by round, and printed as a
 * ratio. Target: no strategy slower than 3x its twin.
 *
 * Then the time to read a state back through its codec (./codec.ts), as a store does.
 *
 * Options: --quick (short rounds, to prove the benchmark runs), --json (print the table as JSON).
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { type BreakerEvent, type CircuitData, type CircuitStrategy, circuit } from '@datapunk/breaker'
import { measureDecode } from './codec.js'
import { MutableConsecutive, MutableCountWindowRate, MutableGradualStage, MutableTimeWindow, type Stepper } from './twins.js'

const quick = process.argv.includes('--quick')
const asJson = process.argv.includes('--json')
const CALLS = quick ? 20_000 : 400_000
const ROUNDS = quick ? 3 : 9
const TARGET = 3

// One fixed outcome pattern for everyone: ~10% failures, a few slow calls, never 5 failures in a row.
const PATTERN = 1024
const failedAt = new Uint8Array(PATTERN)
const latencyAt = new Float64Array(PATTERN)
let seed = 42
const random = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff
  return seed / 0x7fffffff
}
for (let i = 0; i < PATTERN; i++) {
  failedAt[i] = random() < 0.1 && failedAt[i - 1] !== 1 ? 1 : 0
  latencyAt[i] = random() < 0.05 ? 1500 : 5 + Math.floor(random() * 50)
}

let sink = 0
const REQUESTED: BreakerEvent = { _tag: 'CallRequested' }

/** A pure strategy behind the same interface as a twin: the state lives in a closure. */
const pureStepper = (strategy: CircuitStrategy, start: CircuitData): Stepper => {
  let state = start
  return {
    step: (event, now) => {
      const result = strategy.step(state, event, now)
      state = result[0]
      return result[1]
    },
  }
}

/**
 * The one driver both sides run: CALLS requests, each admitted call settled at once with the
 * fixed outcome pattern. Returns the number of steps.
 */
const drive = (stepper: Stepper, startAt: number): number => {
  let steps = 0
  for (let i = 0; i < CALLS; i++) {
    const now = startAt + i
    const decision = stepper.step(REQUESTED, now)
    steps++
    if (decision._tag === 'Admitted') {
      const k = i & (PATTERN - 1)
      const latencyMs = latencyAt[k] ?? 0
      stepper.step(
        failedAt[k] === 1 ? { _tag: 'CallFailed', ticket: decision, latencyMs } : { _tag: 'CallSucceeded', ticket: decision, latencyMs },
        now,
      )
      steps++
    } else if (decision._tag === 'Rejected') sink += decision.retryAfterMs ?? 1
  }
  return steps
}

interface Case {
  readonly name: string
  readonly pure: () => number
  readonly twin: () => number
}

const closedCase = (name: string, config: Parameters<typeof circuit>[0], twin: () => Stepper): Case => {
  const strategy = circuit(config)
  return { name, pure: () => drive(pureStepper(strategy, strategy.initial(0)), 0), twin: () => drive(twin(), 0) }
}

// The longest open duration a config may name (Limits.maxDurationMs): longer than any run.
const longOpen = { kind: 'constant', ms: 2 ** 31 - 1 } as const

const cases: Case[] = [
  closedCase(
    'consecutive-failures, closed',
    { trip: { kind: 'consecutive-failures', threshold: 5 }, openFor: longOpen },
    () => new MutableConsecutive(5, 2 ** 31 - 1),
  ),
  closedCase(
    'failure-rate, count window 100',
    { trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 20, window: { kind: 'count', size: 100 } }, openFor: longOpen },
    () => new MutableCountWindowRate(100, 0.5, 20, Number.POSITIVE_INFINITY, false, 2 ** 31 - 1),
  ),
  closedCase(
    'failure-rate, time window 10 s / 10',
    {
      trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 20, window: { kind: 'time', durationMs: 10_000, buckets: 10 } },
      openFor: longOpen,
    },
    () => new MutableTimeWindow(10_000, 10, (calls, failures) => calls >= 20 && failures / calls >= 0.5, 2 ** 31 - 1),
  ),
  closedCase(
    'failure-count, time window 10 s / 10',
    { trip: { kind: 'failure-count', threshold: 1_000_000, window: { kind: 'time', durationMs: 10_000, buckets: 10 } }, openFor: longOpen },
    () => new MutableTimeWindow(10_000, 10, (_calls, failures) => failures >= 1_000_000, 2 ** 31 - 1),
  ),
  closedCase(
    'slow-call-rate, count window 100',
    {
      trip: { kind: 'slow-call-rate', threshold: 0.5, slowCallMs: 1000, minimumCalls: 20, window: { kind: 'count', size: 100 } },
      openFor: longOpen,
    },
    () => new MutableCountWindowRate(100, 0.5, 20, 1000, true, 2 ** 31 - 1),
  ),
  (() => {
    // Open and rejecting: the breaker tripped at t=0 and stays open for the whole run.
    const strategy = circuit({ trip: { kind: 'consecutive-failures', threshold: 1 }, openFor: longOpen })
    const tripped = (stepper: Stepper): Stepper => {
      const ticket = stepper.step(REQUESTED, 0)
      if (ticket._tag === 'Admitted') stepper.step({ _tag: 'CallFailed', ticket, latencyMs: 1 }, 0)
      return stepper
    }
    return {
      name: 'open, rejecting',
      pure: () => drive(tripped(pureStepper(strategy, strategy.initial(0))), 1),
      twin: () => drive(tripped(new MutableConsecutive(1, 2 ** 31 - 1)), 1),
    }
  })(),
  (() => {
    // Half-open, gradual: one long stage at 10%, throttling 9 requests in 10 and counting probes.
    const strategy = circuit({
      trip: { kind: 'consecutive-failures', threshold: 1 },
      recovery: { kind: 'gradual', initialRate: 0.1, stageCalls: 1_000_000, failureRateThreshold: 0.9 },
      openFor: { kind: 'constant', ms: 1 },
    })
    const [s1, ticket] = strategy.step(strategy.initial(0), REQUESTED, 0)
    const open = ticket._tag === 'Admitted' ? strategy.step(s1, { _tag: 'CallFailed', ticket, latencyMs: 1 }, 0)[0] : s1
    const [halfOpen] = strategy.step(open, { _tag: 'Ticked' }, 1)
    return {
      name: 'half-open, gradual ramp at 10%',
      pure: () => drive(pureStepper(strategy, halfOpen), 1),
      twin: () => drive(new MutableGradualStage(100_000, 1_000_000, 0.9).startHalfOpen(1), 1),
    }
  })(),
]

const time = (run: () => number): number => {
  const start = process.hrtime.bigint()
  const steps = run()
  return Number(process.hrtime.bigint() - start) / steps
}

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

interface Row {
  readonly case: string
  readonly pureNsPerStep: number
  readonly twinNsPerStep: number
  readonly pureStepsPerSecond: number
  readonly twinStepsPerSecond: number
  readonly ratio: number
  readonly withinTarget: boolean
}

const measure = (c: Case): Row => {
  // Warm up both, then interleave rounds so drift hits both alike.
  c.pure()
  c.twin()
  const pure: number[] = []
  const twin: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    pure.push(time(c.pure))
    twin.push(time(c.twin))
  }
  const pureNs = median(pure)
  const twinNs = median(twin)
  return {
    case: c.name,
    pureNsPerStep: Number(pureNs.toFixed(1)),
    twinNsPerStep: Number(twinNs.toFixed(1)),
    pureStepsPerSecond: Math.round(1e9 / pureNs),
    twinStepsPerSecond: Math.round(1e9 / twinNs),
    ratio: Number((pureNs / twinNs).toFixed(2)),
    withinTarget: pureNs / twinNs <= TARGET,
  }
}

// Each case runs in a fresh process: the JIT's view of the shared driver is not polluted by the
// cases before it, so every case gets the same chance on both sides.
const caseArg = process.argv.indexOf('--case')
if (caseArg >= 0) {
  const c = cases[Number(process.argv[caseArg + 1])]
  if (c === undefined) throw new Error(`no case ${process.argv[caseArg + 1]}`)
  process.stdout.write(JSON.stringify(measure(c)))
  process.exit(0)
}
const self = fileURLToPath(import.meta.url)
const rows: Row[] = cases.map(
  (_c, index) =>
    JSON.parse(execFileSync(process.execPath, [self, '--case', String(index), ...(quick ? ['--quick'] : [])], { encoding: 'utf8' })) as Row,
)

const decoding = measureDecode(quick)

if (asJson) {
  console.log(JSON.stringify({ node: process.version, quick, calls: CALLS, rounds: ROUNDS, rows, decoding }, null, 2))
} else {
  console.log(`core reducer steps vs hand-written mutable twins (node ${process.version}, ${CALLS} calls x ${ROUNDS} rounds, medians)`)
  console.log(['case'.padEnd(34), 'pure ns/step', 'twin ns/step', 'pure steps/s', 'twin steps/s', 'ratio', `<= ${TARGET}x`].join('  '))
  for (const r of rows) {
    console.log(
      [
        r.case.padEnd(34),
        String(r.pureNsPerStep).padStart(12),
        String(r.twinNsPerStep).padStart(12),
        r.pureStepsPerSecond.toLocaleString('en-US').padStart(12),
        r.twinStepsPerSecond.toLocaleString('en-US').padStart(12),
        `${r.ratio}x`.padStart(5),
        (r.withinTarget ? 'yes' : 'NO').padStart(6),
      ].join('  '),
    )
  }
  console.log('\nreading a state back (strategy.codec.decode of a state as JSON gives it, medians)')
  for (const d of decoding) console.log(`${d.case.padEnd(34)}  ${String(d.decodeNs).padStart(6)} ns per decode`)
  if (quick) console.log('(--quick: too short to trust the numbers; it only proves the benchmark runs)')
}
if (sink === 0.5) console.log('unreachable')
