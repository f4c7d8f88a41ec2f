import type * as t from 'io-ts'
import { type Problem, report } from './codecs.js'
import * as E from './either.js'

/** A config that does not decode: every problem, each naming its path, what was expected and what was given. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  constructor(
    /** Every problem found, each with its path and what was expected. */
    readonly problems: ReadonlyArray<Problem>,
  ) {
    super(problems.map((p) => p.message).join('\n'))
  }
}

/** One problem at `path` (dot-separated, `''` for the root). */
export const problem = (path: string, text: string): Problem => ({ path, message: `${path === '' ? '(root)' : path}: ${text}` })

/** The same problems, with their paths under `prefix` (`'recovery'`: `probes` becomes `recovery.probes`). */
export const underPath = (prefix: string, problems: ReadonlyArray<Problem>): ReadonlyArray<Problem> =>
  problems.map((p) => {
    const path = p.path === '' ? prefix : p.path.startsWith('[') ? prefix + p.path : `${prefix}.${p.path}`
    const own = p.path === '' ? '(root)' : p.path
    return { path, message: path + (p.message.startsWith(own) ? p.message.slice(own.length) : `: ${p.message}`) }
  })

/** Decodes `value` or throws a {@link ConfigError} (for constructors, which take configs written in code). */
export const decodeOrThrow = <A>(codec: t.Decoder<unknown, A>, value: unknown): A => {
  const result = codec.decode(value)
  if (E.isLeft(result)) throw new ConfigError(report(result.left))
  return result.right
}
