import type { CircuitState } from '@datapunk/breaker'

/** One time bucket of a run, for charts. */
export interface Bucket {
  /** Requests that arrived in the bucket. */
  readonly requests: number
  /** Requests admitted (calls let into the upstream). */
  readonly admitted: number
  /** Admitted calls that failed. */
  readonly failed: number
  /** The phase at the end of the bucket. */
  readonly phase: CircuitState
  /** Whether the upstream was collapsed or down at the end of the bucket. */
  readonly upstreamDown: boolean
  /** The mean latency of the calls admitted in the bucket (failures and timeouts included), in ms; null if none was. */
  readonly latencyMs: number | null
}

/** What one strategy did to callers and to the upstream. */
export interface RunSummary {
  /** The strategy's name (`oracle` for the oracle's run). */
  readonly strategy: string
  /** Requests in the run (the same for every strategy on the same seed). */
  readonly requests: number
  /** Requests admitted. */
  readonly admitted: number
  /** Requests admitted that succeeded. */
  readonly succeeded: number
  /** Share of all requests that got a successful response. */
  readonly successRate: number
  /** Calls sent into the upstream that failed. */
  readonly wasted: number
  /**
   * Rejected requests that would have succeeded: each rejected request's own outcome draw (the
   * one it would have used if admitted, the same for every strategy) against the upstream's true
   * state and load at that moment, at any error level. A rejection during a partial failure that
   * would have been served is needless too.
   */
  readonly needless: number
  /** Caller time spent waiting on calls that failed (their latencies, timeouts included), in seconds. */
  readonly callerSecondsLost: number
  /** From the incident to the first trip, or null if it never tripped. */
  readonly timeToDetectMs: number | null
  /** From the incident to the first request rejected after it (a trip, or a throttle), or null if none was. */
  readonly timeToShedMs: number | null
  /**
   * How long before the upstream's true failure rate first reached 50% the strategy first shed
   * load, i.e. rejected a request after the incident began (negative: after it); null if the
   * failure rate never reached 50% or the strategy never rejected anything after the incident.
   */
  readonly leadTimeMs: number | null
  /** Trips (opens) per simulated 24 hours: false trips, on a scenario that never justifies one. */
  readonly tripsPerDay: number
  /**
   * From the upstream's recovery to the moment the strategy went back to admitting every request
   * for good (the request after its last rejection; the recovery itself if it rejected none
   * since), or null if it still rejects at the end (open, or a ramp below 100%).
   */
  readonly timeToFullMs: number | null
  /** Times the strategy opened (trips). */
  readonly opens: number
  /** Times it closed again. */
  readonly closes: number
  /** Closes that were followed by another trip: open/close cycles. */
  readonly oscillations: number
  /** Times a fragile upstream collapsed again under the traffic let through. */
  readonly collapses: number
  /** The most requests per second the upstream got in any second after its recovery began. */
  readonly peakRecoveryRps: number
}

/** One policy's run: its summary and its chart buckets. */
export interface Run {
  /** What it did, in totals and times. */
  readonly summary: RunSummary
  /** The run over time, in buckets of `bucketMs`, for charts. */
  readonly buckets: ReadonlyArray<Bucket>
  /** The width of a bucket, in ms. */
  readonly bucketMs: number
}
