/**
 * Small io-ts building blocks shared by the config and state codecs: constrained numbers
 * (brands), structs that reject unknown keys, unions dispatched on a `kind` field, and a
 * reporter that turns io-ts errors into `path: expected X, got Y` lines.
 */

import * as t from 'io-ts'
import * as E from './either.js'
import { Limits } from './Limits.js'

/**
 * Builds a codec for numbers satisfying `predicate`; `description` is what errors say was
 * expected. (Configs keep plain `number` fields rather than brands: every way into a strategy,
 * `circuit`, `fromConfig` and each part's constructor, decodes through these codecs, so an
 * unchecked number never reaches a reducer, and hand-written configs stay plain literals.)
 */
export const constrained = (description: string, predicate: (n: number) => boolean): t.Type<number, number, unknown> =>
  new t.Type<number, number, unknown>(
    description,
    (u): u is number => typeof u === 'number' && predicate(u),
    (u, c) => (typeof u === 'number' && predicate(u) ? t.success(u) : t.failure(u, c)),
    (a) => a,
  )

/** A probability or fraction in (0, 1]. */
export const Ratio = constrained('a ratio in (0, 1]', (n) => n > 0 && n <= 1)

/** A fraction in [0, 1). */
export const OpenRatio = constrained('a ratio in [0, 1)', (n) => n >= 0 && n < 1)

/** An integer >= 1 (and safe). */
export const PositiveInt = constrained('an integer >= 1', (n) => Number.isSafeInteger(n) && n >= 1)

/** An integer >= 0 (and safe). */
export const NonNegativeInt = constrained('an integer >= 0', (n) => Number.isSafeInteger(n) && n >= 0)

/** A finite duration in milliseconds, >= 0. */
export const Millis = constrained('a finite number of milliseconds >= 0', (n) => n >= 0 && n < Number.POSITIVE_INFINITY)

/** A finite duration in milliseconds, > 0. */
export const PositiveMillis = constrained('a finite number of milliseconds > 0', (n) => n > 0 && n < Number.POSITIVE_INFINITY)

/** A duration of a config: from 1 ms to {@link Limits.maxDurationMs} (about 24.8 days, the longest timer Node keeps). */
export const DurationMs = constrained(
  `a number of milliseconds in [${Limits.minDurationMs}, ${Limits.maxDurationMs}]`,
  (n) => n >= Limits.minDurationMs && n <= Limits.maxDurationMs,
)

/** A duration that may be zero: 0 or from 1 ms to {@link Limits.maxDurationMs}. */
export const OptionalDurationMs = constrained(
  `0 or a number of milliseconds in [${Limits.minDurationMs}, ${Limits.maxDurationMs}]`,
  (n) => n === 0 || (n >= Limits.minDurationMs && n <= Limits.maxDurationMs),
)

/** An integer in `[min, max]`. */
export const intIn = (min: number, max: number): t.Type<number, number, unknown> =>
  constrained(`an integer in [${min}, ${max}]`, (n) => Number.isSafeInteger(n) && n >= min && n <= max)

/** Any finite number (a time stamp, a count in a snapshot). */
export const Finite = constrained('a finite number', (n) => Number.isFinite(n))

/** A codec for one of the given string literals, named after them. */
export const oneOf = <L extends string>(values: ReadonlyArray<L>): t.Type<L, L, unknown> => {
  const allowed = new Set<string>(values)
  return new t.Type<L, L, unknown>(
    'one of ' + values.map((v) => JSON.stringify(v)).join(' | '),
    (u): u is L => typeof u === 'string' && allowed.has(u),
    (u, c) => (typeof u === 'string' && allowed.has(u) ? t.success(u as L) : t.failure(u, c)),
    (a) => a,
  )
}

/** A codec for exactly one string literal (errors name it in quotes). */
export const literal = <L extends string>(value: L): t.Type<L, L, unknown> => oneOf([value])

