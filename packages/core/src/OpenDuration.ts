import type * as t from 'io-ts'
import { constrained, literal, Millis, PositiveMillis, refine, struct, tagged } from './codecs.js'

// ---- model -------------------------------------------------------------------------------

/** How long the circuit stays open after a trip. */
export type OpenForConfig = ConstantOpenFor | ExponentialOpenFor

/** The same duration after every trip. */
export interface ConstantOpenFor {
  readonly kind: 'constant'
  readonly ms: number
}

/**
 * `initialMs` after the first trip, multiplied by `multiplier` for each further trip without a
 * close in between, capped at `maxMs`. A close resets it.
 */
export interface ExponentialOpenFor {
  readonly kind: 'exponential'
  readonly initialMs: number
  readonly multiplier: number
  readonly maxMs: number
}

// ---- codecs ------------------------------------------------------------------------------

const Multiplier = constrained('a finite number >= 1', (n) => n >= 1 && n < Number.POSITIVE_INFINITY)

/** Config codec of the open duration; `multiplier` defaults to 2, and `maxMs` must be at least `initialMs`. */
export const OpenForConfig: t.Type<OpenForConfig, OpenForConfig, unknown> = tagged('an open duration', {
  constant: struct('a constant open duration', { kind: literal('constant'), ms: Millis }),
  exponential: refine(
    struct(
      'an exponential open duration',
      { kind: literal('exponential'), initialMs: PositiveMillis, maxMs: PositiveMillis },
      { multiplier: Multiplier },
      { multiplier: 2 as t.TypeOf<typeof Multiplier> },
    ),
    (c) =>
      c.maxMs < c.initialMs
        ? { path: 'maxMs', value: c.maxMs, message: `expected at least initialMs (${c.initialMs}), got ${c.maxMs}` }
        : undefined,
  ) as t.Type<ExponentialOpenFor, ExponentialOpenFor, unknown>,
})

// ---- constructors ------------------------------------------------------------------------

/**
 * The open duration for the `trips`-th consecutive trip (1 for the first).
 *
 * @example
 * import { openDuration } from '@datapunk/breaker'
 * const backoff = { kind: 'exponential', initialMs: 1000, multiplier: 2, maxMs: 5000 } as const
 * ;[1, 2, 3, 4].map((trips) => openDuration(backoff, trips)) // [1000, 2000, 4000, 5000]
 */
export const openDuration = (config: OpenForConfig, trips: number): number =>
  config.kind === 'constant' ? config.ms : Math.min(config.maxMs, config.initialMs * config.multiplier ** Math.max(0, trips - 1))
