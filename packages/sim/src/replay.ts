/**
 * Replay: a trace of a live breaker's call events (`breaker.calls$`, one JSON object per line),
 * fed offline through other strategies to see what each would have decided.
 */
import {
  type Admitted,
  type BreakerEvent,
  type ConfigOptions,
  type ConfiguredStrategy,
  Finite,
  NonNegativeInt,
  type RejectReason,
  type Strategy,
  strategyFromConfig,
} from '@datapunk/breaker'
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { checkStrategy, kindOf } from './checkArgs.js'

// ---- model -------------------------------------------------------------------------------------

const RejectReasonCodec = t.keyof({ open: null, 'forced-open': null, 'half-open-full': null, throttled: null })
const common = { breaker: t.string, at: Finite, call: NonNegativeInt }

/** One line of a trace: a call event as `@datapunk/breaker-rxjs` emits it on `calls$`. */
export const TraceEvent = t.union([
  t.type({ _tag: t.literal('CallAdmitted'), ...common, probe: t.boolean }),
  t.type({ _tag: t.literal('CallRejected'), ...common, reason: RejectReasonCodec, retryAfterMs: t.union([Finite, t.null]) }),
  t.type({ _tag: t.literal('CallSucceeded'), ...common, latencyMs: Finite }),
  t.type({ _tag: t.literal('CallFailed'), ...common, latencyMs: Finite }),
  t.type({ _tag: t.literal('CallCancelled'), ...common }),
  t.type({
    _tag: t.literal('CallStale'),
    ...common,
    outcome: t.keyof({ succeeded: null, failed: null, cancelled: null }),
    latencyMs: t.union([Finite, t.null]),
  }),
])
export type TraceEvent = t.TypeOf<typeof TraceEvent>

/** A trace with malformed lines: every bad line with its number, not just the first. */
export class TraceError extends Error {
  override readonly name = 'TraceError'
  constructor(
    /** Every malformed line: its number (from 1) and what was wrong. */
    readonly problems: ReadonlyArray<{ readonly line: number; readonly message: string }>,
    /** Lines in the trace. */
    readonly lines: number,
  ) {
    super(`${problems.length} of ${lines} trace lines are malformed:\n${problems.map((p) => `line ${p.line}: ${p.message}`).join('\n')}`)
  }
}

const TAGS = new Set(['CallAdmitted', 'CallRejected', 'CallSucceeded', 'CallFailed', 'CallCancelled', 'CallStale'])

// ---- parsing -----------------------------------------------------------------------------------

/**
 * Parses a JSON-lines trace. Blank lines are skipped; lines of other metric events (state changes,
 * config swaps) are skipped too, since replay re-derives them. Any malformed line makes the whole
 * trace a {@link TraceError} listing every bad line.
 *
 * @example
 * import { parseTrace } from '@datapunk/breaker-sim'
 * const result = parseTrace('{"_tag":"CallAdmitted","breaker":"b","at":0,"call":1,"probe":false}\nnot json\n')
 * result._tag === 'Left' && result.left.message // '1 of 2 trace lines are malformed:\nline 2: not JSON (Unexpected token \'o\', "not json" is not valid JSON)'
 */
export const parseTrace = (text: string): E.Either<TraceError, ReadonlyArray<TraceEvent>> => {
  if (typeof text !== 'string') throw new TypeError(`parseTrace: expected the trace's text (a string), got ${kindOf(text)}`)
  const events: TraceEvent[] = []
  const problems: Array<{ line: number; message: string }> = []
  const lines = text.split('\n')
  let counted = 0
  lines.forEach((raw, index) => {
    const line = raw.trim()
    if (line === '') return
    counted++
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch (error) {
      problems.push({ line: index + 1, message: `not JSON (${error instanceof Error ? error.message : String(error)})` })
      return
    }
    const tag = typeof value === 'object' && value !== null ? (value as { _tag?: unknown })._tag : undefined
    if (typeof tag === 'string' && !TAGS.has(tag) && /^[A-Z]\w+$/.test(tag)) return // another metric event
    const decoded = TraceEvent.decode(value)
    if (E.isLeft(decoded)) {
      const tagged = typeof tag === 'string' && TAGS.has(tag)
      problems.push({ line: index + 1, message: tagged ? `a malformed ${tag} event` : 'expected a call event with a _tag' })
      return
    }
    events.push(decoded.right)
  })
  return problems.length > 0 ? E.left(new TraceError(problems, counted)) : E.right(events)
}

// ---- replay ------------------------------------------------------------------------------------

