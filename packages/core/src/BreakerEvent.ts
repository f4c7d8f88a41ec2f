import type { Ticket } from './Decision.js'
import { type Evidence, isEvidence } from './Evidence.js'
import { Limits } from './Limits.js'
import { primeShape } from './shapes.js'

/**
 * What happened, the input of `step`. Tags are in the past tense: they report facts.
 *
 * - `CallRequested`: a caller wants to make a call; the decision admits or rejects it.
 * - `CallSucceeded` / `CallFailed`: an admitted call settled after `latencyMs`.
 * - `CallCancelled`: an admitted call will report no outcome (cancelled, or its error is not the
 *   upstream's fault); it gives back a probe permit and counts nowhere.
 * - `CallOverdue`: an admitted call is still running after `elapsedMs`, past the strategy's
 *   `overdueAfterMs`: detectors that count slow calls count it now rather than when it ends.
 * - `Ticked`: time passed (lets an open breaker become half-open, or a window expire, without
 *   traffic).
 * - `ForcedOpen`, `Disabled`, `Reset`: an operator's commands (until a reset).
 * - `OpenCommanded`, `HalfOpenCommanded`, `CloseCommanded`: an operator moves the circuit (legal
 *   only in normal mode: open from closed, open or half-open; half-open from open; closed from
 *   open or half-open; anything else is `Ignored` as `illegal-transition`).
 * - `IsolationRequested` / `IsolationReleased`: reference-counted forced open; each request gets
 *   an id (decision `Isolated`), and the circuit closes when the last one is released.
 * - `EvidenceReceived`: the rest of a fleet's counts (see `Evidence`), replacing what came before;
 *   a closed circuit's detectors absorb them and may trip on the sum.
 * - `PeerTripped`: another replica of the fleet tripped: a closed circuit opens (reason
 *   `peer-tripped`) as if it had tripped itself, and a half-open one reopens.
 * - `RecoveryFollowed`: a fleet's standing instruction: the circuit does not run its own recovery
 *   and, while half-open, admits the share `rate` of requests (counted nowhere), the share another
 *   replica leading the recovery offers; entering open or closed resets the share to 0. `rate:
 *   null` ends it: the circuit recovers by itself again (a half-open one from a fresh start).
 * - `PeerRecovered`: the replica leading the fleet's recovery closed: an open or half-open
 *   circuit closes too (reason `peer-recovered`).
 */
export type BreakerEvent =
  | CallRequested
  | CallSucceeded
  | CallFailed
  | CallCancelled
  | CallOverdue
  | Ticked
  | ForcedOpen
  | Disabled
  | Reset
  | OpenCommanded
  | HalfOpenCommanded
  | CloseCommanded
  | IsolationRequested
  | IsolationReleased
  | EvidenceReceived
  | PeerTripped
  | RecoveryFollowed
  | PeerRecovered

/** A caller asks for admission. */
export interface CallRequested {
  readonly _tag: 'CallRequested'
}
/**
 * An admitted call succeeded. `overdueMs`: the call was reported overdue (see {@link CallOverdue})
 * after this long, so the detectors that counted it then skip it now; anything but a finite number
 * of ms, zero or more, means it never was.
 */
export interface CallSucceeded {
  readonly _tag: 'CallSucceeded'
  /** The admission this outcome settles (the `Admitted` decision of its request). */
  readonly ticket: Ticket
  /** How long the call took, in ms (a finite number, zero or more). */
  readonly latencyMs: number
  /** When the call was reported overdue, its elapsed ms then (absent: it never was). */
  readonly overdueMs?: number
}
/**
 * An admitted call failed. `retryAfterMs`: the upstream asked to be left alone this long (an HTTP
 * `Retry-After`); a trip hands it to the open duration, which may honour it (the `retry-after`
 * kind does). A value that is not a finite number of ms, zero or more, is no hint at all.
 * `overdueMs`: as in {@link CallSucceeded}.
 */
