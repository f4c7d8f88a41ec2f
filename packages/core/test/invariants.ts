/**
 * The invariants every library strategy keeps, checked after every step of random event
 * sequences over random valid configs (PROPERTY_RUNS sequences per strategy family; 10,000 by
 * default, as CI runs them). The sequences include clock jumps (an hour back or forward, 1e15),
 * invalid times, manual transitions and isolations.
 */
import {
  type Admitted,
  type BreakerEvent,
  type CircuitConfigInput,
  type CircuitData,
  type CircuitStrategy,
  type ClassicHalfOpenSnapshot,
  circuit,
  type Decision,
  type Evidence,
  type GradualRecoverySnapshot,
  inPlaceStep,
  Limits,
  type Snapshot,
  swapStrategy,
  type Ticket,
} from '@datapunk/breaker'
import fc from 'fast-check'
import { it } from 'vitest'
import { deepFreeze, isCount, isRate } from '../src/testing/laws.js'
import { MANUAL_OPEN_MAX_MS, type ScriptStep, script } from './arbitraries.js'

export const NUM_RUNS = Number(process.env.PROPERTY_RUNS ?? 10_000)

class InvariantBroken extends Error {}
const check = (condition: boolean, what: string, detail?: unknown): void => {
  if (!condition) throw new InvariantBroken(`${what}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`)
}

/** What JSON leaves out of an object (and writes as `null` in an array). */
const absent = (v: unknown): boolean => v === undefined || typeof v === 'function' || typeof v === 'symbol'
/** What JSON writes as `null`. */
const nullish = (v: unknown): boolean => v === null || (typeof v === 'number' && !Number.isFinite(v))

/**
 * Whether `a` and `b` are the same data as JSON sees it (`JSON.stringify` of each would read the
 * same, but for the order of an object's keys, which data does not have), without writing either
 * out: states are compared after every step, and writing them out as text took most of the time
 * of these suites.
 */
export const sameJson = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (nullish(a) || nullish(b)) return nullish(a) && nullish(b)
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) {
      const x: unknown = a[i]
      const y: unknown = b[i]
      // The same value (most of a state's numbers) reads the same: no call for it.
      if (x !== y && !sameJson(absent(x) ? null : x, absent(y) ? null : y)) return false
    }
    return true
  }
  const ra = a as Record<string, unknown>
  const rb = b as Record<string, unknown>
  // The states are plain objects: `for...in` sees their own keys, without an array of them.
  let keys = 0
  for (const k in ra) {
    const x = ra[k]
    if (absent(x)) continue
    keys++
    const y = rb[k]
    if (x !== y && (absent(y) || !sameJson(x, y))) return false
  }
  for (const k in rb) if (!absent(rb[k])) keys--
  return keys === 0
}

/** The most levels `throughJson` copies itself; deeper values (or a cycle) go through JSON itself. */
const MAX_COPY_DEPTH = 64

/**
 * What JSON text keeps of `v`: the value `JSON.parse(JSON.stringify(v))` gives back, without
 * writing the text. Writing the numbers of a state out and reading them back was four fifths of
 * that round trip's time (7.0 us against 1.5 us for an 820-character circuit state). Plain data
 * (numbers, strings, booleans, null, arrays and objects of Object's prototype or none) is copied
 * here as JSON would give it back: `-0` as `0`, a number that is not finite as `null`, `undefined`
 * and functions left out of objects and `null` in arrays. Anything else (a `toJSON`, another
 * prototype, a bigint, a `__proto__` key, `undefined` alone, more than 64 levels) goes through
 * JSON itself, errors included. `sameJson.test.ts` checks it against JSON on any value.
 */
export const throughJson = (v: unknown): unknown => {
  const copy = plainCopy(v, 0)
  return copy === NOT_PLAIN ? JSON.parse(JSON.stringify(v) as string) : copy
}

const NOT_PLAIN: unique symbol = Symbol('not plain')

