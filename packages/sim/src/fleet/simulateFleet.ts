/**
 * The fleet model: N replicas of a client service share one upstream, each request going to one
 * replica at random, each replica with its own breaker. Alone, a replica decides on the calls it
 * sees; in fleet mode it runs the core's fleet protocol (`planRound`, `absorbRound`, `hearPeer`:
 * the protocol `@datapunk/breaker-redis` runs) over an in-memory transport, every `syncMs`.
 *
 * At `outageAtMs` the upstream fails for the first `faulty` replicas (all of them by default: a
 * shared fault; fewer: a fault on their own network path or deploy), and heals at `recoverAtMs`
 * if given. The model measures how long until the faulty replicas open, how many calls they
 * wasted on the fault until then, how many good calls the healthy replicas rejected, and (with a
 * recovery) how many probes the fleet sent until every faulty replica closed again.
 * Deterministic: the same options give the same numbers.
 */
import {
  absorbRound,
  BreakerEvent,
  type CircuitConfigInput,
  circuit,
  type Decision,
  type Evidence,
  type FleetMember,
  type FleetOutcome,
  type FleetPolicy,
  fleetMember,
  fleetPolicy,
  hearPeer,
  planRound,
  type Strategy,
  type Tally,
} from '@datapunk/breaker'
import { seeded } from '../Random.js'
import { MemoryFleet } from './memoryTransport.js'

/** Options of {@link simulateFleet}. */
export interface FleetModelOptions {
  /** Replicas in the fleet: 1 to 1000. */
  readonly replicas: number
  /** Fleet mode (the fleet protocol over shared memory) or every replica alone. */
  readonly shared: boolean
  /** The strategy every replica runs. Default: `circuit(FLEET_DEFAULT_CONFIG)`. Only what it shares (`Strategy.share`) crosses replicas. */
  readonly strategy?: Strategy<unknown>
  /** Requests per second across the fleet (Poisson arrivals). Default 200. */
  readonly rps?: number
  /** How often a replica runs a round (staggered across replicas). Default 250. */
  readonly syncMs?: number
  /** How long a published trip takes to reach the others (it is published by the replica's next round). Default 2. */
  readonly publishDelayMs?: number
  /** The upstream's failure rate while healthy. Default 0.01. */
  readonly baselineFailureRate?: number
  /** When the upstream fails for the faulty replicas (the replicas' windows fill with healthy traffic before). Default 20,000. */
  readonly outageAtMs?: number
  /** How many replicas the fault hits (the first ones): 1 to `replicas`. Default: all of them. */
  readonly faulty?: number
  /** When the upstream heals (after `outageAtMs`), or never. */
  readonly recoverAtMs?: number
  /** How long after the outage to keep simulating (replicas still closed then never opened). Default 60,000. */
  readonly horizonMs?: number
  /** Call latency. Default 5. */
  readonly latencyMs?: number
  /** The fleet protocol's policy. Default: the core's, with `leaseMs` four rounds (at least 1 s), as in Redis. */
  readonly policy?: Partial<FleetPolicy>
  /** The seed of the random draws (arrivals, failures). Default 1. */
  readonly seed?: number
}

/** What one fleet run measured, from the moment the upstream failed. */
export interface FleetRun {
  /** The fleet's size. */
  readonly replicas: number
  /** Whether it ran in fleet mode. */
  readonly shared: boolean
  /** Replicas the fault hit. */
  readonly faulty: number
  /** Until the first faulty replica opened (`null`: none did within the horizon). */
  readonly firstOpenMs: number | null
  /** Until every faulty replica was open (`null`: some never opened within the horizon). */
  readonly allOpenMs: number | null
  /** Calls that reached the failing upstream until every faulty replica was open (or the horizon, or the recovery). */
  readonly wasted: number
  /** Good calls the healthy replicas rejected after the fault began. */
  readonly healthyRejected: number
  /** Healthy replicas that opened after the fault began. */
  readonly healthyOpened: number
  /** With `recoverAtMs`: calls admitted by not-closed faulty replicas after the recovery until all closed (the probes); else `null`. */
  readonly probes: number | null
  /** With `recoverAtMs`: from the recovery until every faulty replica is closed (`null`: not within the horizon, or no recovery). */
  readonly allClosedMs: number | null
}

