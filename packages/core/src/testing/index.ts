/**
 * @datapunk/breaker/testing: the laws every built-in part passes, and the arbitraries that drive
 * them, for your own parts. Needs fast-check (an optional peer dependency of the core).
 *
 * ```ts
 * import { checkDetectorLaws, checkStrategyLaws } from '@datapunk/breaker/testing'
 * it('my detector keeps the laws', () => checkDetectorLaws(myDetector))
 * ```
 */
export { type DetectorStep, detectorScript, elapsedMs, eventOf, latencyMs, type StrategyStep, strategyScript } from './arbitraries.js'
export { checkDetectorLaws, checkStrategyLaws, type LawOptions } from './laws.js'
