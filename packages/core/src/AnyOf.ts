import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { type AnyOfState, canonical, type Detector, type DetectorState, type StateCodec } from './Detector.js'

// ---- constructors ------------------------------------------------------------------------

/**
 * Trips when any of `detectors` trips; each counts in its own state. Combine, for instance, a
 * failure rate for busy periods with an absolute failure count for quiet ones.
 *
 * @example
 * import { anyOf, consecutiveFailures, failureRate } from '@datapunk/breaker'
 * const detector = anyOf([
 *   consecutiveFailures({ threshold: 5 }),
 *   failureRate({ threshold: 0.5, minimumCalls: 20, window: { kind: 'count', size: 100 } }),
 * ])
 * detector.tripped(detector.initial(0)) // false
 */
export const anyOf = (detectors: ReadonlyArray<Detector>): Detector<AnyOfState> => {
  const config = { kind: 'any-of' as const, detectors: detectors.map((d) => d.config) }
  const count = detectors.length
  const mapStates = (state: AnyOfState, f: (d: Detector, s: DetectorState) => DetectorState): AnyOfState => {
    let next: DetectorState[] | undefined
    for (let i = 0; i < count; i++) {
      const d = detectors[i]
      const s = state.detectors[i]
      if (d === undefined || s === undefined) continue
      const updated = f(d, s)
      if (updated !== s) {
        next ??= state.detectors.slice()
        next[i] = updated
      }
    }
    return next === undefined ? state : { kind: 'any-of', detectors: next }
  }
  const codec: StateCodec<AnyOfState> = {
    validate: (u, c) => {
      if (typeof u !== 'object' || u === null || (u as { kind?: unknown }).kind !== 'any-of')
        return t.failure(u, c, 'expected an any-of state')
      const states = (u as { detectors?: unknown }).detectors
      if (!Array.isArray(states) || states.length !== count) return t.failure(u, c, `expected ${count} detector states`)
      const out: DetectorState[] = []
      for (let i = 0; i < count; i++) {
        const d = detectors[i]
        if (d === undefined) return t.failure(u, c)
        const r = d.codec.validate(states[i], t.appendContext(c, `detectors[${i}]`, t.unknown, states[i]))
        if (E.isLeft(r)) return r
        out.push(r.right)
      }
      return t.success({ kind: 'any-of', detectors: out })
    },
    encode: (state) => ({ kind: 'any-of', detectors: state.detectors.map((s, i) => detectors[i]?.codec.encode(s) ?? s) }),
  }
  return {
    config,
    key: canonical(config),
    initial: (now) => ({ kind: 'any-of', detectors: detectors.map((d) => d.initial(now)) }),
    record: (state, failed, latencyMs, now) => mapStates(state, (d, s) => d.record(s, failed, latencyMs, now)),
    advance: (state, now) => mapStates(state, (d, s) => d.advance(s, now)),
    tripped: (state) => {
      for (let i = 0; i < count; i++) {
        const d = detectors[i]
        const s = state.detectors[i]
        if (d !== undefined && s !== undefined && d.tripped(s)) return true
      }
      return false
    },
    measure: (state) =>
      detectors.flatMap((d, i) => {
        const s = state.detectors[i]
        return s === undefined ? [] : d.measure(s)
      }),
    codec,
  }
}
