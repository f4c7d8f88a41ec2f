/**
 * Published messages, queued and handled in slices, so a flood never holds the event loop: at
 * most {@link SLICE} per turn, at most {@link INBOX_MAX} waiting (the rest dropped and counted).
 */

/** Published messages waiting to be handled at most; more are dropped (and counted). */
export const INBOX_MAX = 10_000
/** Messages handled per turn of the event loop. */
export const SLICE = 256

export class Inbox {
  private readonly queue: string[] = []
  private draining = false
  private closed = false

  constructor(
    private readonly handle: (text: string) => void,
    /** Told of each message dropped, with how many were dropped so far. */
    private readonly dropped: () => void,
  ) {}

  push(text: string): void {
    if (this.closed) return
    if (this.queue.length >= INBOX_MAX) {
      this.dropped()
      return
    }
    this.queue.push(text)
    if (!this.draining) {
      this.draining = true
      setImmediate(this.drain)
    }
  }

  close(): void {
    this.closed = true
    this.queue.length = 0
  }

  private readonly drain = (): void => {
    for (const text of this.queue.splice(0, SLICE)) this.handle(text)
    if (this.queue.length > 0 && !this.closed) setImmediate(this.drain)
    else this.draining = false
  }
}