const plainCopy = (v: unknown, depth: number): unknown => {
  switch (typeof v) {
    case 'number':
      return Number.isFinite(v) ? (v === 0 ? 0 : v) : null
    case 'string':
    case 'boolean':
      return v
    case 'object':
      break
    default:
      return NOT_PLAIN
  }
  if (v === null) return null
  if (depth >= MAX_COPY_DEPTH || typeof (v as { toJSON?: unknown }).toJSON === 'function') return NOT_PLAIN
  if (Array.isArray(v)) {
    if (Object.getPrototypeOf(v) !== Array.prototype) return NOT_PLAIN
    const out: unknown[] = new Array(v.length)
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i]
      const copy = absent(x) ? null : plainCopy(x, depth + 1)
      if (copy === NOT_PLAIN) return NOT_PLAIN
      out[i] = copy
    }
    return out
  }
  const proto: unknown = Object.getPrototypeOf(v)
  if (proto !== Object.prototype && proto !== null) return NOT_PLAIN
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k]
    if (absent(x)) continue
    if (k === '__proto__') return NOT_PLAIN
    const copy = plainCopy(x, depth + 1)
    if (copy === NOT_PLAIN) return NOT_PLAIN
    out[k] = copy
  }
  return out
}

/**
 * A spare copy of a state, not frozen, for the in-place twin to run on: the state its codec decoded
 * when it was checked (the same data in objects of its own), used once; otherwise a copy by way of
 * JSON (the codec's contract: a state is plain data).
 */
const spares = new WeakMap<CircuitData, CircuitData>()
const copyOf = (state: CircuitData): CircuitData => {
  const spare = spares.get(state)
  if (spare === undefined) return throughJson(state) as CircuitData
  spares.delete(state)
  return spare
}

const checkSnapshot = (s: Snapshot): void => {
  check(isRate(s.failureRate) && isRate(s.slowCallRate) && isRate(s.admitRate), 'rates stay in [0, 1] or null', s)
  check(isCount(s.calls) && isCount(s.failures) && isCount(s.slowCalls) && isCount(s.consecutiveFailures), 'counts are never negative', s)
  check(isCount(s.generation) && isCount(s.trips) && isCount(s.inFlight), 'generation, trips and calls in flight are counts', s)
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
  if (r?.kind === 'classic') {
    const c = r as ClassicHalfOpenSnapshot
    check(
      isCount(c.inFlight) && isCount(c.successes) && isCount(c.failures) && c.inFlight + c.successes + c.failures <= c.probes,
      'probe counts within permits',
      r,
    )
  }
  if (r?.kind === 'gradual') {
    const g = r as GradualRecoverySnapshot
    check(isRate(g.admitRate) && g.admitRate > 0, 'the ramp rate is in (0, 1]', r)
    check(
      isCount(g.inFlight) && isCount(g.stage.requests) && isCount(g.stage.admitted) && isCount(g.stage.calls) && isCount(g.stage.failures),
      'recovery counts are never negative',
      r,
    )
  }
}

/** A script step's time: `now` after the step (times may jump back and forth). */
type Op = Exclude<ScriptStep['op'], 'call' | 'swap' | 'evidence'>

/** Turns a script step into an event, taking the settled call out of `inFlight`. */
const toEvent = (step: ScriptStep & { op: Op }, inFlight: Admitted[], isolations: number[]): BreakerEvent => {
  const take = (pick: number): Admitted => {
    if (inFlight.length === 0) return { _tag: 'Admitted', generation: pick % 5, id: pick % 7, probe: pick % 2 === 0 }
    const [ticket] = inFlight.splice(pick % inFlight.length, 1)
    return ticket as Admitted
  }
  switch (step.op) {
    case 'request':
      return { _tag: 'CallRequested' }
    case 'succeed': {
      // Some outcomes say the call was reported overdue (one in four), a few with a time that is no time at all.
      const overdueMs = step.pick % 4 === 1 ? step.latencyMs / 2 : step.pick % 13 === 2 ? -1 : undefined
      const ticket = take(step.pick)
      return overdueMs === undefined
        ? { _tag: 'CallSucceeded', ticket, latencyMs: step.latencyMs }
        : { _tag: 'CallSucceeded', ticket, latencyMs: step.latencyMs, overdueMs }
    }
    case 'fail': {
      // Some failures carry a retry hint (one in three), a few a hint that is no hint at all.
      const hint = step.pick % 3 === 0 ? step.latencyMs * 7 : step.pick % 11 === 1 ? Number.NaN : undefined
      const overdueMs = step.pick % 4 === 1 ? step.latencyMs : undefined
      const ticket = take(step.pick)
      return hint === undefined
        ? overdueMs === undefined
          ? { _tag: 'CallFailed', ticket, latencyMs: step.latencyMs }
          : { _tag: 'CallFailed', ticket, latencyMs: step.latencyMs, overdueMs }
        : { _tag: 'CallFailed', ticket, latencyMs: step.latencyMs, retryAfterMs: hint }
    }
    case 'overdue': {
      // A call in flight (left there: it is still running), or a ticket nobody holds.
      const ticket = inFlight[step.pick % Math.max(1, inFlight.length)] ?? {
        _tag: 'Admitted',
        generation: 0,
        id: step.pick % 7,
        probe: false,
      }
      return { _tag: 'CallOverdue', ticket, elapsedMs: step.latencyMs }
    }
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
    case 'halfOpen':
      return { _tag: 'HalfOpenCommanded' }
    case 'close':
      return { _tag: 'CloseCommanded' }
    case 'isolate':
      return { _tag: 'IsolationRequested' }
    case 'openFor':
      return { _tag: 'OpenCommanded', forMs: step.ms }
    case 'release':
      return { _tag: 'IsolationReleased', id: isolations.length === 0 ? step.pick % 3 : (isolations[step.pick % isolations.length] ?? 0) }
    case 'invalid':
    case 'invalid-time':
      return { _tag: 'CallFailed', ticket: take(0), latencyMs: -1 }
    case 'peerTripped':
      return { _tag: 'PeerTripped' }
    case 'peerRecovered':
      return { _tag: 'PeerRecovered' }
    case 'follow':
      return { _tag: 'RecoveryFollowed', rate: step.rate }
  }
}

