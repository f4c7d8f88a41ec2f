/**
 * @datapunk/breaker-rxjs: the RxJS layer of Datapunk Breaker.
 *
 * `source$.pipe(circuitBreaker(breaker))` for a breaker of `@datapunk/breaker-runtime` (any RxJS
 * scheduler is its clock, so marble tests run in virtual time), a breaker's events as RxJS
 * Observables (`observe`), and `decide()` for replaying streams of events through a strategy.
 */
export { type BreakerLike, type CircuitBreakerConfig, circuitBreaker } from './circuitBreaker.js'
export { type DecideConfig, decide } from './decide.js'
export { type BreakerObservables, observe, observeGroup, toObservable } from './observe.js'
