/**
 * Your own parts, everywhere the library's go: a user-written detector (an EWMA of latency), a
 * user-written combinator (`at-least`: k of its members) and recovery (steady probes), nested with
 * built-in parts in one JSON config; checked with the laws every built-in part keeps; run
 * through `circuitBreaker()` in virtual time behind a wrapper of the user's own; its figures
 * scraped from a real `/metrics` endpoint; replayed from the recorded trace; swapped at run time
 * through the wrapper (the EWMA's average carried over); and simulated next to a built-in strategy
 * on the slow-degradation scenario.
 *
 * Run: `pnpm --filter @datapunk/example-custom-detector start` (after `pnpm build`).
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type BreakerEvent, type CircuitData, circuit, fromConfig } from '@datapunk/breaker'
import { checkDetectorLaws, checkStrategyLaws } from '@datapunk/breaker/testing'
import { prometheusMetrics } from '@datapunk/breaker-prometheus'
import { type CallEvent, createBreaker } from '@datapunk/breaker-runtime'
import { circuitBreaker } from '@datapunk/breaker-rxjs'
import { parseTrace, replay, scenarios, simulate } from '@datapunk/breaker-sim'
import { Registry } from 'prom-client'
import { catchError, map, of, timer, VirtualTimeScheduler } from 'rxjs'
import { ewmaLatency } from './EwmaLatency.js'
import { kinds } from './kinds.js'

/** The whole breaker as JSON: a user's combinator nesting a user's detector and a built-in one. */
const config = {
  name: 'inventory',
  trip: {
    kind: 'at-least',
    count: 1,
    detectors: [
      { kind: 'ewma-latency', alpha: 0.3, thresholdMs: 200, minimumSamples: 5 },
      { kind: 'consecutive-failures', threshold: 5 },
    ],
  },
  recovery: { kind: 'steady-probes', intervalMs: 500, successes: 2 },
  openFor: { kind: 'exponential', initialMs: 1000, maxMs: 8000 },
} as const
// `circuit` knows the custom kinds' configs at the type level once it is given them.
const strategy = circuit(config, { kinds })

// ---- 0. the laws every built-in part keeps, on these parts ----------------------------------

checkDetectorLaws(ewmaLatency({ alpha: 0.3, thresholdMs: 200, minimumSamples: 5 }), { numRuns: 100 })
checkDetectorLaws(strategy.detector, { numRuns: 100 })
checkStrategyLaws(strategy, { numRuns: 100 })
console.log('0. the EWMA detector, the at-least combinator and the whole circuit keep the laws of every built-in part')

// ---- 1. through the RxJS operator, in virtual time, behind a wrapper --------------------------

/** A wrapper of the user's own: counts the events it steps (a logger, a recorder, ...). */
let stepped = 0
const counting = {
  ...strategy,
  step: (state: CircuitData, event: BreakerEvent, now: number) => {
    stepped++
    return strategy.step(state, event, now)
  },
}
const scheduler = new VirtualTimeScheduler()
const breaker = createBreaker(counting, { clock: scheduler })
const trace: CallEvent[] = []
breaker.calls$.subscribe((event) => trace.push(event))
breaker.transitions$.subscribe((event) => {
  if (event._tag === 'StateChanged') console.log(`t=${String(event.at).padStart(5)} ms  ${event.from} -> ${event.to} (${event.reason})`)
})

/** The upstream's latency over time: healthy, then slow (not failing) from 2 s to 6 s, then healthy. */
const latencyAt = (t: number): number => (t >= 2000 && t < 6000 ? 400 : 50)
const outcomes = { ok: 0, rejected: 0, failed: 0 }
const callAt = (t: number) =>
  scheduler.schedule(() => {
    timer(latencyAt(t), scheduler)
      .pipe(
        map(() => 'ok' as const),
        circuitBreaker(breaker, { timeoutMs: 1000 }),
        catchError((error: Error) => of(error.name === 'BrokenCircuitError' ? ('rejected' as const) : ('failed' as const))),
      )
      .subscribe((result) => outcomes[result]++)
  }, t)

