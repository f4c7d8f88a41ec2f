import type { Admitted } from '@datapunk/breaker'

/**
 * Pending outcomes by time, ties in insertion order (for determinism): a binary min-heap of slot
 * numbers over typed arrays, so an admitted call costs no object of the simulator's own. Slots
 * are reused; the arrays double when more calls are in flight than ever before.
 */
export class Outcomes {
  private at = new Float64Array(1024)
  private order = new Float64Array(1024)
  private latency = new Float64Array(1024)
  private failed = new Uint8Array(1024)
  private tickets: Array<Admitted | undefined> = new Array<Admitted | undefined>(1024).fill(undefined)
  private heap = new Int32Array(1024)
  private free: number[] = []
  private slots = 0
  private count = 0
  private inserted = 0

  get size(): number {
    return this.count
  }

  peekAt(): number {
    return this.count === 0 ? Number.POSITIVE_INFINITY : (this.at[this.heap[0] ?? 0] ?? Number.POSITIVE_INFINITY)
  }

  push(at: number, ticket: Admitted, failed: boolean, latencyMs: number): void {
    let slot = this.free.pop()
    if (slot === undefined) {
      if (this.slots === this.at.length) this.grow()
      slot = this.slots++
    }
    this.at[slot] = at
    this.order[slot] = this.inserted++
    this.latency[slot] = latencyMs
    this.failed[slot] = failed ? 1 : 0
    this.tickets[slot] = ticket
    const heap = this.heap
    let i = this.count++
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent] ?? 0
      if (!this.less(slot, p)) break
      heap[i] = p
      i = parent
    }
    heap[i] = slot
  }

  /** Removes the earliest outcome; read it with the accessors below before the next push. */
  pop(): number {
    const heap = this.heap
    const top = heap[0] ?? 0
    const last = heap[--this.count] ?? 0
    let i = 0
    const n = this.count
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      let child = l
      if (r < n && this.less(heap[r] ?? 0, heap[l] ?? 0)) child = r
      const c = heap[child] ?? 0
      if (!this.less(c, last)) break
      heap[i] = c
      i = child
    }
    if (n > 0) heap[i] = last
    this.free.push(top)
    return top
  }

  atOf(slot: number): number {
    return this.at[slot] ?? 0
  }
  failedOf(slot: number): boolean {
    return this.failed[slot] === 1
  }
  latencyOf(slot: number): number {
    return this.latency[slot] ?? 0
  }
  /** The ticket of `slot`, released (a popped slot is free for the next push). */
  takeTicket(slot: number): Admitted {
    const ticket = this.tickets[slot] as Admitted
    this.tickets[slot] = undefined
    return ticket
  }

  private less(a: number, b: number): boolean {
    const x = this.at[a] ?? 0
    const y = this.at[b] ?? 0
    return x < y || (x === y && (this.order[a] ?? 0) < (this.order[b] ?? 0))
  }

  private grow(): void {
    const size = this.at.length * 2
    const widen = <A extends Float64Array | Uint8Array | Int32Array>(old: A, make: (n: number) => A): A => {
      const next = make(size)
      next.set(old)
      return next
    }
    this.at = widen(this.at, (n) => new Float64Array(n))
    this.order = widen(this.order, (n) => new Float64Array(n))
    this.latency = widen(this.latency, (n) => new Float64Array(n))
    this.failed = widen(this.failed, (n) => new Uint8Array(n))
    this.heap = widen(this.heap, (n) => new Int32Array(n))
    this.tickets.length = size
    this.tickets.fill(undefined, size / 2)
  }
}
