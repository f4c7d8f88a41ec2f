import * as E from 'fp-ts/lib/Either.js'
import type * as t from 'io-ts'
import { type Problem, report } from './codecs.js'

/** A config that does not decode: every problem, each naming its path, what was expected and what was given. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  constructor(readonly problems: ReadonlyArray<Problem>) {
    super(problems.map((p) => p.message).join('\n'))
  }
}

/** Decodes `value` or throws a {@link ConfigError} (for constructors, which take configs written in code). */
export const decodeOrThrow = <A>(codec: t.Type<A, unknown, unknown> | t.Decoder<unknown, A>, value: unknown): A => {
  const result = codec.decode(value)
  if (E.isLeft(result)) throw new ConfigError(report(result.left))
  return result.right
}
