/**
 * A combinator the library does not ship, written as a user would: trips when at least `count`
 * of its members trip. Its members are any detector configs (built-in, composite, or this
 * example's own `ewma-latency`): the kind decodes them through the `BuildContext` it is given,
 * so problems inside them are reported at their place in the whole config.
 */
import {
  type BuildContext,
  type CompositeState,
  ConfigError,
  canonical,
  composite,
  type Detector,
  detectorKind,
  intIn,
  literal,
  problem,
  struct,
} from '@datapunk/breaker'
import * as t from 'io-ts'

/** `{ kind: 'at-least', count, detectors: [...] }` */
export const AtLeastConfig = struct('an at-least detector', { kind: literal('at-least'), count: intIn(1, 16), detectors: t.unknown })

/** Trips when at least `count` of `detectors` trip (each counts in its own state, as in `anyOf`). */
export const atLeast = (count: number, detectors: ReadonlyArray<Detector<unknown>>): Detector<CompositeState> => {
  if (count > detectors.length)
    throw new ConfigError([problem('count', `expected at most ${detectors.length} (one per member), got ${count}`)])
  const inner = composite('at-least', detectors, (n, tripped) => {
    let trips = 0
    for (let i = 0; i < n; i++) if (tripped(i) && ++trips >= count) return true
    return false
  })
  // The config names the count too, so the JSON reads back as it was written.
  const config = { kind: 'at-least', count, detectors: detectors.map((d) => d.config) }
  return { ...inner, config, key: canonical(config) }
}

export const atLeastKind = detectorKind({
  codec: AtLeastConfig,
  build: (c, ctx: BuildContext) => atLeast(c.count, ctx.detectors(c.detectors, 'detectors')),
})
