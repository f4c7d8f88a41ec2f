/**
 * `pnpm bench:alone`: what one protected call costs in the closed state when the breaker is alone
 * in its process, next to the peers and the hand-written twins, each alone in its own.
 *
 * `pnpm bench` runs every contender in one process, so the engine's type feedback is shared: our
 * plain `execute` there shares the breaker's code with breakers that classify, count for
 * Prometheus or use a time window. A service with several kinds of breakers pays that; a service
 * with one does not. Here each contender runs in a fresh child process, round by round against the
 * floor (an `await` of the same call), and its added cost is the median of the per-round
 * differences; five processes per contender (interleaved with the others'), their median and
 * range. A process's figure can land far from the others' (ours: 30 or 80 ns, in runs of the same
 * build), which is why. `--beside` runs our other kinds of calls (a time window, Prometheus, `classifyHttp`,
 * an answer of another shape) between the rounds of our rows, the mix such a service has.
 * `--quick` runs briefly (CI uses it, asserting nothing).
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { circuit } from '@datapunk/breaker'
import { prometheusMetrics } from '@datapunk/breaker-prometheus'
import { classifyHttp, createBreaker, monotonicClock } from '@datapunk/breaker-runtime'
import { ConsecutiveBreaker, circuitBreaker as cockatiel, handleAll, SamplingBreaker } from 'cockatiel4'
import CircuitBreaker from 'opossum'
import { Registry } from 'prom-client'
import { MutableBreaker, MutableDutiesBreaker, PureDutiesBreaker } from './twins.js'

const quick = process.argv.includes('--quick')
const beside = process.argv.includes('--beside')
const ROUNDS = quick ? 3 : 9
const CALLS = quick ? 20_000 : 200_000
/** Processes per contender: a process's figure can land in one of two modes (30 or 80 ns for ours, seen), so the median of several. */
const PROCESSES = quick ? 1 : 5
const LONG = 1e9

const call = (): Promise<number> => Promise.resolve(1)
const okResponse = { status: 200, headers: new Headers() }
const callHttp = (): Promise<typeof okResponse> => Promise.resolve(okResponse)
const longOpen = { kind: 'constant', ms: LONG } as const
const consecutive = () => createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 5 }, openFor: longOpen }))
const windowed = () =>
  createBreaker(
    circuit({
      trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 20, window: { kind: 'time', durationMs: 10_000, buckets: 10 } },
      openFor: longOpen,
    }),
  )

/** Each contender, made in the child that measures it. */
const CONTENDERS: Record<string, () => () => PromiseLike<unknown>> = {
  'ours, execute': () => {
    const b = consecutive()
    return () => b.execute(call)
  },
  'ours, execute, time window': () => {
    const b = windowed()
    return () => b.execute(call)
  },
  'mutable breaker': () => {
    const b = new MutableBreaker(5)
    return () => b.fire(call)
  },
  'mutable breaker, our duties': () => {
    const b = new MutableDutiesBreaker(5, monotonicClock)
    return () => b.fire(call)
  },
  'pure breaker, our duties': () => {
    const b = new PureDutiesBreaker(5, monotonicClock)
    return () => b.fire(call)
  },
  'cockatiel 4 consecutive': () => {
    const p = cockatiel(handleAll, { halfOpenAfter: LONG, breaker: new ConsecutiveBreaker(5) })
    return () => p.execute(call)
  },
  'cockatiel 4 sampling': () => {
    const p = cockatiel(handleAll, { halfOpenAfter: LONG, breaker: new SamplingBreaker({ threshold: 0.5, duration: 10_000 }) })
    return () => p.execute(call)
  },
  'opossum 9 trimmed stats': () => {
    const b = new CircuitBreaker(call, {
      resetTimeout: LONG,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      rollingCountBuckets: 1,
    })
    return () => b.fire()
  },
}

