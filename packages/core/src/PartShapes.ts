/**
 * Whether a value given where a part belongs (a detector to `allOf`, `anyOf`, `composite` or
 * `circuitOf`, a recovery or an open duration to `circuitOf`) has that part's functions: the
 * problem, named, for a `ConfigError`, so a config object or `undefined` given in its place fails
 * where it is given, not on the first call.
 */

import { problem } from './ConfigError.js'
import type { Problem } from './codecs.js'

/** How a value reads in an error message: `null`, `an array`, or its type. */
export const kindOf = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value)

/** The functions each kind of part has (see `Detector`, `Recovery`, `OpenDuration`). */
const FUNCTIONS = {
  'a detector': 'initial record advance tripped measure',
  'a recovery': 'start request outcome cancel tick admitRate measure',
  'an open duration': 'durationMs',
} as const

/** The problem with `value` as the part `what` at `path`, or `undefined` if it has the part's kind and functions. */
export const partProblem = (path: string, what: keyof typeof FUNCTIONS, value: unknown): Problem | undefined => {
  const v = value as Record<string, unknown> | null
  const given = typeof v !== 'object' || v === null ? kindOf(v) : typeof v.kind !== 'string' ? 'an object without a kind (a config?)' : ''
  const missing = given === '' ? FUNCTIONS[what].split(' ').find((f) => typeof v?.[f] !== 'function') : undefined
  if (given === '' && missing === undefined) return undefined
  return problem(path, `expected ${what}, ${given === '' ? `but its ${missing} is not a function` : `got ${given}`}`)
}
