/**
 * fast-check arbitraries of what a breaker lives through, public so that your property tests can
 * drive your parts the way the library's own tests drive its parts.
 */
import fc from 'fast-check'
import { BreakerEvent } from '../BreakerEvent.js'
import type { Admitted } from '../Decision.js'

/** One thing that happens to a detector: an outcome, time passing, a clock jump back, or a swap. */
export type DetectorStep =
  | { readonly op: 'record'; readonly dt: number; readonly failed: boolean; readonly latencyMs: number }
  | { readonly op: 'advance'; readonly dt: number }
  | { readonly op: 'jump-back'; readonly ms: number }
  | { readonly op: 'swap'; readonly dt: number }

/** Latencies from instant to minutes, most of them ordinary. */
export const latencyMs: fc.Arbitrary<number> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 2_000 }) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 600_000, noNaN: true }) },
)

/** Time between two steps: often nothing, usually milliseconds, sometimes minutes or a day. */
export const elapsedMs: fc.Arbitrary<number> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 1_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 86_400_000 }) },
)

/** Random sequences of detector steps (up to 200). */
export const detectorScript: fc.Arbitrary<ReadonlyArray<DetectorStep>> = fc.array(
  fc.oneof(
    { weight: 12, arbitrary: fc.record({ op: fc.constant('record' as const), dt: elapsedMs, failed: fc.boolean(), latencyMs }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), dt: elapsedMs }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('jump-back' as const), ms: fc.integer({ min: 1, max: 3_600_000 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('swap' as const), dt: elapsedMs }) },
  ),
  { maxLength: 200 },
)

/** One thing that happens to a strategy; `pick` chooses which ticket an outcome settles. */
export interface StrategyStep {
  /** Ms since the step before (the clock may also jump). */
  readonly dt: number
  /** What happens. */
  readonly op:
    | 'request'
    | 'succeed'
    | 'fail'
    | 'cancel'
    | 'forged'
    | 'overdue'
    | 'tick'
    | 'force-open'
    | 'reset'
    | 'half-open'
    | 'close'
    | 'open-for'
  /** Which ticket in flight an outcome settles (an index, wrapped). */
  readonly pick: number
  /** An outcome's latency, in ms. */
  readonly latencyMs: number
}

/** Random sequences of strategy steps (up to 200), requests and outcomes most of them. */
export const strategyScript: fc.Arbitrary<ReadonlyArray<StrategyStep>> = fc.array(
  fc.record({
    dt: elapsedMs,
    op: fc.oneof(
      { weight: 10, arbitrary: fc.constant('request' as const) },
      { weight: 5, arbitrary: fc.constant('succeed' as const) },
      { weight: 5, arbitrary: fc.constant('fail' as const) },
      { weight: 1, arbitrary: fc.constantFrom('cancel' as const, 'forged' as const, 'tick' as const, 'overdue' as const) },
      {
        weight: 1,
        arbitrary: fc.constantFrom('force-open' as const, 'reset' as const, 'half-open' as const, 'close' as const, 'open-for' as const),
      },
    ),
    pick: fc.nat(1_000),
    latencyMs,
  }),
  { maxLength: 200 },
)

/**
 * The event of a step. Outcomes settle one of the `admitted` tickets (taken out of it), or, when
 * none is in flight and for `forged`, a ticket no admission gave (which a strategy must ignore);
 * one in three says the call was reported overdue (`overdueMs`), and `overdue` reports a call in
 * flight (left in `admitted`) as still running after `latencyMs`.
 */
export const eventOf = (step: StrategyStep, admitted: Admitted[]): BreakerEvent => {
  const take = (): Admitted => {
    if (admitted.length === 0 || step.op === 'forged')
      return { _tag: 'Admitted', generation: step.pick % 5, id: step.pick % 7, probe: step.pick % 2 === 0 }
    const [ticket] = admitted.splice(step.pick % admitted.length, 1)
    return ticket as Admitted
  }
  const overdueMs = step.pick % 3 === 0 ? step.latencyMs / 2 : undefined
  switch (step.op) {
    case 'request':
      return BreakerEvent.requested()
    case 'succeed': {
      const event = BreakerEvent.succeeded(take(), step.latencyMs)
      return overdueMs === undefined ? event : { ...event, overdueMs }
    }
    case 'fail':
    case 'forged': {
      const event = BreakerEvent.failed(take(), step.latencyMs)
      return overdueMs === undefined ? event : { ...event, overdueMs }
    }
    case 'overdue': {
      const ticket = admitted[step.pick % Math.max(1, admitted.length)]
      return BreakerEvent.overdue(ticket ?? { generation: 0, id: step.pick % 7, probe: false }, step.latencyMs)
    }
    case 'cancel':
      return BreakerEvent.cancelled(take())
    case 'tick':
      return BreakerEvent.ticked()
    case 'force-open':
      return BreakerEvent.forcedOpen()
    case 'reset':
      return BreakerEvent.reset()
    case 'half-open':
      return BreakerEvent.halfOpen()
    case 'close':
      return BreakerEvent.close()
    case 'open-for':
      return BreakerEvent.openFor(1 + (step.pick % 60_000))
  }
}
