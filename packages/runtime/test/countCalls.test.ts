import { type CircuitData, circuit, inPlaceStep, type Strategy, withInPlace } from '@datapunk/breaker'
import {
  type Breaker,
  CALL_OUTCOMES,
  type CallCounter,
  type CallOutcomeLabel,
  callOutcomeOf,
  createBreaker,
} from '@datapunk/breaker-runtime'
import fc from 'fast-check'
import { VirtualTimeScheduler } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { reportedDuring } from '../../../test/support/reported.js'

/**
 * `countCalls`: counters hear what `outcomes$` carries, with plain values, whether the breaker takes
 * its fast path (counters alone, or with `transitions$`) or the watched one (a call subscriber).
 */
const strategy = () =>
  circuit({
    trip: { kind: 'consecutive-failures', threshold: 3 },
    recovery: { kind: 'classic', probes: 1 },
    openFor: { kind: 'constant', ms: 1000 },
  })

/** The strategy with its in-place steps counted (the fast path's). */
const countedInPlace = () => {
  const inner = strategy()
  const twin = inPlaceStep(inner)
  if (twin === undefined) throw new Error('circuits have an in-place step')
  const counts = { inPlace: 0 }
  const step = withInPlace<CircuitData>(
    (state, event, now) => inner.step(state, event, now),
    (state, event, now) => {
      const decision = twin(state, event, now)
      if (decision !== undefined) counts.inPlace++
      return decision
    },
  )
  return { counts, strategy: { ...inner, step } as Strategy<unknown> }
}

type Tally = Record<CallOutcomeLabel | `rejected:${string}`, number>

const counter = (): CallCounter & { readonly tally: Partial<Tally>; readonly latencies: Array<number | null> } => {
  const tally: Partial<Tally> = {}
  const latencies: Array<number | null> = []
  return {
    tally,
    latencies,
    settled: (outcome, latencyMs) => {
      tally[outcome] = (tally[outcome] ?? 0) + 1
      latencies.push(latencyMs)
    },
    rejected: (reason) => {
      tally[`rejected:${reason}`] = (tally[`rejected:${reason}`] ?? 0) + 1
    },
  }
}

/** What `outcomes$` says, tallied the same way. */
const outcomesTally = (breaker: Breaker) => {
  const tally: Partial<Tally> = {}
  const latencies: Array<number | null> = []
  breaker.outcomes$.subscribe((e) => {
    const label = callOutcomeOf(e)
    const key = label === 'rejected' && e._tag === 'CallRejected' ? (`rejected:${e.reason}` as const) : (label as CallOutcomeLabel)
    tally[key] = (tally[key] ?? 0) + 1
    if (e._tag !== 'CallRejected') latencies.push(e._tag === 'CallCancelled' ? null : e._tag === 'CallStale' ? e.latencyMs : e.latencyMs)
  })
  return { tally, latencies }
}

type Op = 'ok' | 'fail' | 'timeout' | 'abort' | 'stale' | 'wait'

/** Runs `ops` through `breaker` on `clock` (every call through `execute`, a timeout of 50 ms). */
const drive = async (breaker: Breaker, clock: VirtualTimeScheduler, ops: ReadonlyArray<Op>) => {
  for (const op of ops) {
    if (op === 'wait') {
      clock.schedule(() => undefined, 600)
      clock.flush()
      continue
    }
    if (op === 'stale') {
      // An outcome that arrives after a state change: admitted, then the circuit forced open and closed.
      const ticket = breaker.request()
      if (ticket._tag === 'Admitted') {
        breaker.dispatch({ _tag: 'ForcedOpen' })
        breaker.dispatch({ _tag: 'Reset' })
        breaker.succeeded(ticket, 3)
      }
      continue
    }
    const controller = new AbortController()
    const running = breaker
      .execute(
        () =>
          op === 'ok'
            ? Promise.resolve(1)
            : op === 'fail'
              ? Promise.reject(new Error('down'))
              : new Promise<number>(() => {
                  if (op === 'abort') controller.abort(new Error('gone'))
                }),
        { timeoutMs: 50, signal: controller.signal },
      )
      .catch(() => undefined)
    if (op === 'timeout') {
      clock.schedule(() => undefined, 60)
      clock.flush()
    }
    await running
  }
}

