/**
 * Whether a value given where a part belongs (a detector to `allOf`, `anyOf`, `composite` or
 * `circuitOf`, a recovery or an open duration to `circuitOf`) has that part's functions: the
 * problem, named, for a `ConfigError`, so a config object or `undefined` given in its place fails
 * where it is given, not on the first call.
 */

import { problem } from './ConfigError.js'
import type { Problem } from './codecs.js'

const kindOf = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value)

const shapeProblem = (path: string, what: string, value: unknown, functions: ReadonlyArray<string>): Problem | undefined => {
  if (typeof value !== 'object' || value === null) return problem(path, `expected ${what}, got ${kindOf(value)}`)
  const v = value as Record<string, unknown>
  if (typeof v.kind !== 'string')
    return problem(path, `expected ${what}, got an object without a kind (a config? build the part from it first)`)
  const missing = functions.find((f) => typeof v[f] !== 'function')
  return missing === undefined ? undefined : problem(path, `expected ${what}, but its ${missing} is ${kindOf(v[missing])}, not a function`)
}

/** A detector's problem: `kind`, and `initial`, `record`, `advance`, `tripped`, `measure`. */
export const detectorProblem = (path: string, value: unknown): Problem | undefined =>
  shapeProblem(path, 'a detector (consecutiveFailures(...), failureRate(...), or your own)', value, [
    'initial',
    'record',
    'advance',
    'tripped',
    'measure',
  ])

/** A recovery's problem: `kind`, and `start`, `request`, `outcome`, `cancel`, `tick`, `admitRate`, `measure`. */
export const recoveryProblem = (path: string, value: unknown): Problem | undefined =>
  shapeProblem(path, 'a recovery (classicHalfOpen(...), gradualRecovery(...), or your own)', value, [
    'start',
    'request',
    'outcome',
    'cancel',
    'tick',
    'admitRate',
    'measure',
  ])

/** An open duration's problem: `kind`, and `durationMs`. */
export const openForProblem = (path: string, value: unknown): Problem | undefined =>
  shapeProblem(path, 'an open duration (constantOpenFor(...), or your own)', value, ['durationMs'])