/** The config of the fleet model's replicas unless told otherwise. */
export const FLEET_DEFAULT_CONFIG: CircuitConfigInput = {
  trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 20, window: { kind: 'time', durationMs: 10_000, buckets: 10 } },
  openFor: { kind: 'constant', ms: 600_000 },
}

let fleetDefault: Strategy<unknown> | undefined
const defaultStrategy = (): Strategy<unknown> => {
  fleetDefault ??= circuit(FLEET_DEFAULT_CONFIG) as Strategy<unknown>
  return fleetDefault
}

const exponential = (random: () => number, mean: number): number => -Math.log(1 - random()) * mean

const NAME = 'upstream'

interface Settings {
  readonly n: number
  readonly shared: boolean
  readonly rps: number
  readonly syncMs: number
  readonly publishDelayMs: number
  readonly baseline: number
  readonly outageAt: number
  readonly recoverAt: number
  readonly horizon: number
  readonly latency: number
  readonly faulty: number
  readonly policy: FleetPolicy
}

const settingsOf = (options: FleetModelOptions): Settings => {
  const n = options.replicas
  if (!(Number.isInteger(n) && n >= 1 && n <= 1000)) throw new RangeError(`simulateFleet: replicas must be 1 to 1000, got ${n}`)
  const faulty = options.faulty ?? n
  if (!(Number.isInteger(faulty) && faulty >= 1 && faulty <= n))
    throw new RangeError(`simulateFleet: faulty must be an integer from 1 to replicas (${n}), got ${faulty}`)
  const s = {
    n,
    shared: options.shared,
    rps: options.rps ?? 200,
    syncMs: options.syncMs ?? 250,
    publishDelayMs: options.publishDelayMs ?? 2,
    baseline: options.baselineFailureRate ?? 0.01,
    outageAt: options.outageAtMs ?? 20_000,
    recoverAt: options.recoverAtMs ?? Number.POSITIVE_INFINITY,
    horizon: (options.outageAtMs ?? 20_000) + (options.horizonMs ?? 60_000),
    latency: options.latencyMs ?? 5,
    faulty,
    policy: fleetPolicy({ leaseMs: Math.max(1000, (options.syncMs ?? 250) * 4), ...options.policy }),
  }
  if (
    !(
      s.rps > 0 &&
      s.syncMs >= 1 &&
      s.publishDelayMs >= 0 &&
      s.baseline >= 0 &&
      s.baseline <= 1 &&
      s.outageAt >= 0 &&
      s.latency >= 0 &&
      s.recoverAt > s.outageAt
    )
  )
    throw new RangeError(
      'simulateFleet: rps and syncMs must be positive; delays, latency and outageAtMs non-negative; the baseline in [0, 1]; recoverAtMs after outageAtMs',
    )
  return s
}

/** One simulated fleet, stepped event by event. */
class FleetModel {
  private readonly random: () => number
  private readonly states: unknown[]
  private readonly members: FleetMember[]
  private readonly requests: number[]
  private readonly store: MemoryFleet
  private readonly opened: Array<number | null>
  private readonly closedAfter: Array<number | null>
  private readonly outcomes: Array<{ at: number; replica: number; ticket: Decision; failed: boolean }> = []
  private nextOutcome = 0
  private readonly messages: Array<{
    at: number
    from: number
    event: 'tripped' | 'recovered'
    evidence: ReadonlyArray<Evidence>
    tally: Tally | null
  }> = []
  private nextMessage = 0
  private readonly nextSync: number[]
  private faultyOpen = 0
  private faultyClosed = 0
  wasted = 0
  healthyRejected = 0
  probes = 0

