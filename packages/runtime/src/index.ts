/**
 * @datapunk/breaker-runtime: breakers at run time, for promise callers and every adapter.
 *
 * A breaker handle on an injected clock (`createBreaker`), `execute` for promise-returning calls,
 * keyed groups (`breakerGroup`), hot reconfiguration (`followConfig`), typed metric events as
 * minimal observables (RxJS `from()` takes them), pino logging. Depends on the core only: no RxJS.
 */
export { Admission, type CallOutcome } from './Admission.js'
export { Breaker } from './Breaker.js'
export { BreakerEvents } from './BreakerEvents.js'
export type { BreakerOptions } from './BreakerOptions.js'
export { BrokenCircuitError, CallTimeoutError } from './BrokenCircuitError.js'
export { type BreakerGroup, type BreakerGroupConfig, breakerGroup, type GroupEvent } from './breakerGroup.js'
export { CachedClock, type Clock, type ClockTimers, exactMonotonicClock, monotonicClock, type TimerHandle } from './Clock.js'
export { classifyHttp, type HttpClassification, type HttpClassifiers, isFailureStatus, parseRetryAfter } from './classifyHttp.js'
export { createBreaker } from './createBreaker.js'
export {
  Channel,
  type EventStream,
  eventStream,
  mergeStreams,
  type Observer,
  Sink,
  type Subscribable,
  Subscription,
  type Unsubscribable,
} from './EventStream.js'
export { type BoundExecute, type CallOptions, type ExecuteOptions, type WaitConfig, withOptions } from './execute.js'
export { followConfig } from './followConfig.js'
export { type Loggable, logBreaker } from './logBreaker.js'
export type { CallEvent, CallOutcomeEvent, MetricEvent, TransitionEvent } from './MetricEvent.js'
export { CALL_OUTCOMES, type CallCounter, type CallOutcomeLabel, callOutcomeOf, PHASES } from './metricModel.js'
export { type Classifier, type HintedFailure, Verdict } from './Verdict.js'
export { type BreakerSource, type BreakerWatcher, watchBreakers } from './watchBreakers.js'