/**
 * The rest of a fleet, as evidence: what this replica shares, scaled, with `failShare` of the
 * calls failed, moved by `shift` buckets, and with junk entries that must be ignored.
 */
const fleetEvidence = (own: ReadonlyArray<Evidence>, step: ScriptStep & { op: 'evidence' }): BreakerEvent => {
  const evidence: Array<unknown> = own.map((e) => ({
    key: e.key,
    bucketMs: e.bucketMs,
    span: e.span,
    buckets: e.buckets.map(([epoch, calls, failures, slow]) => {
      const c = calls * step.scale
      return [epoch + step.shift, c, Math.min(c, Math.round(c * step.failShare) + failures), Math.min(c, slow * step.scale)]
    }),
  }))
  if (step.junk)
    evidence.push({ key: own[0]?.key ?? 'x', bucketMs: own[0]?.bucketMs ?? 1, buckets: [[0, 1, 2, 0]] }, { key: 7, buckets: 'no' }, null, {
      key: own[0]?.key ?? 'x',
      bucketMs: Number.NaN,
      buckets: [],
    })
  return { _tag: 'EvidenceReceived', evidence: evidence as ReadonlyArray<Evidence> }
}

/** A call is a request and, if admitted, its outcome at once: two events. */
const expand = (step: ScriptStep): Array<ScriptStep & { op: Exclude<ScriptStep['op'], 'call'> }> =>
  step.op === 'call'
    ? [
        { dt: step.dt, op: 'request' },
        { dt: 0, op: step.fail ? 'fail' : 'succeed', pick: -1, latencyMs: step.latencyMs },
      ]
    : [step]

/** Junk to slip in before an event: an outcome or cancel no admission allows. */
export type Junk = {
  readonly kind: 'forged' | 'future' | 'stale' | 'duplicate'
  readonly outcome: 'succeed' | 'fail' | 'cancel'
  readonly pick: number
}

const junkTicket = (state: CircuitData, junk: Junk, settled: ReadonlyArray<Admitted>): Ticket | undefined => {
  const generation = state.phase.generation
  switch (junk.kind) {
    case 'forged':
      return { generation, id: state.issued + (junk.pick % 3), probe: junk.pick % 2 === 0 }
    case 'future':
      return { generation: generation + 1 + (junk.pick % 3), id: junk.pick % 4, probe: false }
    case 'stale': {
      const old = settled.filter((t) => t.generation < generation)
      return old.length === 0 ? undefined : old[junk.pick % old.length]
    }
    case 'duplicate': {
      // One outcome per admission is the contract while closed: the state keeps O(1) there, so a
      // duplicate is harmless only when no call is in flight. In half-open every probe is known.
      const phase = state.phase.state
      if (phase === 'closed' && state.inFlight > 0) return undefined
      const same = settled.filter((t) => t.generation === generation)
      return same.length === 0 ? undefined : same[junk.pick % same.length]
    }
  }
}

interface RunOptions {
  /** Junk to insert before the i-th event, if any. */
  readonly junkAt?: (i: number) => Junk | undefined
  /** Check every invariant after every step (off when only comparing decisions). */
  readonly checks: boolean
}

/**
 * The in-place twin (see `InPlaceStep`), run on a copy of the state `step` just took: it either
 * declines, leaving the copy as it was, or gives the same decision and leaves the copy equal to the
 * state `step` returned. (The states here are frozen: the twin, run on one, would throw.)
 */