export interface CallFailed {
  readonly _tag: 'CallFailed'
  /** The admission this outcome settles (the `Admitted` decision of its request). */
  readonly ticket: Ticket
  /** How long the call took, in ms (a finite number, zero or more). */
  readonly latencyMs: number
  /** The upstream's own retry hint, in ms (an HTTP `Retry-After`); absent: none. */
  readonly retryAfterMs?: number
  /** When the call was reported overdue, its elapsed ms then (absent: it never was). */
  readonly overdueMs?: number
}
/** An admitted call ends without an outcome that counts. */
export interface CallCancelled {
  readonly _tag: 'CallCancelled'
  /** The admission that ends without an outcome. */
  readonly ticket: Ticket
}
/**
 * An admitted call is still running after `elapsedMs` (a handle reports each call at most once,
 * on the first event after it passes the strategy's `overdueAfterMs`; see `Strategy`). A closed
 * circuit's detectors that count slow calls count it now, as slow and not failed, so a hung
 * upstream trips within the slow-call threshold rather than the timeout; the call's outcome then
 * carries `overdueMs: elapsedMs`, and those detectors skip it. Anywhere else it changes nothing
 * (probes have their own timeout).
 */
export interface CallOverdue {
  readonly _tag: 'CallOverdue'
  /** The admission still running. */
  readonly ticket: Ticket
  /** How long it has run, in ms. */
  readonly elapsedMs: number
}
/** Time passed. */
export interface Ticked {
  readonly _tag: 'Ticked'
}
/** Reject everything until a reset. */
export interface ForcedOpen {
  readonly _tag: 'ForcedOpen'
}
/** Admit everything, keep counting, never trip, until a reset. */
export interface Disabled {
  readonly _tag: 'Disabled'
}
/** Back to a fresh closed breaker (backoff forgotten). */
export interface Reset {
  readonly _tag: 'Reset'
}

/** Open now, for `forMs` or until the time `until` (exactly one of them). Trips and backoff are kept. */
export interface OpenCommanded {
  readonly _tag: 'OpenCommanded'
  /** Open for this long, in ms. */
  readonly forMs?: number
  /** Open until this time, on the caller clock. */
  readonly until?: number
}
/** Start recovery now (from open). */
export interface HalfOpenCommanded {
  readonly _tag: 'HalfOpenCommanded'
}
/** Close now (from open or half-open), forgetting the backoff. */
export interface CloseCommanded {
  readonly _tag: 'CloseCommanded'
}
/** Hold the circuit forced open until this isolation (and every other) is released. */
export interface IsolationRequested {
  readonly _tag: 'IsolationRequested'
}
/** Release the isolation `id` (from the `Isolated` decision). */
export interface IsolationReleased {
  readonly _tag: 'IsolationReleased'
  /** The id the `Isolated` decision of its request gave. */
  readonly id: number
}

/** The rest of a fleet's evidence, by detector key (it replaces what an earlier one brought). */
export interface EvidenceReceived {
  readonly _tag: 'EvidenceReceived'
  /** The fleet's other replicas' counts, replacing the last ones received. */
  readonly evidence: ReadonlyArray<Evidence>
}
/** Another replica of the fleet tripped (or its recovery failed). */
export interface PeerTripped {
  readonly _tag: 'PeerTripped'
}

/** Another replica leads the fleet's recovery: admit `rate` of requests while half-open (`null`: recover by yourself). */
export interface RecoveryFollowed {
  readonly _tag: 'RecoveryFollowed'
  /** The share of requests to admit while half-open, in [0, 1]; `null` ends following. */
  readonly rate: number | null
}
/** The replica leading the fleet's recovery closed. */
export interface PeerRecovered {
  readonly _tag: 'PeerRecovered'
}

/** Every event tag, in a stable order. */
export const eventTags: ReadonlyArray<BreakerEvent['_tag']> = [
  'CallRequested',
  'CallSucceeded',
  'CallFailed',
  'CallCancelled',
  'CallOverdue',
  'Ticked',
  'ForcedOpen',
  'Disabled',
  'Reset',
  'OpenCommanded',
  'HalfOpenCommanded',
  'CloseCommanded',
  'IsolationRequested',
  'IsolationReleased',
  'EvidenceReceived',
  'PeerTripped',
  'RecoveryFollowed',
  'PeerRecovered',
]

/**
 * Thrown by the event constructors when given a value that must never reach a breaker. `field`
 * names the offending argument.
 */