  constructor(
    private readonly s: Settings,
    private readonly strategy: Strategy<unknown>,
    seed: number,
  ) {
    this.random = seeded(seed)
    this.states = Array.from({ length: s.n }, () => strategy.initial(0))
    this.members = Array.from({ length: s.n }, () => fleetMember(null))
    this.requests = Array.from({ length: s.n }, () => 0)
    this.opened = Array.from({ length: s.n }, () => null)
    this.closedAfter = Array.from({ length: s.n }, () => null)
    this.nextSync = Array.from({ length: s.n }, (_, i) => (s.syncMs * (i + 0.5)) / s.n)
    this.store = new MemoryFleet(s.policy.leaseMs)
  }

  private faultyAt(i: number, now: number): boolean {
    return i < this.s.faulty && now >= this.s.outageAt && now < this.s.recoverAt
  }

  private step(i: number, event: BreakerEvent, now: number): Decision {
    const [next, decision] = this.strategy.step(this.states[i], event, now)
    this.states[i] = next
    const state = this.strategy.inspect(next).state
    if (state === 'open' && this.opened[i] === null && now >= this.s.outageAt) {
      this.opened[i] = now
      if (i < this.s.faulty) this.faultyOpen++
    }
    if (state === 'closed' && now >= this.s.recoverAt && this.opened[i] !== null && this.closedAfter[i] === null) {
      this.closedAfter[i] = now
      if (i < this.s.faulty) this.faultyClosed++
    }
    return decision
  }

  private view(i: number) {
    const state = this.states[i]
    return { snapshot: this.strategy.inspect(state), share: this.strategy.share?.(state) ?? [], requests: this.requests[i] ?? 0 }
  }

  private apply(i: number, outcome: FleetOutcome, now: number): void {
    this.members[i] = outcome.member
    for (const event of outcome.events) this.step(i, event, now)
  }

  private sync(i: number, now: number): void {
    this.step(i, BreakerEvent.ticked(), now)
    const before = this.view(i)
    const { member, plan } = planRound(this.s.policy, this.members[i] ?? fleetMember(null), before, now)
    const reply = this.store.round(NAME, `r${i}`, plan, now)
    this.apply(i, absorbRound(this.s.policy, member, plan, reply, this.view(i), now), now)
    if (plan.publish !== null)
      this.publish({ at: now + this.s.publishDelayMs, from: i, event: plan.publish, evidence: plan.tripEvidence, tally: plan.tripTally })
  }

  /** Queues a published message, in time order. */
  private publish(message: {
    at: number
    from: number
    event: 'tripped' | 'recovered'
    evidence: ReadonlyArray<Evidence>
    tally: Tally | null
  }): void {
    let k = this.messages.length
    while (k > this.nextMessage && (this.messages[k - 1]?.at ?? 0) > message.at) k--
    this.messages.splice(k, 0, message)
  }

  private deliver(now: number): void {
    const m = this.messages[this.nextMessage++]
    if (m === undefined) return
    for (let i = 0; i < this.s.n; i++)
      if (i !== m.from)
        this.apply(
          i,
          hearPeer(
            this.s.policy,
            this.members[i] ?? fleetMember(null),
            { replica: `r${m.from}`, event: m.event, evidence: m.evidence, tally: m.tally },
            this.view(i),
            now,
          ),
          now,
        )
  }

  private arrive(now: number): void {
    const { n } = this.s
    const i = Math.min(n - 1, Math.floor(this.random() * n))
    const failed = this.faultyAt(i, now) || this.random() < this.s.baseline
    const closed = this.strategy.inspect(this.states[i]).state === 'closed'
    this.requests[i] = (this.requests[i] ?? 0) + 1
    const decision = this.step(i, BreakerEvent.requested(), now)
    if (decision._tag === 'Admitted') {
      if (this.faultyAt(i, now) && this.faultyOpen < this.s.faulty) this.wasted++
      if (!closed && i < this.s.faulty && now >= this.s.recoverAt && this.faultyClosed < this.s.faulty) this.probes++
      this.outcomes.push({ at: now + this.s.latency, replica: i, ticket: decision, failed })
    } else if (i >= this.s.faulty && now >= this.s.outageAt) this.healthyRejected++
  }