const checkInPlace = (
  strategy: CircuitStrategy,
  before: CircuitData,
  event: BreakerEvent,
  time: number,
  decision: Decision,
  next: CircuitData,
): void => {
  const inPlace = inPlaceStep(strategy)
  if (inPlace === undefined) return
  const copy = copyOf(before)
  const answer = inPlace(copy, event, time)
  if (answer === undefined) {
    check(sameJson(copy, before), 'an in-place step it declines leaves the state untouched', { event })
    if (!spares.has(before)) spares.set(before, copy)
    return
  }
  inPlaceSteps++
  check(sameJson(answer, decision), 'the in-place step decides as step does', { event, answer, decision })
  check(sameJson(copy, next), 'the in-place step leaves the state step returns', { event, copy, next })
  // The copy is now `next`'s data: the spare of a state that did not change, or of one the codec has not checked yet.
  if (!spares.has(next)) spares.set(next, copy)
}

/**
 * A state round-trips through its codec (by way of what JSON keeps of it, as a store would keep
 * it: `throughJson`), and decodes to itself. (Encoding the decoded state again would give the same
 * text: `encode` is a function of the state's data, and the decoded state's data is the state's.)
 * The decoded state is kept as the state's spare copy.
 */
const roundTrips = (strategy: CircuitStrategy, state: CircuitData): void => {
  const encoded = strategy.codec.encode(state)
  const decoded = strategy.codec.decode(throughJson(encoded))
  if (decoded._tag !== 'Right') check(false, 'state round-trips through its codec', { encoded, decoded })
  else if (!sameJson(decoded.right, state)) check(false, 'the decoded state equals the state', encoded)
  else spares.set(state, decoded.right)
}

/** How many steps the in-place twin took (a test checks the twin is exercised at all). */
export let inPlaceSteps = 0