const OPS = fc.array(fc.constantFrom<Op>('ok', 'ok', 'ok', 'fail', 'fail', 'timeout', 'abort', 'stale', 'wait'), { maxLength: 60 })

describe('countCalls (counters told with plain values)', () => {
  it('hear exactly what outcomes$ carries, on the fast path and the watched one alike', async () => {
    await fc.assert(
      fc.asyncProperty(OPS, fc.constantFrom('counter alone', 'with transitions$', 'with calls$'), async (ops, company) => {
        const clock = new VirtualTimeScheduler()
        const breaker = createBreaker(strategy(), { clock })
        const c = counter()
        breaker.countCalls(c)
        if (company === 'with transitions$') breaker.transitions$.subscribe(() => undefined)
        if (company === 'with calls$') breaker.calls$.subscribe(() => undefined)
        // A second breaker, the same calls, heard through outcomes$ alone.
        const otherClock = new VirtualTimeScheduler()
        const other = createBreaker(strategy(), { clock: otherClock })
        const heard = outcomesTally(other)
        await drive(breaker, clock, ops)
        await drive(other, otherClock, ops)
        expect(c.tally).toEqual(heard.tally)
        expect(c.latencies).toEqual(heard.latencies)
      }),
      { numRuns: 150 },
    )
  })

  it('leave the fast path (in-place steps) in use; a call subscriber leaves it, unsubscribing comes back', async () => {
    const { counts, strategy: s } = countedInPlace()
    const clock = new VirtualTimeScheduler()
    const breaker = createBreaker(s, { clock })
    const c = counter()
    const counting = breaker.countCalls(c)
    breaker.transitions$.subscribe(() => undefined)
    await drive(breaker, clock, ['ok', 'ok', 'fail', 'ok'])
    expect(c.tally).toEqual({ success: 3, failure: 1 })
    // Counted by the in-place step: every event after the first request (which makes the state).
    expect(counts.inPlace).toBe(7)
    const sub = breaker.calls$.subscribe(() => undefined)
    await drive(breaker, clock, ['ok'])
    expect(counts.inPlace).toBe(9)
    sub.unsubscribe()
    counting.unsubscribe()
    await drive(breaker, clock, ['ok', 'ok'])
    expect(counts.inPlace).toBe(13)
    // Unsubscribed: counts nothing more.
    expect(c.tally).toEqual({ success: 4, failure: 1 })
  })

  it('count rejections by reason and every outcome label, timeouts apart from failures', async () => {
    const clock = new VirtualTimeScheduler()
    const breaker = createBreaker(strategy(), { clock })
    const c = counter()
    breaker.countCalls(c)
    await drive(breaker, clock, ['ok', 'timeout', 'abort', 'stale', 'fail', 'fail', 'fail', 'ok', 'ok'])
    expect(c.tally).toEqual({ success: 1, timeout: 1, cancelled: 1, ignored: 1, failure: 3, 'rejected:open': 2 })
    expect(
      Object.keys(c.tally)
        .filter((k) => !k.startsWith('rejected:'))
        .every((k) => (CALL_OUTCOMES as readonly string[]).includes(k)),
    ).toBe(true)
  })

  it('a counter that throws is reported asynchronously, never to the call or the other counters', async () => {
    const c = counter()
    const reported = await reportedDuring(async () => {
      const breaker = createBreaker(strategy(), { clock: new VirtualTimeScheduler() })
      breaker.countCalls({
        settled: () => {
          throw new Error('bad counter')
        },
        rejected: () => {
          throw new Error('bad counter')
        },
      })
      breaker.countCalls(c)
      await expect(breaker.execute(async () => 'ok')).resolves.toBe('ok')
    })
    expect(c.tally).toEqual({ success: 1 })
    expect(reported.map((e) => (e as Error).message)).toEqual(['bad counter'])
  })
})