  private done(): boolean {
    const { s } = this
    if (s.recoverAt !== Number.POSITIVE_INFINITY) return this.faultyClosed === s.faulty
    // A shared fault is over once all are open; a local one runs on, to count the healthy replicas' rejections.
    return s.faulty === s.n && this.faultyOpen === s.n
  }

  run(): FleetRun {
    const { s } = this
    let arrival = exponential(this.random, 1000 / s.rps)
    while (!this.done()) {
      let syncAt = Number.POSITIVE_INFINITY
      let syncer = -1
      if (s.shared)
        for (let i = 0; i < s.n; i++)
          if ((this.nextSync[i] ?? Number.POSITIVE_INFINITY) < syncAt) {
            syncAt = this.nextSync[i] ?? Number.POSITIVE_INFINITY
            syncer = i
          }
      const outcomeAt = this.outcomes[this.nextOutcome]?.at ?? Number.POSITIVE_INFINITY
      const messageAt = this.messages[this.nextMessage]?.at ?? Number.POSITIVE_INFINITY
      const now = Math.min(arrival, outcomeAt, syncAt, messageAt)
      if (now > s.horizon) break
      if (now === outcomeAt) {
        const o = this.outcomes[this.nextOutcome++]
        if (o?.ticket._tag === 'Admitted')
          this.step(o.replica, o.failed ? BreakerEvent.failed(o.ticket, s.latency) : BreakerEvent.succeeded(o.ticket, s.latency), now)
      } else if (now === messageAt) this.deliver(now)
      else if (now === syncAt) {
        this.sync(syncer, now)
        this.nextSync[syncer] = now + s.syncMs
      } else {
        this.arrive(now)
        arrival = now + exponential(this.random, 1000 / s.rps)
      }
    }
    return this.result()
  }

  private result(): FleetRun {
    const { s } = this
    const times = this.opened.slice(0, s.faulty).map((t) => (t === null ? null : t - s.outageAt))
    const opened = times.filter((t): t is number => t !== null)
    const closed = this.closedAfter.slice(0, s.faulty).filter((t): t is number => t !== null)
    const recovering = s.recoverAt !== Number.POSITIVE_INFINITY
    return {
      replicas: s.n,
      shared: s.shared,
      faulty: s.faulty,
      firstOpenMs: opened.length === 0 ? null : Math.min(...opened),
      allOpenMs: opened.length < s.faulty ? null : Math.max(...opened),
      wasted: this.wasted,
      healthyRejected: this.healthyRejected,
      healthyOpened: this.opened.slice(s.faulty).filter((t) => t !== null).length,
      probes: recovering ? this.probes : null,
      allClosedMs: recovering && closed.length === s.faulty ? Math.max(...closed) - s.recoverAt : null,
    }
  }
}

/**
 * Simulates one fleet.
 *
 * @example
 * import { simulateFleet } from '@datapunk/breaker-sim'
 * // The upstream is dead from the first call: each replica alone needs minimumCalls (20) failures.
 * const alone = simulateFleet({ replicas: 50, shared: false, outageAtMs: 0, seed: 1 })
 * const fleet = simulateFleet({ replicas: 50, shared: true, outageAtMs: 0, seed: 1 })
 * alone.wasted >= 1000 // true
 * fleet.wasted < 200 // true
 * // A fault on one replica of four: it opens as fast as alone, and the healthy three reject nothing.
 * const local = simulateFleet({ replicas: 4, shared: true, faulty: 1, seed: 1 })
 * local.healthyRejected // 0
 */
export const simulateFleet = (options: FleetModelOptions): FleetRun =>
  new FleetModel(settingsOf(options), options.strategy ?? defaultStrategy(), options.seed ?? 1).run()
