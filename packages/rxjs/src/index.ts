/**
 * @datapunk/breaker-rxjs: the RxJS layer of Datapunk Breaker.
 *
 * `source$.pipe(circuitBreaker(breaker))`, breakers whose clock is an RxJS scheduler, keyed
 * breakers, hot reconfiguration, typed metric events and pino logging.
 */
export { Breaker, type BreakerOptions, createBreaker } from './Breaker.js'
export { BrokenCircuitError, CallTimeoutError } from './BrokenCircuitError.js'
export { type BreakerGroup, type BreakerGroupConfig, breakerGroup, type GroupEvent } from './breakerGroup.js'
export { type BreakerLike, type CircuitBreakerConfig, circuitBreaker } from './circuitBreaker.js'
export { type DecideConfig, decide } from './decide.js'
export type { CallOptions, ExecuteOptions, WaitConfig } from './execute.js'
export { followConfig } from './followConfig.js'
export { logBreaker } from './logBreaker.js'
export type { CallEvent, CallOutcomeEvent, MetricEvent, TransitionEvent } from './MetricEvent.js'
export { CachedClock, type ClockTimers, exactMonotonicScheduler, monotonicScheduler } from './monotonicScheduler.js'
export { type BreakerSource, type BreakerWatcher, watchBreakers } from './watchBreakers.js'
