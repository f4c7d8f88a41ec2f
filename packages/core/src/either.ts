/**
 * The few `Either` functions the core calls, written here so that importing the core does not load
 * fp-ts's modules through Node's ES-module/CommonJS bridge (its lexer parses each one: ~50 ms of a
 * cold import, for four functions). The values are fp-ts's own `Either` (`{ _tag: 'Left', left }`,
 * `{ _tag: 'Right', right }`), so fp-ts and io-ts take them and give them back unchanged.
 */
import type { Either, Left, Right } from 'fp-ts/lib/Either.js'

export type { Either } from 'fp-ts/lib/Either.js'

/** fp-ts's `left`. */
export const left = <E = never, A = never>(e: E): Either<E, A> => ({ _tag: 'Left', left: e })
/** fp-ts's `right`. */
export const right = <E = never, A = never>(a: A): Either<E, A> => ({ _tag: 'Right', right: a })
/** fp-ts's `isLeft`. */
export const isLeft = <E, A>(ma: Either<E, A>): ma is Left<E> => ma._tag === 'Left'
/** fp-ts's `isRight`. */
export const isRight = <E, A>(ma: Either<E, A>): ma is Right<A> => ma._tag === 'Right'
/** fp-ts's `map`. */
export const map =
  <A, B>(f: (a: A) => B) =>
  <E>(fa: Either<E, A>): Either<E, B> =>
    isLeft(fa) ? fa : right(f(fa.right))
/** fp-ts's `mapLeft`. */
export const mapLeft =
  <E, G>(f: (e: E) => G) =>
  <A>(fa: Either<E, A>): Either<G, A> =>
    isLeft(fa) ? left(f(fa.left)) : fa
