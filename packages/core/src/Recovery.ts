/**
 * A recovery policy runs the half-open phase: it decides which requests go through as probes and,
 * from their outcomes, whether the circuit closes or opens again.
 */
import type { Rejected } from './Decision.js'
import type { StateCodec } from './Detector.js'

// ---- model -------------------------------------------------------------------------------

/** The state of any library recovery policy: plain JSON. */
export type RecoveryState = ClassicHalfOpenState | GradualRecoveryState

/** State of classic half-open: probes in flight and settled. */
export interface ClassicHalfOpenState {
  readonly kind: 'classic'
  /** Probes admitted and not yet settled or cancelled. */
  readonly inFlight: number
  readonly successes: number
  readonly failures: number
}

/** State of gradual recovery: the ramp's rate and speed, the admission credit, the current stage. */
export interface GradualRecoveryState {
  readonly kind: 'gradual'
  /** Share of requests admitted, in millionths (integers keep the admission credit exact). */
  readonly ratePpm: number
  /** Multiplier of the next step up; doubles after clean stages, back to 1 after marginal ones. */
  readonly speed: number
  /** Admission credit in millionths: each request adds `ratePpm`, an admission spends 1,000,000. */
  readonly credit: number
  readonly inFlight: number
  /** When recovery began, and requests seen since (for the throttled retry-after estimate). */
  readonly startedAt: number
  readonly requests: number
  readonly stageRequests: number
  readonly stageAdmitted: number
  readonly stageCalls: number
  readonly stageFailures: number
  readonly stageStartedAt: number
}

/** What a recovery step concluded: keep going with a new state, close, or reopen. */
export type RecoveryVerdict<R> = R | 'close' | 'reopen'

/** What a recovery policy reports for metrics and UIs. */
export type RecoverySnapshot =
  | {
      readonly kind: 'classic'
      readonly probes: number
      readonly inFlight: number
      readonly successes: number
      readonly failures: number
    }
  | {
      readonly kind: 'gradual'
      readonly admitRate: number
      readonly speed: number
      readonly inFlight: number
      readonly stage: {
        readonly requests: number
        readonly admitted: number
        readonly calls: number
        readonly failures: number
        readonly startedAt: number
      }
    }

/**
 * A recovery policy: pure functions over its own state. The circuit calls `outcome` and `cancel`
 * only for a probe of the current generation while `inFlight(state) > 0`.
 */
export interface Recovery<R extends RecoveryState = RecoveryState> {
  readonly config: RecoveryConfig
  readonly key: string
  start(now: number): R
  /**
   * Takes a request. The request is admitted as a probe iff the returned state has one more
   * call in flight; otherwise `rejection(returned, now)` says why.
   */
  request(state: R, now: number): R
  rejection(state: R, now: number): Rejected
  outcome(state: R, failed: boolean, latencyMs: number, now: number): RecoveryVerdict<R>
  cancel(state: R): R
  tick(state: R, now: number): RecoveryVerdict<R>
  inFlight(state: R): number
  admitRate(state: R): number
  measure(state: R): RecoverySnapshot
  readonly codec: StateCodec<R>
}

/** The JSON config of any recovery policy. */
export type RecoveryConfig = ClassicHalfOpenConfig | GradualRecoveryConfig

/** Classic half-open: `probes` permits; reopen once `failures / probes >= failureRateThreshold`, close when all probes settled below it. */
export interface ClassicHalfOpenConfig {
  readonly kind: 'classic'
  readonly probes: number
  readonly failureRateThreshold: number
  /** If set, a probe taking this long or longer counts as a failure. */
  readonly slowCallMs?: number
}

/** Gradual recovery: ramp the admitted share of traffic from `initialRate` to 1, stage by stage. */
export interface GradualRecoveryConfig {
  readonly kind: 'gradual'
  readonly initialRate: number
  readonly increment: number
  readonly maxSpeed: number
  readonly stageCalls: number
  readonly stageMs: number
  readonly failureRateThreshold: number
  readonly marginalRate: number
  /** If set, a probe taking this long or longer counts as a failure. */
  readonly slowCallMs?: number
}

/** True when a probe's outcome counts against the upstream. */
export const probeFailed = (failed: boolean, latencyMs: number, slowCallMs: number | undefined): boolean =>
  failed || (slowCallMs !== undefined && latencyMs >= slowCallMs)
