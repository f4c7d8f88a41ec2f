/**
 * A recovery policy runs the half-open phase: it decides which requests go through as probes and,
 * from their outcomes, whether the circuit closes or opens again. The interface is open: a
 * recovery you write is a value of the same type as the library's and plugs into `circuitOf`.
 *
 * The circuit, not the recovery, keeps track of which probes are in flight (by call id): a
 * recovery hears each probe's outcome or cancellation exactly once, and never hears of a probe
 * it did not admit.
 */
import type { Rejected } from './Decision.js'
import type { StateCodec } from './Detector.js'

// ---- model -------------------------------------------------------------------------------

/** What a recovery step concluded: keep going with a new state, close, or reopen. */
export type RecoveryVerdict<R> = R | 'close' | 'reopen'

/** What a request in half-open got: admitted as a probe, or rejected (and why), with the next state. */
export type RecoveryAdmission<R> =
  | { readonly state: R; readonly admitted: true }
  | { readonly state: R; readonly admitted: false; readonly rejection: Rejected }

/** What every recovery reports for metrics and UIs; the library's add their own fields. */
export interface RecoverySnapshot {
  /** The recovery's kind (`'classic'`, `'gradual'`, or your own). */
  readonly kind: string
  /** The share of requests admitted now, in [0, 1]. */
  readonly admitRate: number
  /** Probes admitted and not yet settled. */
  readonly inFlight: number
  /**
   * The share of requests the other replicas of a fleet may admit while this one leads the fleet's
   * recovery (see `BreakerEvent.follow`): a ramp's own rate (gradual recovery). Absent means 0:
   * only the leader probes (classic half-open), so the fleet sends no more probes than one replica.
   */
  readonly fleetRate?: number
  /** Any other figures the recovery wants on dashboards, by name. */
  readonly figures?: Readonly<Record<string, number | null>>
}

/**
 * A recovery policy: pure functions over its own state `R` (any plain data). Methods never
 * throw and never mutate their input.
 */
export interface Recovery<R> {
  /** Its kind (`classic`, `gradual`, or your own). */
  readonly kind: string
  /** The JSON config this policy was built from. */
  readonly config: unknown
  /** Canonical text of the config: a swap to a policy with the same key keeps the recovery state. */
  readonly key: string
  /** A fresh half-open phase beginning at `now`. */
  start(now: number): R
  /**
   * A fresh half-open phase beginning at `now`, after the previous one failed in state `memory`:
   * the circuit reopened on this recovery's verdict and has stayed open since. Without it, or when
   * the circuit opened any other way (a trip from closed, a manual or forced open, an isolation, a
   * swap to another recovery), the circuit calls `start`. The circuit keeps `memory` while open.
   * `failedAt`: when the circuit reopened on that verdict (`memory` is the state before the
   * outcome or tick that gave it); a policy written before it was passed may ignore it.
   */
  restart?(memory: R, now: number, failedAt: number): R
  /** Takes a request: admit it as a probe, or reject it with a reason and a retry-after. */
  request(state: R, now: number): RecoveryAdmission<R>
  /** A probe settled (`latencyMs` finite and >= 0). */
  outcome(state: R, failed: boolean, latencyMs: number, now: number): RecoveryVerdict<R>
  /** A probe ends without an outcome that counts (its permit comes back). */
  cancel(state: R, now: number): R
  /** Time passed. */
  tick(state: R, now: number): RecoveryVerdict<R>
  /** The share of requests admitted now, in [0, 1]. */
  admitRate(state: R): number
  /** Its figures for a snapshot while half-open (`inFlight`: probes in flight). */
  measure(state: R, inFlight: number): RecoverySnapshot
  /** Reads and writes its state as JSON-safe data. */
  readonly codec: StateCodec<R>
  /**
   * The clock jumped back by `-deltaMs` to `now`: move every time the state holds by `deltaMs`.
   * Without it the state is kept as it is.
   */
  rebase?(state: R, deltaMs: number, now: number): R
}

/** True when a probe's outcome counts against the upstream. */
export const probeFailed = (failed: boolean, latencyMs: number, slowCallMs: number | undefined): boolean =>
  failed || (slowCallMs !== undefined && latencyMs >= slowCallMs)
