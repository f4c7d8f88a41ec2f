/**
 * What a breaker tells and who waits on it: its event streams, counters, reports and the callers
 * waiting in half-open (`Breaker` extends it). Their bookkeeping, and the watch of
 * calls still running, live in one object made on first need, so an idle breaker holds one field
 * for them.
 */
import type { Rejected, Snapshot } from '@datapunk/breaker'
import type { Clock } from './Clock.js'
import type { EventStream, Unsubscribable } from './EventStream.js'
import type { CallEvent, CallOutcomeEvent, MetricEvent, TransitionEvent } from './MetricEvent.js'
import type { CallCounter } from './metricModel.js'
import type { RunningCalls } from './RunningCalls.js'
import { type Views, type Waiter, Watch } from './Watch.js'

/**
 * A breaker's bookkeeping that few breakers need, kept off the breaker so that an idle one stays
 * small (a keyed group may hold a million): one field on the breaker instead of two.
 */
class Extras {
  /** Calls still running, watched for the strategy's `overdueAfterMs`. */
  running: RunningCalls | undefined = undefined
  /** Watchers' and waiters' bookkeeping, made when someone first watches or waits. */
  watched: Watch | undefined = undefined
}

/** The watching half of a `Breaker`. */
export abstract class BreakerEvents {
  /**
   * What few breakers need (calls watched for being overdue, watchers, waiters): made on first need.
   * @internal
   */
  protected extra: Extras | undefined = undefined

  /** Its name in logs, errors and metrics. */
  abstract get name(): string
  /** The clock it reads time from. */
  abstract get clock(): Clock
  /** The current snapshot, live counts included. */
  abstract snapshot(): Snapshot

  /**
   * Calls still running, watched for the strategy's `overdueAfterMs` (none: `undefined`, the hot path's test).
   * @internal
   */
  protected get running(): RunningCalls | undefined {
    const x = this.extra
    return x === undefined ? undefined : x.running
  }

  /**
   * Watchers' and waiters' bookkeeping, if anyone ever watched or waited.
   * @internal
   */
  protected get watched(): Watch | undefined {
    const x = this.extra
    return x === undefined ? undefined : x.watched
  }

  /**
   * The breaker's cold bookkeeping, made if need be.
   * @internal
   */
  protected extras(): Extras {
    this.extra ??= new Extras()
    return this.extra
  }

  /**
   * Watchers' and waiters' bookkeeping, made if need be.
   * @internal
   */
  protected watch(): Watch {
    const x = this.extras()
    x.watched ??= new Watch()
    return x.watched
  }

  /** Per-call metric events (admitted, rejected, succeeded, failed, cancelled, stale). Hot. */
  get calls$(): EventStream<CallEvent> {
    return this.view().calls$
  }
  /**
   * `calls$` without the admissions: what became of each call (rejected, succeeded, failed,
   * cancelled, stale). What metrics count, at one event per call instead of two. Hot.
   *
   * @example
   * import { circuit } from '@datapunk/breaker'
   * import { createBreaker } from '@datapunk/breaker-runtime'
   * const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 3 } }))
   * const tags: string[] = []
   * breaker.outcomes$.subscribe((e) => tags.push(e._tag))
   * await breaker.execute(async () => 'ok')
   * tags // ['CallSucceeded']
   */
  get outcomes$(): EventStream<CallOutcomeEvent> {
    return this.view().outcomes$
  }
  /**
   * Tells `counter` how each call ends, as `outcomes$` would, with plain values and no event
   * object: a metrics exporter's way to count (the Prometheus and OpenTelemetry adapters use it).
   *
   * @example
   * import { circuit } from '@datapunk/breaker'
   * import { createBreaker } from '@datapunk/breaker-runtime'
   * const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 3 } }))
   * let ok = 0
   * const counting = breaker.countCalls({ settled: (outcome) => void (outcome === 'success' && ok++), rejected: () => {} })
   * await breaker.execute(async () => 'ok')
   * counting.unsubscribe()
   * ok // 1
   */
  countCalls(counter: CallCounter): Unsubscribable {
    return this.watch().addCounter(counter)
  }
  /** State changes, recovery-rate changes, config swaps, rejected configs, classifiers that threw. Hot. */
  get transitions$(): EventStream<TransitionEvent> {
    return this.view().transitions$
  }
  /** Every metric event: `calls$` and `transitions$` merged. Hot. */
  get metrics$(): EventStream<MetricEvent> {
    return this.view().metrics$
  }
  /**
   * The current snapshot at once, then a new one whenever the phase, mode, generation or admit
   * rate changes (not on every call: read `snapshot()` for live counts).
   */
  get state$(): EventStream<Snapshot> {
    return this.view().state$
  }

  private view(): Views {
    const w = this.watch()
    w.views ??= w.makeViews(() => this.snapshot())
    return w.views
  }

  /** Callers waiting in half-open (see the `waitInHalfOpen` option). */
  get waiting(): number {
    return this.watched?.waiters?.size ?? 0
  }

  /** Reports a config that could not be used (see `followConfig`). */
  configRejected(message: string): void {
    this.watched?.report('ConfigRejected', this.name, this.clock.now(), message)
  }

  /** Reports a classifier (`isFailure`, `classifyError`, `classifyResult`) that threw or answered no verdict; the call counted as a failure. */
  classifierFailed(error: unknown): void {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
    this.watched?.report('ClassifierFailed', this.name, this.clock.now(), message)
  }

  /**
   * Whether a caller rejected with `rejection` may wait (half-open and full, or throttled, and
   * fewer than `maxWaiting` already waiting).
   */
  canWait(rejection: Rejected, maxWaiting: number): boolean {
    return (rejection.reason === 'half-open-full' || rejection.reason === 'throttled') && this.waiting < maxWaiting
  }

  /**
   * Queues a caller for the probes' verdict: whenever the state changes the first waiter asks
   * again; it is admitted when the circuit closed or ramped far enough, fails when the circuit
   * opened again, and fails with the last rejection after `maxWaitMs`. Unsubscribe to leave the queue.
   */
  wait(maxWaitMs: number, admit: Waiter['admit'], fail: Waiter['fail']): Unsubscribable {
    return this.watch().wait(this.clock, maxWaitMs, admit, fail)
  }
}