/** Runs a script, checking every invariant after every step; returns the decisions and final state. */
export const run = (
  strategy: CircuitStrategy,
  steps: ReadonlyArray<ScriptStep>,
  options: RunOptions = { checks: true },
  other?: CircuitStrategy,
) => {
  let state = deepFreeze(strategy.initial(0))
  let current = strategy
  let now = 0
  const inFlight: Admitted[] = []
  const settled: Admitted[] = []
  const isolations: number[] = []
  const decisions: Decision[] = []
  const pair = other === undefined ? [strategy] : [strategy, other]
  // Bounds that hold whichever strategy of the pair is in use (a swap keeps what the other admitted).
  const maxOpenMs = Math.max(...pair.map((s) => s.openFor.maxMs), MANUAL_OPEN_MAX_MS)
  // A learned probe limit is twice the peak the state carries (at least the default): checked per state.
  const fixedProbes = Math.max(
    ...pair.map((s) => (s.maxProbesInFlight === 'learned' ? Limits.defaultMaxProbesInFlight : s.maxProbesInFlight)),
  )
  const learnsProbes = pair.some((s) => s.maxProbesInFlight === 'learned')
  // Our own count of the current gradual stage, to check the admission credit from outside.
  let stage = { key: '', requests: 0, admitted: 0, rate: 1 }
  let index = 0
  if (options.checks) roundTrips(current, state)
  for (const step of steps.flatMap(expand)) {
    now += step.dt
    // pick -1: the call just admitted, if the request before was admitted; otherwise nothing to settle.
    if ((step.op === 'succeed' || step.op === 'fail') && step.pick === -1 && decisions.at(-1)?._tag !== 'Admitted') continue
    const junk = options.junkAt?.(index++)
    if (junk !== undefined) {
      const ticket = junkTicket(state, junk, settled)
      if (ticket !== undefined) {
        const event: BreakerEvent =
          junk.outcome === 'cancel'
            ? { _tag: 'CallCancelled', ticket }
            : { _tag: junk.outcome === 'fail' ? 'CallFailed' : 'CallSucceeded', ticket, latencyMs: 5 }
        const [next, decision] = current.step(state, event, now)
        checkInPlace(current, state, event, now, decision, next)
        check(decision._tag === 'Ignored' && next === state, 'a duplicate, forged or stale outcome changes nothing', {
          junk,
          ticket,
          decision,
          state,
        })
      }
    }
    if (step.op === 'swap') {
      if (other === undefined) continue
      const next = current === strategy ? other : strategy
      const moved = deepFreeze(swapStrategy(current, state, next, now))
      current = next
      state = moved
      if (!options.checks) continue
      // A swapped state round-trips through the new codec.
      roundTrips(current, moved)
      checkSnapshot(current.inspect(moved))
      continue
    }
    const pickedStep =
      step.op === 'succeed' || step.op === 'fail' ? { ...step, pick: step.pick === -1 ? inFlight.length - 1 : step.pick } : step
    const event =
      pickedStep.op === 'evidence' ? fleetEvidence(current.share?.(state) ?? [], pickedStep) : toEvent(pickedStep, inFlight, isolations)
    const time = step.op === 'invalid-time' ? Number.NaN : now
    const before = state
    const [next, decision] = current.step(before, event, time)
    deepFreeze(next)
    if (options.checks) checkInPlace(current, before, event, time, decision, next)
    decisions.push(decision)
    if (decision._tag === 'Admitted') inFlight.push(decision)
    const settling = event._tag === 'CallSucceeded' || event._tag === 'CallFailed' || event._tag === 'CallCancelled'
    if (settling && decision._tag === 'Recorded') settled.push(event.ticket as Admitted)
    if (decision._tag === 'Isolated') isolations.push(decision.id)
    if (event._tag === 'IsolationReleased' && decision._tag === 'Recorded') isolations.splice(isolations.indexOf(event.id), 1)
    if (event._tag === 'Reset' || event._tag === 'Disabled') isolations.length = 0
    state = next
    if (!options.checks) continue

    check(decision._tag !== 'Ignored' || next === before, 'an ignored event leaves the state as it was', decision)
    if (step.op === 'invalid-time')
      check(decision._tag === 'Ignored' && decision.reason === 'invalid-time', 'a time that is not a finite number is ignored', decision)
    if (step.op === 'invalid')
      check(decision._tag === 'Ignored' && decision.reason === 'invalid-event', 'malformed events are ignored', decision)
    if (event._tag === 'CallRequested') {
      check(decision._tag === 'Admitted' || decision._tag === 'Rejected', 'a request is admitted or rejected', decision)
      const ph = before.phase
      const effectiveNow = now < before.clock - Limits.clockToleranceMs ? now : Math.max(now, before.clock)
      // After a jump back the phase is rebased: the remaining wait is kept, measured from `now`.
      const remaining =
        ph.openUntil === null
          ? null
          : now < before.clock - Limits.clockToleranceMs
            ? ph.openUntil - before.clock
            : ph.openUntil - effectiveNow
      if (ph.state === 'open' && (remaining === null || remaining > 0)) {
        check(decision._tag !== 'Admitted', 'never admits while open before openUntil', { before, now, decision })
      }
      // A follower of the fleet's recovery at share 0 sends nothing: only the leader probes.
      if (ph.state === 'half-open' && ph.follow?.ratePpm === 0 && now >= before.clock - Limits.clockToleranceMs) {
        check(decision._tag !== 'Admitted', 'a follower at share 0 never admits', { before, now, decision })
      }
      if (decision._tag === 'Rejected' && decision.reason === 'open') {
        check(
          next.phase.openUntil !== null && decision.retryAfterMs === next.phase.openUntil - now,
          'retryAfterMs is the true wait on the caller clock',
          { decision, now, openUntil: next.phase.openUntil },
        )
      }
      if (decision._tag === 'Rejected' && decision.retryAfterMs !== null)
        check(decision.retryAfterMs >= 0, 'retryAfterMs is not negative', decision)
    } else if (event._tag === 'IsolationRequested') {
      check(decision._tag === 'Isolated', 'an isolation request is answered with its id', decision)
    } else {
      check(decision._tag === 'Recorded' || decision._tag === 'Ignored', 'only requests are admitted or rejected', decision)
    }
    if (decision._tag !== 'Ignored' && next.phase.state === 'open' && next.phase.openUntil !== null) {
      check(
        next.phase.openUntil - now <= maxOpenMs + Limits.clockToleranceMs,
        'no clock jump keeps a circuit open longer than its open duration on the caller clock',
        { now, phase: next.phase, maxOpenMs },
      )
    }
    if (decision._tag === 'Admitted') {
      check(decision.generation === next.phase.generation, 'an admission carries the current generation', decision)
      check(decision.id === next.issued - 1, 'admissions are numbered in order', { decision, issued: next.issued })
      check(decision.probe === (next.phase.state === 'half-open'), 'probes are admitted in half-open and only there', {
        decision,
        phase: next.phase.state,
      })
    }
    if (next.phase.state === 'half-open') {
      const allowed = learnsProbes ? Math.max(fixedProbes, 2 * next.phase.peakInFlight) : fixedProbes
      check(next.inFlight <= allowed, 'never more probes in flight than allowed', { inFlight: next.inFlight, allowed })
      const grown = next.phase.peakInFlight !== before.phase.peakInFlight
      if (before.phase.state === 'half-open' && next.phase.generation === before.phase.generation && grown) {
        const ticket = (event as { readonly ticket?: { readonly id?: unknown } }).ticket
        const newRound = event._tag === 'CallSucceeded' && typeof ticket?.id === 'number' && ticket.id >= before.phase.growsFrom
        const { peakInFlight: was } = before.phase
        check(
          learnsProbes && newRound && next.phase.peakInFlight > was && next.phase.peakInFlight <= Math.max(2 * was, fixedProbes),
          'a learned probe limit grows half-open only by doubling, on a success of a probe admitted after the last doubling',
          { was, now: next.phase.peakInFlight, event: event._tag, growsFrom: before.phase.growsFrom },
        )
        check(next.phase.growsFrom === next.issued, 'a doubling starts a new round', {
          growsFrom: next.phase.growsFrom,
          issued: next.issued,
        })
      }
      const oldest = next.probes[1]
      if (decision._tag !== 'Ignored' && (event._tag === 'CallRequested' || event._tag === 'Ticked') && oldest !== undefined) {
        check(Math.max(now, next.clock) - oldest < current.probeTimeoutMs, 'no probe outlives its timeout past a request or tick', {
          now,
          probes: next.probes,
        })
      }
    }

    const snapshot = current.inspect(next)
    checkSnapshot(snapshot)
    if (snapshot.recovery?.kind === 'gradual' && event._tag === 'CallRequested') {
      const g = snapshot.recovery as GradualRecoverySnapshot
      const key = `${next.phase.generation}/${g.stage.startedAt}`
      if (key !== stage.key || g.stage.requests === 1) stage = { key, requests: 0, admitted: 0, rate: g.admitRate }
      stage.rate = Math.max(stage.rate, g.admitRate)
      stage.requests++
      if (decision._tag === 'Admitted') stage.admitted++
      check(stage.admitted <= stage.rate * stage.requests + 1, "a gradual stage admits at most its rate's share plus one request", stage)
    }

    // A step that returned the state it took leaves nothing new to round-trip: that very state was
    // checked when it was made (or when the run began).
    if (next !== before) roundTrips(current, next)
  }
  return { decisions, state }
}

