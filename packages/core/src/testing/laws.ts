/**
 * The laws every built-in part passes, for you to run on yours: `checkDetectorLaws(detector)` and
 * `checkStrategyLaws(strategy)` drive a part through random sequences (fast-check) and throw an
 * `Error` naming the broken law and the shortest sequence that breaks it. Run them in your test
 * runner: `it('keeps the laws', () => checkDetectorLaws(myDetector))`.
 */
import fc from 'fast-check'
import * as t from 'io-ts'
import type { Admitted, Decision } from '../Decision.js'
import { carryDetectorState, type Detector, type DetectorSnapshot, detectorHandoff } from '../Detector.js'
import type { Snapshot, Strategy } from '../Strategy.js'
import { handoffOf } from '../Swap.js'
import { type DetectorStep, detectorScript, eventOf, type StrategyStep, strategyScript } from './arbitraries.js'

/** Options of the law checks. */
export interface LawOptions {
  /** Random sequences to try. Default 200. */
  readonly numRuns?: number
  /** fast-check's seed, to replay a failure it reported. */
  readonly seed?: number
}

class LawBroken extends Error {
  override readonly name = 'LawBroken'
}

const law = (condition: boolean, what: string, detail?: unknown): void => {
  if (!condition) throw new LawBroken(`${what}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`)
}