/** A codec that is `null` or `codec`. */
export const nullable = <A, O>(codec: t.Type<A, O, unknown>): t.Type<A | null, O | null, unknown> =>
  new t.Type<A | null, O | null, unknown>(
    codec.name + ' or null',
    (u): u is A | null => u === null || codec.is(u),
    (u, c) => (u === null ? t.success(null) : codec.validate(u, c)),
    (a) => (a === null ? null : codec.encode(a)),
  )

/**
 * Validates `u`, the value at `key` under context `c`, under `c` itself: the context entry for
 * `key` (a copy of the context array) is made only when the value fails, and then put into the
 * context of each error, where the errors of `c`'s own codecs end. A valid value, the usual case,
 * costs no context at all, and a failure is validated once (a second run per level would double
 * the cost of every level a failure sits under).
 */
export const validateAt = <A>(
  codec: { validate(u: unknown, c: t.Context): t.Validation<A> },
  u: unknown,
  c: t.Context,
  key: string,
  type: t.Decoder<unknown, unknown> = t.unknown,
): t.Validation<A> => {
  const r = codec.validate(u, c)
  if (E.isRight(r)) return r
  const entry: t.ContextEntry = { key, type, actual: u }
  const at = c.length
  return E.left(r.left.map((e) => ({ ...e, context: [...e.context.slice(0, at), entry, ...e.context.slice(at)] })))
}

/** A codec that is `undefined` (a field a newer version added, absent from older states) or `codec`. */
export const absentOr = <A, O>(codec: t.Type<A, O, unknown>): t.Type<A | undefined, O | undefined, unknown> =>
  new t.Type<A | undefined, O | undefined, unknown>(
    `${codec.name} or nothing`,
    (u): u is A | undefined => u === undefined || codec.is(u),
    (u, c) => (u === undefined ? t.success(undefined) : codec.validate(u, c)),
    (a) => (a === undefined ? undefined : codec.encode(a)),
  )

/** Any integer (what `t.Int` accepts, unbranded). */
export const Integer = constrained('an integer', (n) => Number.isInteger(n))

/**
 * An array of numbers each accepted by `element`, a {@link constrained} codec (it decodes a number
 * to itself): a valid array, the usual case, is checked with `is` alone and returned as it is;
 * only one that fails is validated element by element, for errors that name the element. States
 * hold such arrays (a window's buckets and slots), and a store reads them on every sync.
 */
export const numbersOf = (
  element: t.Type<number, number, unknown>,
  name = `an array of ${element.name}`,
): t.Type<ReadonlyArray<number>, ReadonlyArray<number>, unknown> => {
  const each = arrayOf(element, name)
  return new t.Type<ReadonlyArray<number>, ReadonlyArray<number>, unknown>(
    name,
    each.is,
    (u, c) => (Array.isArray(u) && u.every(element.is) ? t.success(u as ReadonlyArray<number>) : each.validate(u, c)),
    each.encode,
  )
}

type AnyCodec = t.Mixed
type Props = Record<string, AnyCodec>
type Decoded<P extends Props> = { readonly [K in keyof P]: t.TypeOf<P[K]> }
type Encoded<P extends Props> = { readonly [K in keyof P]: t.OutputOf<P[K]> }
/** The optional fields that have defaults: always present once decoded. */
type Defaulted<O extends Props, D> = { readonly [K in keyof O as K extends keyof D ? K : never]-?: t.TypeOf<O[K]> }

/** An object-shaped value, not null and not an array. */
const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === 'object' && u !== null && !Array.isArray(u)

/**
 * A struct codec that, unlike `t.strict`, fails on keys it does not know (so a typo such as
 * `treshold` is an error, not a silently dropped field). Keys in `optional` may be absent; when
 * absent, decoding fills them from `defaults` if given.
 */
export const struct = <
  R extends Props,
  O extends Props = Record<never, never>,
  D extends { readonly [K in keyof O]?: t.TypeOf<O[K]> } = Record<never, never>,
