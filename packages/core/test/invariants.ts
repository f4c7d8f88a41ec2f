/**
 * The invariants every library strategy keeps, checked after every step of random event
 * sequences over random valid configs (PROPERTY_RUNS sequences per strategy family; 10,000 by
 * default, as CI runs them).
 */
import { type Admitted, type BreakerEvent, type CircuitStrategy, circuit, type Decision, type Snapshot } from '@datapunk/breaker'
import fc from 'fast-check'
import { it } from 'vitest'
import { type ScriptStep, script } from './arbitraries.js'

const NUM_RUNS = Number(process.env.PROPERTY_RUNS ?? 10_000)

class InvariantBroken extends Error {}
const check = (condition: boolean, what: string, detail?: unknown): void => {
  if (!condition) throw new InvariantBroken(`${what}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`)
}

const deepFreeze = <T>(value: T): T => {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

const isRate = (r: number | null): boolean => r === null || (r >= 0 && r <= 1)
const isCount = (n: number | null): boolean => n === null || (Number.isSafeInteger(n) && n >= 0)

const checkSnapshot = (s: Snapshot): void => {
  check(isRate(s.failureRate) && isRate(s.slowCallRate) && isRate(s.admitRate), 'rates stay in [0, 1] or null', s)
  check(isCount(s.calls) && isCount(s.failures) && isCount(s.slowCalls) && isCount(s.consecutiveFailures), 'counts are never negative', s)
  check(isCount(s.generation) && isCount(s.trips), 'generation and trips are counts', s)
  for (const d of s.detectors) {
    check(isRate(d.failureRate) && isRate(d.slowCallRate), 'detector rates stay in [0, 1] or null', d)
    check(
      isCount(d.calls) && isCount(d.failures) && isCount(d.slowCalls) && isCount(d.consecutiveFailures),
      'detector counts are never negative',
      d,
    )
    if (d.calls !== null)
      check((d.failures ?? 0) <= d.calls && (d.slowCalls ?? 0) <= d.calls, 'failures and slow calls never exceed calls', d)
  }
  const r = s.recovery
  if (r?.kind === 'classic')
    check(
      isCount(r.inFlight) && isCount(r.successes) && isCount(r.failures) && r.inFlight + r.successes + r.failures <= r.probes,
      'probe counts within permits',
      r,
    )
  if (r?.kind === 'gradual') {
    check(isRate(r.admitRate) && r.admitRate > 0, 'the ramp rate is in (0, 1]', r)
    check(
      isCount(r.inFlight) && isCount(r.stage.requests) && isCount(r.stage.admitted) && isCount(r.stage.calls) && isCount(r.stage.failures),
      'recovery counts are never negative',
      r,
    )
  }
}

/** Turns a script step into an event, taking the settled call out of `inFlight`. */
const toEvent = (step: Exclude<ScriptStep, { op: 'call' }>, inFlight: Admitted[]): BreakerEvent => {
  const take = (pick: number): Admitted => {
    if (inFlight.length === 0) return { _tag: 'Admitted', generation: pick % 5, probe: pick % 2 === 0 }
    const [ticket] = inFlight.splice(pick % inFlight.length, 1)
    return ticket as Admitted
  }
  switch (step.op) {
    case 'request':
      return { _tag: 'CallRequested' }
    case 'succeed':
      return { _tag: 'CallSucceeded', ticket: take(step.pick), latencyMs: step.latencyMs }
    case 'fail':
      return { _tag: 'CallFailed', ticket: take(step.pick), latencyMs: step.latencyMs }
    case 'cancel':
      return { _tag: 'CallCancelled', ticket: take(step.pick) }
    case 'tick':
      return { _tag: 'Ticked' }
    case 'forceOpen':
      return { _tag: 'ForcedOpen' }
    case 'disable':
      return { _tag: 'Disabled' }
    case 'reset':
      return { _tag: 'Reset' }
    case 'invalid':
      return { _tag: 'CallFailed', ticket: take(0), latencyMs: -1 }
  }
}

/** Runs a script, checking every invariant after every step; returns the decisions and final state. */
const run = (strategy: CircuitStrategy, steps: ReadonlyArray<ScriptStep>) => {
  let state = deepFreeze(strategy.initial(0))
  let now = 0
  const inFlight: Admitted[] = []
  const decisions: Decision[] = []
  // Our own count of the current gradual stage, to check the admission credit from outside.
  let stage = { key: '', requests: 0, admitted: 0, rate: 1 }
  // A `call` is a request and, if admitted, its outcome at once: two events.
  const events = (step: ScriptStep): Array<ScriptStep & { op: Exclude<ScriptStep['op'], 'call'> }> =>
    step.op === 'call'
      ? [
          { dt: step.dt, op: 'request' },
          { dt: 0, op: step.fail ? 'fail' : 'succeed', pick: -1, latencyMs: step.latencyMs },
        ]
      : [step]
  for (const step of steps.flatMap(events)) {
    now += step.dt
    // pick -1: the call just admitted, if the request before was admitted; otherwise nothing to settle.
    if ((step.op === 'succeed' || step.op === 'fail') && step.pick === -1 && decisions.at(-1)?._tag !== 'Admitted') continue
    const event = toEvent(
      step.op !== 'succeed' && step.op !== 'fail' ? step : { ...step, pick: step.pick === -1 ? inFlight.length - 1 : step.pick },
      inFlight,
    )
    const before = state
    const effectiveNow = Math.max(now, before.since)
    const [next, decision] = strategy.step(before, event, now)
    deepFreeze(next)
    decisions.push(decision)

    if (event._tag === 'CallRequested') {
      check(decision._tag === 'Admitted' || decision._tag === 'Rejected', 'a request is admitted or rejected', decision)
      if (before.phase === 'open' && (before.openUntil === null || effectiveNow < before.openUntil)) {
        check(decision._tag !== 'Admitted', 'never admits while open before openUntil', { before, now, decision })
      }
      if (decision._tag === 'Rejected' && decision.retryAfterMs !== null)
        check(decision.retryAfterMs >= 0, 'retryAfterMs is not negative', decision)
    } else {
      check(decision._tag === 'Recorded' || decision._tag === 'Ignored', 'only requests are admitted or rejected', decision)
    }
    if (decision._tag === 'Admitted') {
      check(decision.generation === next.generation, 'an admission carries the current generation', decision)
      check(decision.probe === (next.phase === 'half-open'), 'probes are admitted in half-open and only there', {
        decision,
        phase: next.phase,
      })
      inFlight.push(decision)
    }
    if (step.op === 'invalid')
      check(decision._tag === 'Ignored' && decision.reason === 'invalid-event', 'malformed events are ignored', decision)

    const snapshot = strategy.inspect(next)
    checkSnapshot(snapshot)
    if (snapshot.recovery?.kind === 'gradual' && event._tag === 'CallRequested') {
      const key = `${next.generation}/${snapshot.recovery.stage.startedAt}/${snapshot.recovery.admitRate}`
      if (key !== stage.key || snapshot.recovery.stage.requests === 1)
        stage = { key, requests: 0, admitted: 0, rate: snapshot.recovery.admitRate }
      stage.requests++
      if (decision._tag === 'Admitted') stage.admitted++
      check(stage.admitted <= stage.rate * stage.requests + 1, "a gradual stage admits at most its rate's share plus one request", stage)
    }

    const encoded = JSON.stringify(strategy.codec.encode(next))
    const decoded = strategy.codec.decode(JSON.parse(encoded))
    check(
      decoded._tag === 'Right' && JSON.stringify(strategy.codec.encode(decoded.right)) === encoded,
      'state round-trips through its codec',
      encoded,
    )
    check(decoded._tag === 'Right' && JSON.stringify(decoded.right) === JSON.stringify(next), 'the decoded state equals the state', encoded)
    state = next
  }
  return { decisions, state }
}

export const invariantsHold = (family: string, configs: fc.Arbitrary<Parameters<typeof circuit>[0]>) =>
  it(`${family}: step never throws or mutates, never admits while open, keeps rates in [0, 1] and counts >= 0, round-trips its state, and is deterministic`, () => {
    fc.assert(
      fc.property(configs, script, (config, steps) => {
        const strategy = circuit(config)
        const first = run(strategy, steps)
        const second = run(circuit(config), steps)
        check(JSON.stringify(first) === JSON.stringify(second), 'same inputs give the same outputs')
      }),
      { numRuns: NUM_RUNS },
    )
  })
