import { type Admitted, BreakerEvent, type Decision, type Snapshot, type Strategy, swapStrategy } from '@datapunk/breaker'

/** Drives a strategy step by step in a test, holding the state the way a breaker handle would. */
export class Harness<S> {
  state: S
  constructor(
    public strategy: Strategy<S>,
    now = 0,
  ) {
    this.state = strategy.initial(now)
  }

  step(event: BreakerEvent, now: number): Decision {
    const [next, decision] = this.strategy.step(this.state, event, now)
    this.state = next
    return decision
  }

  request(now: number): Decision {
    return this.step(BreakerEvent.requested(), now)
  }

  /** Requests and, if admitted, settles the call at once; returns the request's decision. */
  call(now: number, outcome: 'success' | 'failure', latencyMs = 1): Decision {
    const decision = this.request(now)
    if (decision._tag === 'Admitted') this.settle(decision, outcome, now + latencyMs, latencyMs)
    return decision
  }

  settle(ticket: Admitted, outcome: 'success' | 'failure', now: number, latencyMs = 1): Decision {
    return this.step(outcome === 'success' ? BreakerEvent.succeeded(ticket, latencyMs) : BreakerEvent.failed(ticket, latencyMs), now)
  }

  /** Moves to `next` as a breaker handle's `swap` would. */
  swap(next: Strategy<S>, now: number): void {
    this.state = swapStrategy(this.strategy, this.state, next, now)
    this.strategy = next
  }

  get snapshot(): Snapshot {
    return this.strategy.inspect(this.state)
  }
}

/** Asserts a decision is an admission and returns it as a ticket. */
export const admitted = (decision: Decision): Admitted => {
  if (decision._tag !== 'Admitted') throw new Error(`expected an admission, got ${JSON.stringify(decision)}`)
  return decision
}