>(
  name: string,
  required: R,
  optional?: O,
  defaults?: D,
): t.Type<
  // Mapped over `keyof O` (filtered with `as`), each field keeps its declaration: the JSDoc written
  // on a codec's field shows on the decoded type.
  Decoded<R> & Partial<Decoded<O>> & Defaulted<O, D>,
  Encoded<R> & Partial<Encoded<O>>,
  unknown
> => {
  const opt: Props = optional ?? {}
  // The fields as arrays, made once: validate and encode run for every state a store reads or writes.
  const requiredFields = Object.entries(required)
  const optionalFields = Object.entries(opt)
  const known = [...Object.keys(required), ...Object.keys(opt)]
  const knownSet = new Set(known)
  const isIt = (u: unknown): boolean => {
    if (!isRecord(u)) return false
    for (const k of Object.keys(u)) if (!knownSet.has(k)) return false
    for (const [k, codec] of requiredFields) if (!codec.is(u[k])) return false
    for (const [k, codec] of optionalFields) if (u[k] !== undefined && !codec.is(u[k])) return false
    return true
  }
  type Out = Decoded<R> & Partial<Decoded<O>> & Defaulted<O, D>
  return new t.Type(
    name,
    (u): u is Out => isIt(u),
    (u, c) => {
      if (!isRecord(u)) return t.failure(u, c)
      const errors: t.ValidationError[] = []
      const out: Record<string, unknown> = {}
      for (const k of Object.keys(u)) {
        if (!knownSet.has(k)) {
          errors.push({
            value: u[k],
            context: t.appendContext(c, k, t.unknown, u[k]),
            message: `unknown key (expected only ${known.join(', ')})`,
          })
        }
      }
      const field = (k: string, codec: AnyCodec): void => {
        const result = validateAt(codec, u[k], c, k, codec)
        if (E.isLeft(result)) errors.push(...result.left)
        else out[k] = result.right
      }
      for (const [k, codec] of requiredFields) field(k, codec)
      for (const [k, codec] of optionalFields) {
        if (u[k] !== undefined) field(k, codec)
        else if (defaults !== undefined && (defaults as Record<string, unknown>)[k] !== undefined)
          out[k] = (defaults as Record<string, unknown>)[k]
      }
      return errors.length > 0 ? t.failures(errors) : t.success(out as Out)
    },
    (a) => {
      const out: Record<string, unknown> = {}
      const record = a as Record<string, unknown>
      for (const [k, codec] of requiredFields) out[k] = codec.encode(record[k])
      for (const [k, codec] of optionalFields) if (record[k] !== undefined) out[k] = codec.encode(record[k])
      return out as Encoded<R> & Partial<Encoded<O>>
    },
  )
}

/**
 * A union of struct codecs told apart by a string field (`kind` by default). An unknown or
 * missing tag is reported at `<path>.kind` listing the known tags, instead of io-ts's
 * one-error-per-member noise.
 */
export const tagged = <M extends Record<string, AnyCodec>>(
  name: string,
  members: M,
  tagKey = 'kind',
): t.Type<t.TypeOf<M[keyof M]>, t.OutputOf<M[keyof M]>, unknown> => {
  const tags = Object.keys(members)
  const tagCodec = oneOf(tags)
  const memberOf = (u: unknown): AnyCodec | undefined => {
    if (!isRecord(u)) return undefined
    const tag = u[tagKey]
    return typeof tag === 'string' && Object.hasOwn(members, tag) ? members[tag] : undefined
  }
  return new t.Type(
    name,
    (u): u is t.TypeOf<M[keyof M]> => memberOf(u)?.is(u) === true,
    (u, c) => {
      if (!isRecord(u)) return t.failure(u, c)
      const member = memberOf(u)
      if (member === undefined) return t.failure(u[tagKey], t.appendContext(c, tagKey, tagCodec, u[tagKey]))
      return member.validate(u, c) as t.Validation<t.TypeOf<M[keyof M]>>
    },
    (a) => {
      const member = memberOf(a)
      return (member === undefined ? a : member.encode(a)) as t.OutputOf<M[keyof M]>
    },
  )
}

