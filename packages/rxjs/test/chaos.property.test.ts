/**
 * Chaos over the operator, in virtual time: random sources (synchronous or scheduled, values,
 * errors, completions, never ending), random unsubscribe points, random failure and result
 * classifiers (including ones that throw or answer junk, and failures with retry hints that a
 * retry-after open duration honours), random timeouts, on breakers that trip and recover in between,
 * some of them on slow calls counted while still running (never-ending sources are hung calls).
 */
import { circuit } from '@datapunk/breaker'
import { BrokenCircuitError, type CallEvent, CallTimeoutError, createBreaker, Verdict } from '@datapunk/breaker-runtime'
import { circuitBreaker } from '@datapunk/breaker-rxjs'
import fc from 'fast-check'
import { config, Observable, VirtualTimeScheduler } from 'rxjs'
import { describe, expect, it } from 'vitest'

const NUM_RUNS = Number(process.env.PROPERTY_RUNS ?? 10_000)

interface SourceSpec {
  readonly sync: boolean
  readonly values: number
  readonly end: 'complete' | 'error' | 'never'
  readonly stepMs: number
}
interface CallSpec {
  readonly at: number
  readonly source: SourceSpec
  /** Unsubscribe this many ms after subscribing (or never). */
  readonly unsubscribeAfter: number | null
}
interface Setup {
  readonly calls: ReadonlyArray<CallSpec>
  readonly classifier: 'all' | 'none' | 'throws' | 'alternate'
  /** How answers count: all successes, odd values failures with a retry hint, ignored, a classifier that throws or answers junk. */
  readonly results: 'all' | 'hinted' | 'ignore' | 'throws' | 'junk'
  readonly timeoutMs: number | null
  readonly successOn: 'complete' | 'first-value'
  readonly onUnsubscribe: 'cancel' | 'failure'
  readonly recovery: 'classic' | 'gradual'
  /** Trip on failures alone, or on slow calls too (counted while running, from 20 ms). */
  readonly trip: 'failures' | 'slow'
}

const sourceSpec: fc.Arbitrary<SourceSpec> = fc.record({
  sync: fc.boolean(),
  values: fc.integer({ min: 0, max: 4 }),
  end: fc.constantFrom('complete' as const, 'error' as const, 'never' as const),
  stepMs: fc.integer({ min: 1, max: 30 }),
})
const setup: fc.Arbitrary<Setup> = fc.record({
  calls: fc.array(
    fc.record({ at: fc.integer({ min: 0, max: 400 }), source: sourceSpec, unsubscribeAfter: fc.option(fc.integer({ min: 0, max: 120 })) }),
    { minLength: 1, maxLength: 40 },
  ),
  classifier: fc.constantFrom('all' as const, 'none' as const, 'throws' as const, 'alternate' as const),
  results: fc.constantFrom('all' as const, 'hinted' as const, 'ignore' as const, 'throws' as const, 'junk' as const),
  timeoutMs: fc.option(fc.integer({ min: 1, max: 100 })),
  successOn: fc.constantFrom('complete' as const, 'first-value' as const),
  onUnsubscribe: fc.constantFrom('cancel' as const, 'failure' as const),
  recovery: fc.constantFrom('classic' as const, 'gradual' as const),
  trip: fc.constantFrom('failures' as const, 'slow' as const),
})

const consecutive = { kind: 'consecutive-failures', threshold: 2 } as const
const slowToo = {
  kind: 'any-of',
  detectors: [consecutive, { kind: 'slow-call-rate', threshold: 0.5, slowCallMs: 20, minimumCalls: 2, window: { kind: 'count', size: 4 } }],
} as const

/** The source a spec describes, on `scheduler` (synchronous sources ignore it). */
const sourceOf = (spec: SourceSpec, scheduler: VirtualTimeScheduler, id: number) =>
  new Observable<number>((subscriber) => {
    const end = () => {
      if (spec.end === 'complete') subscriber.complete()
      else if (spec.end === 'error') subscriber.error(Object.assign(new Error(`upstream ${id}`), { id }))
    }
    if (spec.sync) {
      for (let i = 0; i < spec.values && !subscriber.closed; i++) subscriber.next(i)
      if (!subscriber.closed) end()
      return
    }
    let i = 0
    const action = scheduler.schedule(function () {
      if (i < spec.values) {
        subscriber.next(i++)
        this.schedule(undefined, spec.stepMs)
      } else end()
    }, spec.stepMs)
    return () => action.unsubscribe()
  })

type Ending = { kind: 'value-complete' | 'error' | 'timeout' | 'rejected' | 'unsubscribed'; values: number[] }