console.log('1. a slow (not failing) upstream, through circuitBreaker():')
for (let t = 0; t < 10_000; t += 100) callAt(t)
scheduler.flush()
console.log(`   ${outcomes.ok} ok, ${outcomes.rejected} rejected, ${outcomes.failed} failed; ends ${breaker.snapshot().state}`)
assert.ok(
  outcomes.rejected > 0 && breaker.snapshot().state === 'closed' && stepped > 0,
  'the EWMA detector tripped on latency alone, and steady probes closed it again',
)

// ---- 1b. its figures on a real /metrics endpoint ---------------------------------------------

const registry = new Registry()
const metrics = prometheusMetrics(breaker, { registry })
const server = createServer((_req, res) => {
  void registry.metrics().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text))
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const scraped = await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`)).text()
server.close()
metrics.detach()
const ewmaLine = scraped.split('\n').find((line) => line.startsWith('breaker_part_figure{') && line.includes('figure="averageLatencyMs"'))
console.log(`   /metrics: ${ewmaLine}`)
assert.ok(ewmaLine?.includes('kind="ewma-latency"'), "the custom detector's figure is on /metrics")

// ---- 2. replay: the recorded trace through a JSON config that names the custom kinds ---------

const json = JSON.parse(JSON.stringify(strategy.config)) as unknown
assert.deepEqual((json as { trip: unknown }).trip, config.trip, 'the combinator reads back as it was written, members and all')
const fromJson = fromConfig(json, { kinds })
if (fromJson._tag === 'Left') throw fromJson.left
const parsed = parseTrace(trace.map((event) => JSON.stringify(event)).join('\n'))
if (parsed._tag === 'Left') throw parsed.left
const replayed = replay(parsed.right, fromJson.right)
console.log(
  `2. replayed ${replayed.calls.length} calls through the JSON config: ${(replayed.agreement * 100).toFixed(1)}% of decisions as live`,
)
assert.equal(replayed.agreement, 1, 'the JSON config with custom kinds decides exactly as the live breaker did')

// ---- 3. swap at run time, through the wrapper: a stricter recovery, the same EWMA (its average carries over)

const averageOf = () => breaker.snapshot().detectors.find((d) => d.kind === 'ewma-latency')?.figures?.averageLatencyMs
const before = averageOf()
const stricter = fromConfig(
  { ...(json as object), name: 'inventory-v2', recovery: { kind: 'steady-probes', intervalMs: 1000, successes: 5 } },
  { kinds },
)
if (stricter._tag === 'Left') throw stricter.left
breaker.swap(stricter.right)
const after = averageOf()
console.log(
  `3. swapped to ${breaker.strategy.name}: EWMA average ${before?.toFixed(1)} ms before, ${after?.toFixed(1)} ms after (carried, not restarted)`,
)
assert.ok(before !== undefined && before !== null && after === before, 'the swap carries the EWMA state of the same detector')

// ---- 4. simulate: the custom strategy next to a built-in one -------------------------------

const builtIn = circuit({
  name: 'failure-rate',
  trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 20, window: { kind: 'time', durationMs: 10_000, buckets: 10 } },
})
const scenario = scenarios['slow-degradation']
if (scenario === undefined) throw new Error('no slow-degradation scenario')
console.log(`4. simulated on ${scenario.name} (${scenario.description}):`)
const runs = simulate(scenario, [strategy, builtIn], { seed: 1 })
for (const run of runs) {
  const s = run.summary
  const detect = s.timeToDetectMs === null ? 'never' : `${(s.timeToDetectMs / 1000).toFixed(1)} s`
  console.log(
    `   ${s.strategy.padEnd(13)} detects after ${detect.padStart(7)}, success ${(s.successRate * 100).toFixed(1)}%, wasted ${s.wasted}`,
  )
}
assert.ok(
  (runs[0]?.summary.timeToDetectMs ?? Number.POSITIVE_INFINITY) < 10_000,
  'the latency detector sheds load within 10 s of the slowdown',
)
