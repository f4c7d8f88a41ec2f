/**
 * `@datapunk/breaker-runtime/internal`: the call bookkeeping the other Datapunk packages build on
 * (the RxJS operator settles its calls exactly as `execute` does). Not part of the public API: it
 * may change in any release. Use `Breaker.execute` or `circuitBreaker()` instead.
 */
export {
  CANCEL,
  type CallGate,
  type CallSink,
  classifyError,
  classifyResult,
  FAILURE,
  type Outcome,
  type Settleable,
  SUCCESS,
  settle,
} from './AdmittedCall.js'
export { checkBuckets, checkOptions, kindOf } from './checkInput.js'
export { callOptions, DEFAULT_CALL_OPTIONS } from './execute.js'
export { emptyReading, type Reading, type ReadingHolder, refreshReading } from './Reading.js'
export type { Judged } from './Verdict.js'
export { checkSource } from './watchBreakers.js'
