/**
 * What a fleet attachment reports: its events, its counters and its log, with junk logged once a
 * minute per key and a logger that throws contained.
 */
import type { FleetNote } from '@datapunk/breaker'
import { Channel, type EventStream } from '@datapunk/breaker-runtime'
import type { FleetEvent, FleetLogger } from './model.js'

export const message = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const consoleLogger: FleetLogger = {
  // biome-ignore lint/suspicious/noConsole: the logger of last resort, when the user gives none
  error: (details, text) => console.error(`[breaker-redis] ${text}`, details),
}

/** The counters `health()` shows. */
export interface Counters {
  syncs: number
  failedSyncs: number
  badData: number
  published: number
  peerEvents: number
  peerDeclined: number
  dropped: number
}

export class Reporter {
  readonly counters: Counters = { syncs: 0, failedSyncs: 0, badData: 0, published: 0, peerEvents: 0, peerDeclined: 0, dropped: 0 }
  healthy = false
  private readonly events = new Channel<FleetEvent>()
  private readonly logger: FleetLogger
  // Junk that stays in Redis is met every round: counted and reported each time, logged once a
  // minute per key (the map forgets keys not logged for a minute, so it stays small).
  private readonly loggedAt = new Map<string, number>()

  constructor(
    private readonly replicaId: string,
    private readonly now: () => number,
    logger: FleetLogger | undefined,
  ) {
    this.logger = logger ?? consoleLogger
  }

  get events$(): EventStream<FleetEvent> {
    return this.events.stream
  }

  emit(event: FleetEvent): void {
    this.events.next(event)
  }

  complete(): void {
    this.events.complete()
  }

  /** Logs; a logger that throws must not take the rounds (or the process) down with it. */
  log(details: object, text: string): void {
    try {
      this.logger.error(details, text)
    } catch {
      // ignored: nowhere left to report it
    }
  }

  /** A value in Redis that was not fleet mode's: counted, reported, logged once a minute per key. */
  bad(key: string, text: string): void {
    this.counters.badData++
    const at = this.now()
    this.emit({ _tag: 'BadData', at, key, message: text })
    if (at - (this.loggedAt.get(key) ?? Number.NEGATIVE_INFINITY) < 60_000) return
    if (this.loggedAt.size >= 1000) for (const [k, t] of this.loggedAt) if (at - t >= 60_000) this.loggedAt.delete(k)
    this.loggedAt.set(key, at)
    this.log({ key, replica: this.replicaId }, `ignored bad data in Redis: ${text}`)
  }

  setHealthy(ok: boolean, error?: unknown): void {
    if (ok === this.healthy) return
    this.healthy = ok
    if (!ok) this.log({ replica: this.replicaId, error: message(error) }, 'Redis unreachable: breakers decide and recover on their own')
    this.emit(
      ok
        ? { _tag: 'SyncHealthChanged', at: this.now(), healthy: true }
        : { _tag: 'SyncHealthChanged', at: this.now(), healthy: false, error: message(error) },
    )
  }

  /** Turns the protocol's notes on a breaker into events and counts. */
  noted(breaker: string, notes: ReadonlyArray<FleetNote>): void {
    for (const note of notes) {
      const at = this.now()
      if (note._tag === 'Published') {
        this.counters.published++
        this.emit({ _tag: 'Published', at, breaker, event: note.event })
      } else if (note._tag === 'LeadChanged') this.emit({ _tag: 'LeadChanged', at, breaker, leading: note.leading })
      else if (note._tag === 'PeerFollowed') {
        this.counters.peerEvents++
        this.emit({ _tag: 'PeerEvent', at, breaker, replica: note.replica, event: note.event })
      } else {
        this.counters.peerDeclined++
        this.emit({ _tag: 'PeerDeclined', at, breaker, replica: note.replica, why: note.why })
      }
    }
  }
}