describe('chaos: the operator under random sources, unsubscribes, classifiers and timeouts', () => {
  it('every subscription ends exactly once; one outcome per admission; no permit left; admitted calls see the values RxJS would deliver', () => {
    fc.assert(
      fc.property(setup, (s) => {
        const scheduler = new VirtualTimeScheduler()
        // Errors RxJS could not deliver (a throw inside an observer) are reported here, not lost.
        const unhandled: unknown[] = []
        config.onUnhandledError = (error) => unhandled.push(error)
        const breaker = createBreaker(
          circuit({
            trip: s.trip === 'failures' ? consecutive : slowToo,
            recovery: s.recovery === 'classic' ? { kind: 'classic', probes: 2 } : { kind: 'gradual', initialRate: 0.5, stageCalls: 2 },
            openFor: { kind: 'retry-after', minMs: 10, maxMs: 80, otherwise: { kind: 'constant', ms: 50 } },
          }),
          { clock: scheduler },
        )
        // The open duration never exceeds the retry-after kind's maximum, whatever the hints said.
        const openTooLong: unknown[] = []
        breaker.state$.subscribe((snapshot) => {
          if (snapshot.openUntil !== null && snapshot.openUntil - scheduler.now() > 80) openTooLong.push(snapshot)
        })
        const events: CallEvent[] = []
        breaker.calls$.subscribe((e) => events.push(e))
        let answers = 0
        const isFailure =
          s.classifier === 'all'
            ? undefined
            : (error: unknown) => {
                if (s.classifier === 'throws') return (error as { response: { status: number } }).response.status >= 500
                if (s.classifier === 'none') return false
                return answers++ % 2 === 0
              }
        const classifyResult: ((value: number) => Verdict) | undefined =
          s.results === 'all'
            ? undefined
            : s.results === 'hinted'
              ? () => (answers++ % 2 === 0 ? Verdict.failure(answers * 1000) : 'success')
              : s.results === 'ignore'
                ? () => 'ignore'
                : s.results === 'throws'
                  ? () => (answers++ % 2 === 0 ? (undefined as unknown as { status: number }).status.toString() : 'success') as Verdict
                  : () => 42 as unknown as Verdict
        const operator = circuitBreaker<number>(breaker, {
          ...(isFailure === undefined ? {} : { isFailure }),
          ...(classifyResult === undefined ? {} : { classifyResult }),
          ...(s.timeoutMs === null ? {} : { timeoutMs: s.timeoutMs }),
          successOn: s.successOn,
          onUnsubscribe: s.onUnsubscribe,
        })
        const endings: Array<Ending & { terminals: number }> = []
        const plain: Array<{ values: number[]; terminal: string }> = []
        const cleanups: Array<() => void> = []
        s.calls.forEach((call, id) => {
          scheduler.schedule(() => {
            const ending: Ending & { terminals: number } = { kind: 'unsubscribed', values: [], terminals: 0 }
            endings[id] = ending
            const subscription = sourceOf(call.source, scheduler, id)
              .pipe(operator)
              .subscribe({
                next: (v) => ending.values.push(v),
                error: (e: unknown) => {
                  ending.terminals++
                  ending.kind = e instanceof BrokenCircuitError ? 'rejected' : e instanceof CallTimeoutError ? 'timeout' : 'error'
                },
                complete: () => {
                  ending.terminals++
                  ending.kind = 'value-complete'
                },
              })
            // The same source without the operator, subscribed and unsubscribed at the same moments.
            const twin = { values: [] as number[], terminal: 'none' }
            plain[id] = twin
            const plainSubscription = sourceOf(call.source, scheduler, id).subscribe({
              next: (v) => twin.values.push(v),
              error: () => (twin.terminal = 'error'),
              complete: () => (twin.terminal = 'complete'),
            })
            const stop = () => {
              subscription.unsubscribe()
              plainSubscription.unsubscribe()
            }
            if (call.unsubscribeAfter !== null) scheduler.schedule(stop, call.unsubscribeAfter)
            cleanups.push(stop)
          }, call.at)
        })
        scheduler.flush()
        for (const stop of cleanups) stop() // never-ending sources end here
        scheduler.flush()

        config.onUnhandledError = null
        expect(unhandled).toEqual([])
        expect(openTooLong).toEqual([])
        // Every subscription ended exactly once: one terminal notification, or our unsubscribe; and
        // if the source ended before the unsubscribe, the subscriber heard how (or was rejected or timed out).
        endings.forEach((ending, id) => {
          expect(ending.terminals).toBeLessThanOrEqual(1)
          if (plain[id]?.terminal !== 'none') expect(ending.terminals).toBe(1)
        })
        // One outcome (or cancellation) per admission.
        const admitted = events.filter((e) => e._tag === 'CallAdmitted').length
        const settled = events.filter(
          (e) => e._tag === 'CallSucceeded' || e._tag === 'CallFailed' || e._tag === 'CallCancelled' || e._tag === 'CallStale',
        ).length
        expect(settled).toBe(admitted)
        // No permit outstanding, and no call left watched for running past the slow-call threshold.
        expect(breaker.snapshot().inFlight).toBe(0)
        expect((breaker as unknown as { running?: { size: number } }).running?.size ?? 0).toBe(0)
        // RxJS semantics unchanged for admitted calls that did not time out.
        endings.forEach((ending, id) => {
          const twin = plain[id]
          if (twin === undefined || ending.kind === 'rejected' || ending.kind === 'timeout') return
          expect(ending.values).toEqual(twin.values)
          if (ending.kind === 'value-complete') expect(twin.terminal).toBe('complete')
          if (ending.kind === 'error') expect(twin.terminal).toBe('error')
        })
      }),
      { numRuns: NUM_RUNS },
    )
  })
})
