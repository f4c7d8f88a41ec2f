/**
 * The documented limits of configs and states. A config beyond them is refused by the codecs
 * with a readable error, so no config can make a breaker allocate without bound, recurse without
 * bound, or hold a timer Node cannot keep.
 */
export const Limits = {
  /** The shortest duration a config may name, in ms (`openFor.ms`, a window's `durationMs`, ...). */
  minDurationMs: 1,
  /** The longest duration a config may name, in ms: 2^31 - 1, about 24.8 days (Node's longest timer). */
  maxDurationMs: 2 ** 31 - 1,
  /** The largest count window (calls). Its state is `size / 16` numbers, copied when an outcome changes a slot. */
  maxCountWindowSize: 10_000,
  /** The most buckets of a time window (each bucket is 3 numbers); a bucket also spans at least 1 ms. */
  maxTimeWindowBuckets: 1_000,
  /** The deepest nesting of `any-of` / `all-of` detectors. */
  maxDetectorDepth: 8,
  /** The most members of one `any-of` / `all-of`. */
  maxDetectorMembers: 32,
  /** The most probes classic half-open may allow. */
  maxProbes: 1_000,
  /** The most probes a circuit keeps in flight at once while half-open (default {@link Limits.defaultMaxProbesInFlight}). */
  maxProbesInFlight: 1_000,
  defaultMaxProbesInFlight: 100,
  /** How long a probe may stay unsettled by default before it counts as failed (ms). */
  defaultProbeTimeoutMs: 60_000,
  /** The most outcomes a gradual recovery stage may ask for. */
  maxStageCalls: 1_000_000,
  /**
   * A time more than this many ms before the latest time a circuit has seen is a jump of the
   * caller's clock: the state is moved onto the new clock. Smaller steps back count as the latest time.
   */
  clockToleranceMs: 1_000,
  /** The largest time (ms, either sign) a circuit takes: 2^53 - 1, about 285,000 years; beyond it a time is `invalid-time`. */
  maxTime: Number.MAX_SAFE_INTEGER,
} as const
