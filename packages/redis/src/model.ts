/**
 * Fleet mode's public types: its options, events, health and attachment.
 */
import type { FleetPolicy } from '@datapunk/breaker'
import type { Clock, EventStream } from '@datapunk/breaker-runtime'
import type { Redis, RedisOptions } from 'ioredis'

// ---- model -------------------------------------------------------------------------------

/** Where errors go (a pino logger fits: `error(object, message)`). */
export interface FleetLogger {
  /** Logs a failed round or bad data: `details` first, as pino does. */
  error(details: object, message: string): void
}

/** Options of {@link fleetMode}. */
export interface FleetOptions {
  /**
   * How to reach Redis: a `redis://` URL or ioredis options (fleet mode makes its own two
   * connections), or an ioredis client of yours (fleet mode runs its rounds on it, subscribes on a
   * `duplicate()` of it, and leaves it open on `detach`; give it `enableOfflineQueue: false` so a
   * round fails at once while Redis is down instead of waiting for it).
   */
  readonly redis: string | RedisOptions | Redis
  /** Prefix of every key and of the channel. Default `'breaker:'`. */
  readonly prefix?: string
  /** This replica's name in Redis (unique in the fleet). Default `<hostname>:<pid>:<random>`. */
  readonly replicaId?: string
  /** How often a round runs, in ms: 10 to 60,000. Default 250. */
  readonly syncMs?: number
  /** Share window counts (default `true`). */
  readonly shareEvidence?: boolean
  /** Publish trips and recoveries, and follow the others' (default `true`). */
  readonly shareTrips?: boolean
  /** One replica leads each recovery, the others follow it (default `true`). */
  readonly shareRecovery?: boolean
  /** Reconnect backoff: doubling from `minMs` (default 100) up to `maxMs` (default 5000), with jitter. */
  readonly reconnect?: { readonly minMs?: number; readonly maxMs?: number }
  /** Where errors (Redis down, bad data) are logged. Default: `console.error`. A logger that throws is ignored. */
  readonly logger?: FleetLogger
  /**
   * The fleet protocol's policy (see `FleetPolicy` in the core): `significance` of the test that
   * tells a local fault from a shared one (default 0.05), `maxFleetOpened` (default 0).
   * `leaseMs` defaults to four rounds, at least 1 s; the `share*` options above set the rest.
   */
  readonly policy?: Partial<Pick<FleetPolicy, 'significance' | 'maxFleetOpened' | 'leaseMs'>>
  /**
   * The clock of the attachment's own times (events' `at`, `lastSyncAt`, how often junk is
   * logged). Default: the breakers' default clock. Buckets are numbered on each breaker's own.
   */
  readonly clock?: Clock
}

/** What fleet mode reports, as it happens. */
export type FleetEvent =
  /** Rounds started or stopped reaching Redis (`error` says why). Unhealthy, breakers decide and recover locally. */
  | { readonly _tag: 'SyncHealthChanged'; readonly at: number; readonly healthy: boolean; readonly error?: string }
  /** A round finished: `breakers` synced, `fleetCalls` the other replicas' calls absorbed in all windows. */
  | { readonly _tag: 'Synced'; readonly at: number; readonly breakers: number; readonly fleetCalls: number; readonly durationMs: number }
  /** A value in Redis was not ours to read (corrupt, foreign, of another type): ignored. */
  | { readonly _tag: 'BadData'; readonly at: number; readonly key: string; readonly message: string }
  /** This replica published a trip or a recovery of one of its breakers. */
  | { readonly _tag: 'Published'; readonly at: number; readonly breaker: string; readonly event: 'tripped' | 'recovered' }
  /** Another replica tripped or recovered: this replica's breaker of the same name was told. */
  | {
      readonly _tag: 'PeerEvent'
      readonly at: number
      readonly breaker: string
      readonly replica: string
      readonly event: 'tripped' | 'recovered'
    }
  /**
   * Another replica tripped, and this replica's breaker did not follow (yet): its own recent calls
   * are healthier (a fault on the other replica's side), or the cap on replicas opened by the fleet
   * alone is reached.
   */
  | {
      readonly _tag: 'PeerDeclined'
      readonly at: number
      readonly breaker: string
      readonly replica: string
      readonly why: 'healthier' | 'capped'
    }
  /** This replica started or stopped leading the recovery of a breaker. */
  | { readonly _tag: 'LeadChanged'; readonly at: number; readonly breaker: string; readonly leading: boolean }

/** Counters of one attachment, for health checks and tests. */
export interface FleetHealth {
  /** Whether the last round reached Redis (`false` before the first one does). */
  readonly healthy: boolean
  /** Rounds that reached Redis. */
  readonly syncs: number
  /** Rounds that did not. */
  readonly failedSyncs: number
  /** When the last round succeeded (on the attachment's `clock`), or `null`. */
  readonly lastSyncAt: number | null
  /** Values in Redis ignored as bad data. */
  readonly badData: number
  /** Trips and recoveries this replica published. */
  readonly published: number
  /** Trips and recoveries of other replicas this replica's breakers were told of. */
  readonly peerEvents: number
  /** Trips of other replicas this replica's breakers did not follow when heard (see `PeerDeclined`). */
  readonly peerDeclined: number
  /** Published messages dropped unread because more than 10,000 were waiting (a flood). */
  readonly dropped: number
  /** Breakers whose recovery this replica leads now. */
  readonly leading: number
}

/** An attachment: `detach()` stops syncing, withdraws this replica's evidence and leases (best effort) and closes its connections. */
export interface FleetAttachment {
  /** This replica's id in the fleet (given, or a random one). */
  readonly replicaId: string
  /** What fleet mode did: rounds, peers' trips and recoveries followed or declined, bad data. */
  readonly events$: EventStream<FleetEvent>
  /** How its rounds with Redis are going. */
  health(): FleetHealth
  /** Runs one round that starts after this call (after the one under way, if any; the timer runs them anyway); resolves when it is done, never rejects. */
  sync(): Promise<void>
  /** Stops the rounds and the breakers' sharing; resolves once the last round is done. */
  detach(): Promise<void>
}
