/**
 * @datapunk/breaker: circuit-breaker strategies as pure reducers.
 *
 * `step(state, event, now) => [state, decision]`, with no clock, randomness or I/O inside.
 */
export { anyOf } from './AnyOf.js'
export type { CallCancelled, CallFailed, CallRequested, CallSucceeded, Disabled, ForcedOpen, Reset, Ticked } from './BreakerEvent.js'
export { BreakerEvent, eventTags, InvalidEventError, isValidLatency, isValidTicket } from './BreakerEvent.js'
export { type CircuitData, type CircuitStrategy, circuit, fromConfig, fromDecodedConfig, restore, SnapshotError } from './Circuit.js'
export { CircuitState, Mode, type TransitionReason, transitionReasons } from './CircuitState.js'
export { classicHalfOpen } from './ClassicHalfOpen.js'
export {
  CircuitConfig,
  type CircuitConfigInput,
  ConfigError,
  decodeConfig,
  type OpenForConfigInput,
  type RecoveryConfigInput,
  type TripConfigInput,
} from './Config.js'
export { consecutiveFailures } from './ConsecutiveFailures.js'
export { type Counts, MonoidCounts, rateOf } from './Counts.js'
export {
  addToCountWindow,
  type CountWindow,
  countWindowCodec,
  countWindowOutcomes,
  emptyCountWindow,
  getCountWindowMonoid,
} from './CountWindow.js'
export {
  constrained,
  Finite,
  Millis,
  NonNegativeInt,
  OpenRatio,
  PositiveInt,
  PositiveMillis,
  type Problem,
  Ratio,
  report,
} from './codecs.js'
export {
  type Admitted,
  type Decision,
  type Ignored,
  type IgnoreReason,
  isAdmitted,
  isRejected,
  type Recorded,
  type Rejected,
  type RejectReason,
  type Ticket,
} from './Decision.js'
export type {
  AnyOfConfig,
  AnyOfState,
  ConsecutiveFailuresConfig,
  ConsecutiveFailuresState,
  Detector,
  DetectorSnapshot,
  DetectorState,
  FailureCountConfig,
  FailureRateConfig,
  SlowCallRateConfig,
  StateCodec,
  TripConfig,
} from './Detector.js'
export { failureCount } from './FailureCount.js'
export { failureRate } from './FailureRate.js'
export { gradualRecovery, PPM } from './GradualRecovery.js'
export { type ConstantOpenFor, type ExponentialOpenFor, OpenForConfig, openDuration } from './OpenDuration.js'
export type {
  ClassicHalfOpenConfig,
  ClassicHalfOpenState,
  GradualRecoveryConfig,
  GradualRecoveryState,
  Recovery,
  RecoveryConfig,
  RecoverySnapshot,
  RecoveryState,
  RecoveryVerdict,
} from './Recovery.js'
export { slowCallRate } from './SlowCallRate.js'
export type { Snapshot, Strategy } from './Strategy.js'
export { swapStrategy } from './Swap.js'
export {
  addToTimeWindow,
  advanceTimeWindow,
  emptyTimeWindow,
  getTimeWindowMonoid,
  type TimeWindow,
  type TimeWindowSpec,
  timeWindowBuckets,
  timeWindowCodec,
} from './TimeWindow.js'
export { detectorFromConfig, TripConfig as TripConfigCodec } from './Trip.js'
export { type CountWindowSpec, type TimeWindowSpecTagged, WindowSpec, type WindowState, windowOps } from './Window.js'