/** Our other kinds of calls, run between rounds with `--beside`. */
const others = (): Array<() => PromiseLike<unknown>> => {
  const w = windowed()
  const p = consecutive()
  prometheusMetrics(p, { registry: new Registry() })
  const h = consecutive()
  const http = classifyHttp()
  const a = consecutive()
  return [() => w.execute(call), () => p.execute(call), () => h.execute(callHttp, http), () => a.execute(callHttp)]
}

type Round = (f: () => PromiseLike<unknown>, calls: number) => Promise<number>

/**
 * A timing loop of its own for each function timed (code made at run time, as mitata makes its
 * loops): a loop shared by the floor and a contender would see both at its call site, and the
 * engine's choices for that one site made a contender's figure jump from process to process.
 */
const roundFor = (): Round =>
  new Function(
    'return async (f, calls) => { const start = process.hrtime.bigint(); for (let i = 0; i < calls; i++) await f(); return Number(process.hrtime.bigint() - start) / calls }',
  )() as Round

const rounds = new Map<() => PromiseLike<unknown>, Round>()
const timeRound = (f: () => PromiseLike<unknown>, calls: number): Promise<number> => {
  let round = rounds.get(f)
  if (round === undefined) {
    round = roundFor()
    rounds.set(f, round)
  }
  return round(f, calls)
}

const median = (xs: ReadonlyArray<number>): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN

/** In a child: the floor and one contender, round by round; prints the median added ns as JSON. */
const child = async (name: string): Promise<void> => {
  const make = CONTENDERS[name]
  if (make === undefined) throw new Error(`bench:alone: no contender named ${name}`)
  const floor = async (): Promise<void> => void (await call())
  const contender = make()
  const mix = beside && name.startsWith('ours') ? others() : []
  for (const f of [floor, contender, ...mix]) await timeRound(f, CALLS / 4)
  const added: number[] = []
  const bases: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const base = await timeRound(floor, CALLS)
    bases.push(base)
    added.push((await timeRound(contender, CALLS)) - base)
    for (const f of mix) await timeRound(f, CALLS / 10)
  }
  console.log(JSON.stringify({ name, addedNs: median(added), floorNs: median(bases) }))
}

const main = async (): Promise<void> => {
  const self = fileURLToPath(import.meta.url)
  const flags = process.argv.filter((a) => a === '--quick' || a === '--beside')
  console.log(
    `Closed state, each contender alone in its process${beside ? ' (ours with our other kinds of calls beside it)' : ''} (node ${process.version}; ${PROCESSES} processes each, ${ROUNDS} rounds of ${CALLS.toLocaleString('en-US')} calls, medians)`,
  )
  const names = Object.keys(CONTENDERS)
  const figures = new Map<string, number[]>(names.map((n) => [n, []]))
  // Interleaved: a busy spell of the machine hits every contender alike.
  for (let p = 0; p < PROCESSES; p++) {
    for (const name of names) {
      const run = spawnSync(process.execPath, [self, '--child', name, ...flags], { encoding: 'utf8' })
      const line = run.stdout.trim().split('\n').pop() ?? ''
      try {
        figures.get(name)?.push((JSON.parse(line) as { addedNs: number }).addedNs)
      } catch {
        process.stderr.write(`bench:alone: ${name} failed: ${run.stderr.trim() || line}\n`)
      }
    }
  }
  console.log(`  ${'contender'.padEnd(32)}${'added ns'.padStart(10)}${'range'.padStart(16)}`)
  for (const name of names) {
    const xs = figures.get(name) ?? []
    const range = xs.length === 0 ? '-' : `${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)}`
    console.log(`  ${name.padEnd(32)}${(xs.length === 0 ? '-' : median(xs).toFixed(1)).padStart(10)}${range.padStart(16)}`)
  }
}

const at = process.argv.indexOf('--child')
if (at >= 0) await child(process.argv[at + 1] ?? '')
else await main()
