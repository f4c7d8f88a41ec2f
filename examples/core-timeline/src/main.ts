/**
 * One hand-written request/outcome timeline fed through two strategies that differ only in how
 * they recover: classic half-open and gradual recovery. Prints each decision and the admit rate.
 *
 * The upstream is healthy, fails for three seconds, then heals. A request arrives every 100 ms and
 * takes 20 ms.
 *
 * Run: pnpm demo   (or, after `pnpm build`: node examples/core-timeline/dist/main.js)
 */
import { BreakerEvent, type CircuitData, type CircuitStrategy, circuit, type Decision } from '@datapunk/breaker'

const detection = { kind: 'failure-rate', threshold: 0.5, minimumCalls: 4, window: { kind: 'count', size: 8 } } as const
const openFor = { kind: 'constant', ms: 1000 } as const

const strategies: ReadonlyArray<CircuitStrategy> = [
  circuit({ name: 'classic', trip: detection, recovery: { kind: 'classic', probes: 2 }, openFor }),
  circuit({
    name: 'gradual',
    trip: detection,
    // A short timeline: stages of 2 calls judged on their error rate alone (confidence 0.5), no probation.
    recovery: {
      kind: 'gradual',
      initialRate: 0.2,
      increment: 0.2,
      maxSpeed: 2,
      stageCalls: 2,
      stageMs: 0,
      confidence: 0.5,
      probationMs: 0,
    },
    openFor,
  }),
]

/** The upstream: fails between 1 s and 4 s. */
const upstreamFails = (at: number): boolean => at >= 1000 && at < 4000

const LATENCY_MS = 20
const STEP_MS = 100
const END_MS = 9000

const describe = (d: Decision): string => {
  switch (d._tag) {
    case 'Admitted':
      return d.probe ? 'probe' : 'admit'
    case 'Rejected':
      return d.retryAfterMs === null ? d.reason : `${d.reason} ${d.retryAfterMs}ms`
    default:
      return d._tag
  }
}

const states: CircuitData[] = strategies.map((s) => s.initial(0))
const totals = strategies.map(() => ({ admitted: 0, failedCalls: 0, rejectedWhileHealthy: 0 }))

const pad = (text: string, width: number) => text.padEnd(width)
console.log(pad('time', 7) + pad('upstream', 10) + strategies.map((s) => pad(`${s.name}: decision  state  admit`, 42)).join(''))

for (let at = 0; at < END_MS; at += STEP_MS) {
  const failing = upstreamFails(at)
  const columns = strategies.map((strategy, i) => {
    const [afterRequest, decision] = strategy.step(states[i] as CircuitData, BreakerEvent.requested(), at)
    let state = afterRequest
    const total = totals[i] as (typeof totals)[number]
    if (decision._tag === 'Admitted') {
      total.admitted++
      if (failing) total.failedCalls++
      const outcome = failing ? BreakerEvent.failed(decision, LATENCY_MS) : BreakerEvent.succeeded(decision, LATENCY_MS)
      ;[state] = strategy.step(state, outcome, at + LATENCY_MS)
    } else if (!failing) {
      total.rejectedWhileHealthy++
    }
    states[i] = state
    const snapshot = strategy.inspect(state)
    return pad(`${pad(describe(decision), 20)}${pad(snapshot.state, 10)}${(snapshot.admitRate * 100).toFixed(0)}%`, 42)
  })
  console.log(pad(`${(at / 1000).toFixed(1)}s`, 7) + pad(failing ? 'failing' : 'healthy', 10) + columns.join(''))
}

console.log()
strategies.forEach((s, i) => {
  const t = totals[i] as (typeof totals)[number]
  console.log(
    `${s.name}: admitted ${t.admitted} calls, ${t.failedCalls} of them into the failing upstream; rejected ${t.rejectedWhileHealthy} while it was healthy`,
  )
})