/** Freezes `value` and everything it holds, so a part that mutates its input throws. */
export const deepFreeze = <T>(value: T): T => {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

/** A rate a snapshot may report: in [0, 1], or `null` (not known). */
export const isRate = (r: number | null): boolean => r === null || (r >= 0 && r <= 1)
/** A count a snapshot may report: a whole number, never negative, or `null`. */
export const isCount = (n: number | null): boolean => n === null || (Number.isSafeInteger(n) && n >= 0)

const checkDetectorSnapshot = (d: DetectorSnapshot): void => {
  law(typeof d.kind === 'string' && d.kind.length > 0, 'every measure entry names its kind', d)
  law(isRate(d.failureRate) && isRate(d.slowCallRate), 'rates stay in [0, 1] or null', d)
  law(isCount(d.calls) && isCount(d.failures) && isCount(d.slowCalls) && isCount(d.consecutiveFailures), 'counts are never negative', d)
  if (d.calls !== null) law((d.failures ?? 0) <= d.calls && (d.slowCalls ?? 0) <= d.calls, 'failures and slow calls never exceed calls', d)
  for (const [name, value] of Object.entries(d.figures ?? {}))
    law(value === null || Number.isFinite(value), 'figures are finite numbers or null', { name, value })
}

const checkSnapshot = (s: Snapshot): void => {
  law(isRate(s.failureRate) && isRate(s.slowCallRate) && isRate(s.admitRate), 'rates stay in [0, 1] or null', s)
  law(
    isCount(s.calls) && isCount(s.failures) && isCount(s.generation) && isCount(s.trips) && isCount(s.inFlight),
    'counts are never negative',
    s,
  )
  for (const d of s.detectors) checkDetectorSnapshot(d)
}

/** Encoded, through JSON and decoded: the same encoding (the state round-trips through its codec). */
const roundTrips = <S>(codec: { encode(s: S): unknown; validate(u: unknown, c: t.Context): t.Validation<S> }, state: S): void => {
  const encoded = JSON.stringify(codec.encode(state))
  const decoded = codec.validate(JSON.parse(encoded), t.getDefaultContext(t.unknown))
  law(decoded._tag === 'Right', 'the state decodes from its own encoding', encoded)
  if (decoded._tag === 'Right')
    law(JSON.stringify(codec.encode(decoded.right)) === encoded, 'the state round-trips through its codec', encoded)
}

/** Runs the property; on failure throws an `Error` that leads with the broken law, then the shrunk counterexample and how to replay it. */
const run = <T>(what: string, arbitrary: fc.Arbitrary<T>, check: (value: T) => void, options: LawOptions): void => {
  const details = fc.check(
    fc.property(arbitrary, (value) => {
      check(value)
    }),
    { numRuns: options.numRuns ?? 200, ...(options.seed === undefined ? {} : { seed: options.seed }) },
  )
  if (!details.failed) return
  const cause = details.errorInstance
  const broken = cause instanceof Error ? cause.message : String(cause)
  throw new Error(
    `${what} broke a law: ${broken}\nshortest sequence: ${fc.stringify(details.counterexample)}\nreplay with { seed: ${details.seed} }`,
    { cause },
  )
}

/** The calls a detector's measure entries hold, summed (entries without a window count none). */
const callsOf = (entries: ReadonlyArray<DetectorSnapshot>): number => entries.reduce((sum, d) => sum + (d.calls ?? 0), 0)

/**
 * Checks a detector against the laws every built-in detector keeps, over random sequences of
 * outcomes (successes, failures, latencies from 0 to minutes), time passing, clock jumps back
 * (through `rebase`, if it has one) and swaps: no method throws or mutates its input (states are
 * frozen); `measure` reports rates in [0, 1] or null, counts that are whole and never negative,
 * failures and slow calls never above calls, finite figures; the state round-trips through its
 * codec at every step; the same sequence gives the same states; a swap to a detector with the
 * same config keeps what it counted (the hand-off carries the state); and a detector that counts
 * calls still running (`overdue`) counts a call reported overdue once.
 *
 * @example
 * import { consecutiveFailures } from '@datapunk/breaker'
 * import { checkDetectorLaws } from '@datapunk/breaker/testing'
 * checkDetectorLaws(consecutiveFailures({ threshold: 3 }), { numRuns: 20 }) // throws if a law breaks
 * const broken = { ...consecutiveFailures({ threshold: 3 }), measure: () => [{ kind: 'x', calls: -1, failures: null, slowCalls: null, failureRate: null, slowCallRate: null, consecutiveFailures: null }] }
 * let message = ''
 * try { checkDetectorLaws(broken, { numRuns: 20 }) } catch (error) { message = (error as Error).message }
 * message.split('\n')[0]?.includes('counts are never negative') // true
 */
export const checkDetectorLaws = <S>(detector: Detector<S>, options: LawOptions = {}): void => {
  const replay = (steps: ReadonlyArray<DetectorStep>): S[] => {
    let now = 0
    let state = deepFreeze(detector.initial(now))
    const states: S[] = [state]
    for (const step of steps) {
      now = step.op === 'jump-back' ? now - step.ms : now + step.dt
      const before = state
      switch (step.op) {
        case 'record': {
          state = detector.record(before, step.failed, step.latencyMs, now)
          const after = detector.overdueAfterMs
          // Every other slow enough call was reported still running first: it counts once all the same.
          if (detector.overdue !== undefined && after !== undefined && step.latencyMs >= after && step.dt % 2 === 0) {
            const early = deepFreeze(detector.overdue(before, after, now))
            const once = detector.record(early, step.failed, step.latencyMs, now, after)
            law(callsOf(detector.measure(once)) === callsOf(detector.measure(state)), 'a call reported overdue counts once', step)
            state = once
          }
          break
        }
        case 'advance':
          state = detector.advance(before, now)
          break
        case 'jump-back':
          state = detector.rebase === undefined ? detector.initial(now) : detector.rebase(before, -step.ms, now)
          break
        case 'swap': {
          // A swap to a detector of the same config keeps what was counted.
          const carried = carryDetectorState(deepFreeze(detectorHandoff(detector as Detector<unknown>, before)), detector, now)
          law(
            JSON.stringify(detector.measure(carried)) === JSON.stringify(detector.measure(before)),
            'a swap to the same config keeps what it counted',
          )
          state = carried
          break
        }
      }
      state = deepFreeze(state)
      for (const d of detector.measure(state)) checkDetectorSnapshot(d)
      law(typeof detector.tripped(state) === 'boolean', 'tripped answers true or false')
      roundTrips(detector.codec, state)
      states.push(state)
    }
    return states
  }
  run(
    `detector ${detector.kind}`,
    detectorScript,
    (steps) => {
      const first = replay(steps).map((s) => JSON.stringify(detector.codec.encode(s)))
      const second = replay(steps).map((s) => JSON.stringify(detector.codec.encode(s)))
      law(first.join('\n') === second.join('\n'), 'the same sequence gives the same states (no clock, no randomness inside)')
    },
    options,
  )
}

/**
 * Checks a strategy against the laws every built-in strategy keeps, over random sequences of
 * requests, outcomes (of admitted tickets, and forged or stale ones), ticks, manual commands and
 * time jumps: `step` never throws or mutates its input; it never admits while open before
 * `openUntil`; every snapshot's rates are in [0, 1] or null and its counts whole and never
 * negative; the state round-trips through its codec at every step; and, where the strategy hands
 * off, its hand-off is plain data (adopting it after a trip through JSON gives the same state).
 *
 * @example
 * import { circuit } from '@datapunk/breaker'
 * import { checkStrategyLaws } from '@datapunk/breaker/testing'
 * let kept = true
 * try { checkStrategyLaws(circuit({ trip: { kind: 'consecutive-failures', threshold: 2 } }), { numRuns: 20 }) } catch { kept = false }
 * kept // true
 */
export const checkStrategyLaws = <S>(strategy: Strategy<S>, options: LawOptions = {}): void => {
  run(
    `strategy ${strategy.name}`,
    strategyScript,
    (steps: ReadonlyArray<StrategyStep>) => {
      let now = 0
      let state = deepFreeze(strategy.initial(now))
      const admitted: Admitted[] = []
      for (const step of steps) {
        now += step.dt
        const before = strategy.inspect(state)
        const event = eventOf(step, admitted)
        const [next, decision]: readonly [S, Decision] = strategy.step(state, event, now)
        if (decision._tag === 'Admitted') {
          law(
            !(before.state === 'open' && (before.openUntil === null || now < before.openUntil)),
            'never admits while open before its time',
            { before, now },
          )
          admitted.push(decision)
        }
        state = deepFreeze(next)
        checkSnapshot(strategy.inspect(state))
        roundTrips(strategy.codec, state)
      }
      if (strategy.handoff !== undefined && strategy.adopt !== undefined) {
        const handoff = handoffOf(strategy, state, now)
        const revived = JSON.parse(JSON.stringify(handoff)) as typeof handoff
        const direct = strategy.codec.encode(strategy.adopt(handoff, now + 1))
        const throughJson = strategy.codec.encode(strategy.adopt(revived, now + 1))
        law(JSON.stringify(direct) === JSON.stringify(throughJson), 'the hand-off is plain data: adopted through JSON, the same state')
      }
    },
    options,
  )
}
