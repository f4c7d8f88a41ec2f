/**
 * @datapunk/breaker: circuit-breaker strategies as pure reducers.
 *
 * `step(state, event, now) => [state, decision]`, with no clock, randomness or I/O inside.
 * Strategies are assembled from parts (detectors, recoveries, open durations) that you can write
 * yourself: see `Detector`, `Recovery`, `OpenFor` and `circuitOf`.
 */

export {
  AdaptiveThrottleConfig,
  type AdaptiveThrottleInput,
  adaptiveThrottle,
  type ThrottledConfig,
  type ThrottledState,
  type ThrottledStrategy,
  type ThrottleHandoff,
  type ThrottleState,
} from './AdaptiveThrottle.js'
export { allOf } from './AllOf.js'
export { anyOf } from './AnyOf.js'
export type {
  CallCancelled,
  CallFailed,
  CallOverdue,
  CallRequested,
  CallSucceeded,
  CloseCommanded,
  Disabled,
  EvidenceReceived,
  ForcedOpen,
  HalfOpenCommanded,
  IsolationReleased,
  IsolationRequested,
  OpenCommanded,
  PeerRecovered,
  PeerTripped,
  RecoveryFollowed,
  Reset,
  Ticked,
} from './BreakerEvent.js'
export { BreakerEvent, eventTags, InvalidEventError, isValidLatency, isValidTicket } from './BreakerEvent.js'
export { ChangePointConfig, type ChangePointInput, type ChangePointState, type ChangeSignal, changePoint } from './ChangePoint.js'
export {
  type CircuitConfig,
  type CircuitData,
  type CircuitHandoff,
  type CircuitPartsInput,
  type CircuitStrategy,
  circuitOf,
  type FollowData,
  type PhaseData,
  restore,
  SnapshotError,
} from './Circuit.js'
export { CircuitState, Mode, type TransitionReason, transitionReasons } from './CircuitState.js'
export {
  CLASSIC_FAILURE_RATE_THRESHOLD,
  ClassicHalfOpenConfig,
  type ClassicHalfOpenSnapshot,
  type ClassicHalfOpenState,
  classicHalfOpen,
} from './ClassicHalfOpen.js'
export { type CompositeState, composite } from './Composite.js'
export {
  type CircuitConfigInput,
  ConfigError,
  type ConfiguredStrategy,
  circuit,
  decodeConfig,
  decodeDetector,
  fromConfig,
  type OpenForConfigInput,
  type RecoveryConfigInput,
  strategyFromConfig,
  type TripConfigInput,
} from './Config.js'
export { decodeOrThrow, problem } from './ConfigError.js'
export { ConsecutiveFailuresConfig, type ConsecutiveFailuresState, consecutiveFailures } from './ConsecutiveFailures.js'
export { type Counts, MonoidCounts, rateOf } from './Counts.js'
export {
  addToCountWindow,
  type CountWindow,
  countWindowCodec,
  countWindowOutcomes,
  emptyCountWindow,
  getCountWindowMonoid,
} from './CountWindow.js'
export { CusumConfig, type CusumInput, type CusumSignal, type CusumState, cusum } from './Cusum.js'
export {
  constrained,
  DurationMs,
  Finite,
  intIn,
  literal,
  Millis,
  NonNegativeInt,
  OpenRatio,
  OptionalDurationMs,
  PositiveInt,
  PositiveMillis,
  type Problem,
  Ratio,
  report,
  struct,
  tagged,
} from './codecs.js'
export {
  type Admitted,
  type Decision,
  type Ignored,
  type IgnoreReason,
  type Isolated,
  isAdmitted,
  isRejected,
  type Recorded,
  type Rejected,
  type RejectReason,
  type Ticket,
} from './Decision.js'
export {
  canonical,
  carryDetectorState,
  type Detector,
  type DetectorHandoff,
  type DetectorSnapshot,
  detectorHandoff,
  emptyDetectorSnapshot,
  handoffLeaves,
  type StateCodec,
} from './Detector.js'
export { type Evidence, type EvidenceBucket, isEvidence, isEvidenceBucket, maxEvidenceCalls, mergeEvidence } from './Evidence.js'
export { FailureCountConfig, failureCount } from './FailureCount.js'
export { FailureRateConfig, failureRate } from './FailureRate.js'
export { type PartFigure, partFigures } from './Figures.js'
export { type Agreement, compareTallies, recentBuckets, recentTallies, type Tally } from './fleet/agreement.js'
export {
  absorbRound,
  DEFAULT_FLEET_POLICY,
  type FleetMember,
  type FleetNote,
  type FleetOutcome,
  type FleetPolicy,
  fleetMember,
  fleetPolicy,
  hearPeer,
  type LeaseReply,
  type LeaseRequest,
  type LocalView,
  leaveFleet,
  type PeerMessage,
  type PeerReport,
  type PeerStatus,
  type PendingTrip,
  planRound,
  type RoundPlan,
  type RoundReply,
} from './fleet/protocol.js'
export {
  GRADUAL_FAILURE_RATE_THRESHOLD,
  GRADUAL_MARGINAL_RATE,
  GradualRecoveryConfig,
  type GradualRecoveryInput,
  type GradualRecoverySnapshot,
  type GradualRecoveryState,
  gradualRecovery,
  type RampState,
} from './GradualRecovery.js'
export {
  type BuildContext,
  builtInKinds,
  type ConfigOptions,
  type DetectorKind,
  detectorKind,
  type Kinds,
  type OpenForKind,
  openForKind,
  type PartKind,
  type RecoveryKind,
  recoveryKind,
  type StrategyKind,
  strategyKind,
} from './Kinds.js'
export {
  closeBucket,
  EMPTY_PREDICTOR_HISTORY,
  LearnedPredictorConfig,
  type LearnedPredictorInput,
  type LearnedPredictorState,
  learnedPredictor,
  nextBaseline,
  PREDICTOR_FEATURES,
  type PredictorFeature,
  type PredictorHistory,
  PredictorModel,
  type PredictorModelInput,
  predict,
  predictorFeatures,
} from './LearnedPredictor.js'
export { Limits } from './Limits.js'
export {
  boundedOpenDuration,
  ConstantOpenForConfig,
  constantOpenFor,
  DEFAULT_OPEN_FOR,
  ExponentialOpenForConfig,
  exponentialOpenFor,
  type OpenFor,
  OpenForConfig,
  openDuration,
  openForFromConfig,
  RetryAfterOpenForConfig,
  retryAfterOpenFor,
} from './OpenDuration.js'
export type { Recovery, RecoveryAdmission, RecoverySnapshot, RecoveryVerdict } from './Recovery.js'
export { SlowCallRateConfig, slowCallRate } from './SlowCallRate.js'
export {
  type Handoff,
  type InPlaceStep,
  inPlaceStep,
  type Snapshot,
  type StepWithInPlace,
  type Strategy,
  type StrategyCodec,
  withInPlace,
} from './Strategy.js'
export { handoffOf, swapStrategy } from './Swap.js'
export { primeShape } from './shapes.js'
export {
  addToTimeWindow,
  advanceTimeWindow,
  emptyTimeWindow,
  getTimeWindowMonoid,
  shiftTimeWindow,
  type TimeWindow,
  type TimeWindowSpec,
  timeWindowBuckets,
  timeWindowCodec,
} from './TimeWindow.js'
export { TrendForecastConfig, type TrendForecastInput, type TrendForecastState, trendForecast } from './TrendForecast.js'
export { type CountWindowSpec, type TimeWindowSpecTagged, type WindowOps, WindowSpec, type WindowState, windowOps } from './Window.js'
export { type SharedWindow, type WindowDetectorSpec, type WindowDetectorState, windowDetector } from './WindowDetector.js'