/** What a strategy decided about one call of the trace, next to what the live breaker decided. */
export interface ReplayedCall {
  /** The call's number in the trace. */
  readonly call: number
  /** When it was asked for, in the trace's ms. */
  readonly at: number
  /** What the live breaker did. */
  readonly live: 'admitted' | 'rejected'
  /** Why the live breaker rejected it, or `null`. */
  readonly liveReason: RejectReason | null
  /** What the replayed config did. */
  readonly replayed: 'admitted' | 'rejected'
  /** Why the replayed config rejected it, or `null`. */
  readonly replayedReason: RejectReason | null
}

/** A strategy's decisions over a trace. */
export interface Replay {
  /** The replayed strategy's name. */
  readonly strategy: string
  /** Every call, live and replayed decisions side by side. */
  readonly calls: ReadonlyArray<ReplayedCall>
  /** Calls the replayed config admitted. */
  readonly admitted: number
  /** Calls it rejected. */
  readonly rejected: number
  /** Share of calls decided as the live breaker did. */
  readonly agreement: number
  /** Outcomes not fed to the strategy: their call was not admitted in the replay (or had no call number). */
  readonly unmatchedOutcomes: number
}

const REQUESTED: BreakerEvent = { _tag: 'CallRequested' }

/**
 * Feeds the trace's requests and outcomes through `strategy` in order, at their recorded times.
 * An outcome is fed only if the strategy admitted its call: what a call the replay rejected would
 * have returned is unknowable. A call the strategy admits that the live breaker rejected has no
 * outcome either: it is cancelled at once (counts nowhere, frees its permit). Through the config the trace was recorded with, the decisions are
 * the live ones, exactly.
 */
export const replay = <S>(events: ReadonlyArray<TraceEvent>, strategy: Strategy<S>): Replay => {
  if (!Array.isArray(events)) throw new TypeError(`replay: expected the events parseTrace read (an array), got ${kindOf(events)}`)
  checkStrategy('replay', strategy)
  let state = strategy.initial(events[0]?.at ?? 0)
  const tickets = new Map<number, Admitted>()
  const calls: ReplayedCall[] = []
  let unmatchedOutcomes = 0
  const settle = (call: number, at: number, outcome: 'succeeded' | 'failed' | 'cancelled', latencyMs: number | null) => {
    const ticket = tickets.get(call)
    if (ticket === undefined) {
      unmatchedOutcomes++
      return
    }
    tickets.delete(call)
    const event: BreakerEvent =
      outcome === 'cancelled'
        ? { _tag: 'CallCancelled', ticket }
        : { _tag: outcome === 'succeeded' ? 'CallSucceeded' : 'CallFailed', ticket, latencyMs: latencyMs ?? 0 }
    state = strategy.step(state, event, at)[0]
  }
  for (const event of events) {
    switch (event._tag) {
      case 'CallAdmitted':
      case 'CallRejected': {
        const [next, decision] = strategy.step(state, REQUESTED, event.at)
        state = next
        if (decision._tag === 'Admitted' && event._tag === 'CallRejected') {
          // The live breaker rejected this call, so its outcome is unknowable: it counts nowhere
          // (and gives back the permit it took, or a probe would wait for it forever).
          state = strategy.step(state, { _tag: 'CallCancelled', ticket: decision }, event.at)[0]
        } else if (decision._tag === 'Admitted' && event.call > 0) tickets.set(event.call, decision)
        calls.push({
          call: event.call,
          at: event.at,
          live: event._tag === 'CallAdmitted' ? 'admitted' : 'rejected',
          liveReason: event._tag === 'CallRejected' ? event.reason : null,
          replayed: decision._tag === 'Admitted' ? 'admitted' : 'rejected',
          replayedReason: decision._tag === 'Rejected' ? decision.reason : null,
        })
        break
      }
      case 'CallSucceeded':
        settle(event.call, event.at, 'succeeded', event.latencyMs)
        break
      case 'CallFailed':
        settle(event.call, event.at, 'failed', event.latencyMs)
        break
      case 'CallCancelled':
        settle(event.call, event.at, 'cancelled', null)
        break
      case 'CallStale':
        settle(event.call, event.at, event.outcome, event.latencyMs)
        break
    }
  }
  const admitted = calls.filter((c) => c.replayed === 'admitted').length
  const same = calls.filter((c) => c.live === c.replayed && c.liveReason === c.replayedReason).length
  return {
    strategy: strategy.name,
    calls,
    admitted,
    rejected: calls.length - admitted,
    agreement: calls.length === 0 ? 1 : same / calls.length,
    unmatchedOutcomes,
  }
}

/** Decodes a strategy config (parsed JSON) for replay, with the core's readable errors; `options.kinds` adds your part kinds. */
export const strategyFromJson = (json: unknown, source: string, options: ConfigOptions = {}): E.Either<string, Strategy<unknown>> =>
  E.bimap(
    (error: Error) => `${source}: ${error.message.split('\n').join(`\n${source}: `)}`,
    (strategy: ConfiguredStrategy) => strategy as Strategy<unknown>,
  )(strategyFromConfig(json, options))