export class InvalidEventError extends TypeError {
  override readonly name = 'InvalidEventError'
  constructor(
    /** The field that was wrong. */
    readonly field: 'latencyMs' | 'retryAfterMs' | 'elapsedMs' | 'ticket' | 'forMs' | 'until' | 'id' | 'evidence' | 'rate',
    /** What was given there. */
    readonly given: unknown,
    message: string,
  ) {
    super(message)
  }
}

/** True for a latency a breaker accepts: a finite number of milliseconds, zero or more. */
export const isValidLatency = (latencyMs: unknown): latencyMs is number =>
  typeof latencyMs === 'number' && latencyMs >= 0 && latencyMs < Number.POSITIVE_INFINITY

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0

/** True for a well-formed ticket: a non-negative integer generation and id, and a boolean probe flag. */
export const isValidTicket = (ticket: unknown): ticket is Ticket => {
  if (typeof ticket !== 'object' || ticket === null) return false
  const { generation, id, probe } = ticket as { generation?: unknown; id?: unknown; probe?: unknown }
  return isCount(generation) && isCount(id) && typeof probe === 'boolean'
}

const checkOutcome = (ticket: Ticket, latencyMs: number): void => {
  if (!isValidTicket(ticket)) {
    throw new InvalidEventError('ticket', ticket, 'ticket: expected the admission returned by step, got ' + describe(ticket))
  }
  if (!isValidLatency(latencyMs)) {
    throw new InvalidEventError(
      'latencyMs',
      latencyMs,
      'latencyMs: expected a finite number of milliseconds >= 0, got ' + describe(latencyMs),
    )
  }
}

