import { type Admitted, isValidLatency } from '@datapunk/breaker'
import { CANCEL, type CallSink, FAILURE, type Settleable, SUCCESS, settle } from './AdmittedCall.js'
import type { HintedFailure } from './Verdict.js'

/** How an admitted call ended, as the caller tells the breaker. */
export type CallOutcome = 'success' | 'failure' | 'timeout' | 'cancel'

/**
 * A call the breaker admitted (see `Breaker.admit`): settle it exactly once, through itself, when
 * it ends. Its latency is measured on the breaker's clock from `startedAt`; a second `settle` (a
 * late callback, a timeout racing a reply) changes nothing and returns `false`. `'cancel'` counts
 * nowhere (and gives a probe permit back); `'timeout'` counts as a failure, reported as one.
 */
export class Admission implements Settleable {
  /** Tells an admission from a `Rejected` decision. */
  readonly _tag = 'Admitted' as const
  /** True once settled: a second `settle` changes nothing. */
  settled = false

  /** @internal Made by `Breaker.admit`. */
  constructor(
    /** The breaker it settles with. */
    readonly sink: CallSink,
    /** The core's ticket for this call (its generation, id and whether it is a probe). */
    readonly ticket: Admitted,
    /** The breaker's number of this call (from 1), as its call events carry it. */
    readonly call: number,
    /** When it was admitted, on the breaker's clock. */
    readonly started: number,
  ) {}

  /** Whether this call is a probe of a recovering circuit. */
  get probe(): boolean {
    return this.ticket.probe
  }

  /**
   * Records how the call ended; `false` if it had already settled. A {@link HintedFailure}
   * (`Verdict.failure(ms)`) is a failure with the upstream's retry hint.
   */
  settle(outcome: CallOutcome | HintedFailure): boolean {
    if (typeof outcome === 'object' && outcome !== null && outcome.verdict === 'failure') {
      return settle(this, isValidLatency(outcome.retryAfterMs) ? { verdict: 'failure', retryAfterMs: outcome.retryAfterMs } : FAILURE)
    }
    switch (outcome) {
      case 'success':
        return settle(this, SUCCESS)
      case 'failure':
        return settle(this, FAILURE)
      case 'timeout':
        return settle(this, FAILURE, true)
      case 'cancel':
        return settle(this, CANCEL)
      default:
        throw new RangeError(
          `Admission.settle: expected 'success', 'failure', 'timeout', 'cancel' or Verdict.failure(ms), got ${String(outcome)}`,
        )
    }
  }
}