export const invariantsHold = (family: string, configs: fc.Arbitrary<CircuitConfigInput>) =>
  it(`${family}: step never throws or mutates, never admits while open, keeps rates in [0, 1] and counts >= 0, round-trips its state, survives clock jumps and swaps, and is deterministic`, () => {
    fc.assert(
      fc.property(configs, configs, script, (config, otherConfig, steps) => {
        const strategy = circuit(config)
        const other = circuit(otherConfig)
        const first = run(strategy, steps, { checks: true }, other)
        // Every invariant was checked on the first run; the second only has to give the same
        // answers. It runs the same strategy objects: state a strategy kept to itself between
        // calls (which fresh ones would not have) would show as a difference.
        const second = run(strategy, steps, { checks: false }, other)
        check(sameJson(first, second), 'same inputs give the same outputs')
      }),
      { numRuns: NUM_RUNS },
    )
  })

const junk: fc.Arbitrary<Junk> = fc.record({
  kind: fc.constantFrom('forged' as const, 'future' as const, 'stale' as const, 'duplicate' as const),
  outcome: fc.constantFrom('succeed' as const, 'fail' as const, 'cancel' as const),
  pick: fc.nat(),
})

export const junkIsHarmless = (family: string, configs: fc.Arbitrary<CircuitConfigInput>) =>
  it(`${family}: inserting any duplicate, forged or stale outcome or cancel anywhere never changes the state or any later decision`, () => {
    fc.assert(
      fc.property(configs, script, fc.array(fc.option(junk, { freq: 2 }), { minLength: 1, maxLength: 200 }), (config, steps, junks) => {
        const strategy = circuit(config)
        const clean = run(strategy, steps, { checks: false })
        const dirty = run(strategy, steps, { checks: false, junkAt: (i) => junks[i % junks.length] ?? undefined })
        check(sameJson(clean, dirty), 'the same decisions and final state with junk inserted')
      }),
      { numRuns: NUM_RUNS },
    )
  })