const describe = (value: unknown): string => {
  if (typeof value === 'number') return String(value)
  if (value === undefined) return 'undefined'
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/** Every outcome event is built here: one hidden class, primed for any latency (see shapes.ts). */
const outcome = <Tag extends 'CallSucceeded' | 'CallFailed'>(_tag: Tag, ticket: Ticket, latencyMs: number) => ({ _tag, ticket, latencyMs })
primeShape((v) => outcome(v, v, v))

const callRequested: CallRequested = { _tag: 'CallRequested' }
const halfOpenCommanded: HalfOpenCommanded = { _tag: 'HalfOpenCommanded' }
const closeCommanded: CloseCommanded = { _tag: 'CloseCommanded' }
const isolationRequested: IsolationRequested = { _tag: 'IsolationRequested' }
const ticked: Ticked = { _tag: 'Ticked' }
const forcedOpen: ForcedOpen = { _tag: 'ForcedOpen' }
const disabled: Disabled = { _tag: 'Disabled' }
const reset: Reset = { _tag: 'Reset' }
const peerTripped: PeerTripped = { _tag: 'PeerTripped' }
const peerRecovered: PeerRecovered = { _tag: 'PeerRecovered' }

/**
 * Event constructors. Outcome constructors validate their arguments and throw an
 * {@link InvalidEventError} naming the bad field, so a NaN or negative latency never reaches a
 * breaker. (`step` itself never throws: a malformed event built by hand is `Ignored`.)
 *
 * @example
 * import { BreakerEvent } from '@datapunk/breaker'
 * BreakerEvent.requested()._tag // 'CallRequested'
 * BreakerEvent.failed({ generation: 0, id: 0, probe: false }, 12).latencyMs // 12
 * BreakerEvent.overdue({ generation: 0, id: 0, probe: false }, 1_500)._tag // 'CallOverdue'
 * BreakerEvent.openFor(5_000) // { _tag: 'OpenCommanded', forMs: 5000 }
 */
export const BreakerEvent = {
  requested: (): CallRequested => callRequested,
  succeeded: (ticket: Ticket, latencyMs: number): CallSucceeded => {
    checkOutcome(ticket, latencyMs)
    return outcome('CallSucceeded', ticket, latencyMs)
  },
  /** A failure; `retryAfterMs` (finite, zero or more): how long the upstream asked to be left alone. */
  failed: (ticket: Ticket, latencyMs: number, retryAfterMs?: number): CallFailed => {
    checkOutcome(ticket, latencyMs)
    if (retryAfterMs === undefined) return outcome('CallFailed', ticket, latencyMs)
    if (!isValidLatency(retryAfterMs)) {
      throw new InvalidEventError(
        'retryAfterMs',
        retryAfterMs,
        'retryAfterMs: expected a finite number of milliseconds >= 0, got ' + describe(retryAfterMs),
      )
    }
    return { _tag: 'CallFailed', ticket, latencyMs, retryAfterMs }
  },
  cancelled: (ticket: Ticket): CallCancelled => {
    checkOutcome(ticket, 0)
    return { _tag: 'CallCancelled', ticket }
  },
  /** The call admitted with `ticket` is still running after `elapsedMs` (see {@link CallOverdue}). */
  overdue: (ticket: Ticket, elapsedMs: number): CallOverdue => {
    checkOutcome(ticket, 0)
    if (!isValidLatency(elapsedMs)) {
      throw new InvalidEventError(
        'elapsedMs',
        elapsedMs,
        'elapsedMs: expected a finite number of milliseconds >= 0, got ' + describe(elapsedMs),
      )
    }
    return { _tag: 'CallOverdue', ticket, elapsedMs }
  },
  ticked: (): Ticked => ticked,
  forcedOpen: (): ForcedOpen => forcedOpen,
  disabled: (): Disabled => disabled,
  reset: (): Reset => reset,
  /** Open now for `forMs` (1 ms to `Limits.maxDurationMs`). */
  openFor: (forMs: number): OpenCommanded => {
    if (!(typeof forMs === 'number' && forMs >= Limits.minDurationMs && forMs <= Limits.maxDurationMs)) {
      throw new InvalidEventError(
        'forMs',
        forMs,
        `forMs: expected a number of milliseconds in [1, ${Limits.maxDurationMs}], got ${describe(forMs)}`,
      )
    }
    return { _tag: 'OpenCommanded', forMs }
  },
  /** Open now until the time `until` (on the breaker's clock). */
  openUntil: (until: number): OpenCommanded => {
    if (!(typeof until === 'number' && Number.isFinite(until))) {
      throw new InvalidEventError('until', until, 'until: expected a finite time, got ' + describe(until))
    }
    return { _tag: 'OpenCommanded', until }
  },
  halfOpen: (): HalfOpenCommanded => halfOpenCommanded,
  close: (): CloseCommanded => closeCommanded,
  isolate: (): IsolationRequested => isolationRequested,
  release: (id: number): IsolationReleased => {
    if (!isCount(id)) throw new InvalidEventError('id', id, 'id: expected the id of an Isolated decision, got ' + describe(id))
    return { _tag: 'IsolationReleased', id }
  },
  /** The rest of a fleet's counts (each entry checked with `isEvidence`). */
  evidence: (evidence: ReadonlyArray<Evidence>): EvidenceReceived => {
    if (!Array.isArray(evidence)) {
      throw new InvalidEventError('evidence', evidence, 'evidence: expected an array of evidence, got ' + describe(evidence))
    }
    const bad = evidence.findIndex((e) => !isEvidence(e))
    if (bad >= 0) {
      throw new InvalidEventError(
        'evidence',
        evidence[bad],
        `evidence[${bad}]: expected { key, bucketMs, buckets: [epoch, calls, failures, slow][] } with counts that add up, got ` +
          describe(evidence[bad]),
      )
    }
    return { _tag: 'EvidenceReceived', evidence }
  },
  /** Another replica of the fleet tripped. */
  peerTripped: (): PeerTripped => peerTripped,
  /** Follow the fleet's recovery, admitting `rate` (in [0, 1]) of requests while half-open; `null` to recover alone again. */
  follow: (rate: number | null): RecoveryFollowed => {
    if (!(rate === null || (typeof rate === 'number' && rate >= 0 && rate <= 1))) {
      throw new InvalidEventError('rate', rate, 'rate: expected a share in [0, 1] or null, got ' + describe(rate))
    }
    return { _tag: 'RecoveryFollowed', rate }
  },
  /** The replica leading the fleet's recovery closed. */
  peerRecovered: (): PeerRecovered => peerRecovered,
} as const