/** An array codec whose elements are reported as `path[i]`. */
export const arrayOf = <A, O>(
  element: t.Type<A, O, unknown>,
  name = `an array of ${element.name}`,
): t.Type<ReadonlyArray<A>, ReadonlyArray<O>, unknown> =>
  new t.Type<ReadonlyArray<A>, ReadonlyArray<O>, unknown>(
    name,
    (u): u is ReadonlyArray<A> => Array.isArray(u) && u.every((x) => element.is(x)),
    (u, c) => {
      if (!Array.isArray(u)) return t.failure(u, c)
      const errors: t.ValidationError[] = []
      const out: A[] = []
      for (let i = 0; i < u.length; i++) {
        const r = validateAt(element, u[i], c, `[${i}]`, element)
        if (E.isLeft(r)) errors.push(...r.left)
        else out.push(r.right)
      }
      return errors.length > 0 ? t.failures(errors) : t.success(out)
    },
    (a) => a.map((x) => element.encode(x)),
  )

/** Adds a check across fields of an already decoded value; `check` returns an error or nothing. */
export const refine = <A, O>(
  codec: t.Type<A, O, unknown>,
  check: (a: A) => { readonly path: string; readonly message: string; readonly value: unknown } | undefined,
): t.Type<A, O, unknown> =>
  new t.Type<A, O, unknown>(
    codec.name,
    (u): u is A => codec.is(u) && check(u) === undefined,
    (u, c) => {
      const r = codec.validate(u, c)
      if (E.isLeft(r)) return r
      const problem = check(r.right)
      if (problem === undefined) return r
      const context = problem.path.split('.').reduce<t.Context>((ctx, key) => t.appendContext(ctx, key, t.unknown, problem.value), c)
      return t.failure(problem.value, context, problem.message)
    },
    (a) => codec.encode(a),
  )

/** One readable validation problem: where, what was expected, what was given. */
export interface Problem {
  /** Where in the input: a dotted path (`trip.window.size`), empty for the whole. */
  readonly path: string
  /** What was wrong there, and what was expected. */
  readonly message: string
}

/** Renders any value for an error message; never throws (not even on a cyclic or prototype-less object). */
export const render = (value: unknown): string => {
  if (value === undefined) return 'nothing'
  if (typeof value === 'number') return String(value)
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'symbol') return 'a symbol'
  try {
    const json = JSON.stringify(value)
    if (json !== undefined) return json.length > 60 ? json.slice(0, 57) + '...' : json
  } catch {
    // cyclic, a BigInt inside, a throwing toJSON: fall through to a description
  }
  return Array.isArray(value) ? 'an array' : typeof value === 'object' && value !== null ? 'an object' : typeof value
}

const pathOf = (context: t.Context): string =>
  context
    .map((entry) => entry.key)
    .filter((key) => key !== '')
    .reduce((path, key) => (key.startsWith('[') || path === '' ? path + key : `${path}.${key}`), '')

/**
 * Turns io-ts errors into readable problems: `recovery.initialRate: expected a ratio in (0, 1],
 * got 1.5`. One problem per failing path, in input order.
 */
export const report = (errors: t.Errors): ReadonlyArray<Problem> => {
  const seen = new Set<string>()
  const problems: Problem[] = []
  for (const error of errors) {
    const path = pathOf(error.context)
    const last = error.context[error.context.length - 1]
    const text =
      error.message ??
      (error.value === undefined
        ? `missing (expected ${last?.type.name ?? 'a value'})`
        : `expected ${last?.type.name ?? 'a value'}, got ${render(error.value)}`)
    const line = `${path === '' ? '(root)' : path}: ${text}`
    if (seen.has(line)) continue
    seen.add(line)
    problems.push({ path, message: line })
  }
  return problems
}
