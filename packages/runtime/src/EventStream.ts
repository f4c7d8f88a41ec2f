/**
 * The smallest observable that does the job: the runtime's events (a breaker's calls and
 * transitions, a group's creations and evictions) are hot streams that anyone can subscribe to
 * with a function or an observer, and that RxJS (`from(breaker.calls$)`), or any library that
 * reads `Symbol.observable`, takes as they are. No operators: pipe them through RxJS if you want
 * those (`@datapunk/breaker-rxjs` has the views ready).
 */

/** What a subscriber may handle; every member is optional. A stream completes when its source ends for good (an adapter detached), if ever. */
export interface Observer<T> {
  /** Takes each value. */
  next?(value: T): void
  /** Takes the error that ends the stream (event streams here never send one). */
  error?(error: unknown): void
  /** The stream ended for good. */
  complete?(): void
}

/** Something that can be stopped (an RxJS `Subscription` is one). */
export interface Unsubscribable {
  /** Stops it; calling it again does nothing. */
  unsubscribe(): void
}

/** Anything with RxJS's `subscribe(observer)`: a config stream, an RxJS Observable, an {@link EventStream}. */
export interface Subscribable<T> {
  /** Starts sending to `observer`; the result stops it. */
  subscribe(observer: Partial<Observer<T>>): Unsubscribable
}

/** The key interop libraries read (`Symbol.observable` where it exists, else the string RxJS falls back to). */
export const observableKey: string | symbol =
  (typeof Symbol === 'function' && (Symbol as unknown as { observable?: symbol }).observable) || '@@observable'

/** A subscription that can hold others and runs their teardown once, on `unsubscribe`. */
export class Subscription implements Unsubscribable {
  private teardowns: Array<() => void> | undefined = []

  constructor(teardown?: () => void) {
    if (teardown !== undefined) this.teardowns?.push(teardown)
  }

  /** True once unsubscribed. */
  get closed(): boolean {
    return this.teardowns === undefined
  }

  /** Adds a teardown (a function or another subscription); run at once if already closed. */
  add(teardown: (() => void) | Unsubscribable): void {
    const run = typeof teardown === 'function' ? teardown : () => teardown.unsubscribe()
    if (this.teardowns === undefined) run()
    else this.teardowns.push(run)
  }

  /** Runs every teardown added, once; later calls do nothing. */

  unsubscribe(): void {
    const teardowns = this.teardowns
    if (teardowns === undefined) return
    this.teardowns = undefined
    const errors: unknown[] = []
    for (const teardown of teardowns) {
      try {
        teardown()
      } catch (error) {
        errors.push(error)
      }
    }
    if (errors.length === 1) throw errors[0]
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} errors while unsubscribing`)
  }
}

/**
 * A handler that threw is reported the way RxJS reports it: thrown again from a fresh task, so
 * the process's `uncaughtException` (or the browser's `error` event) hears of it, and the breaker
 * and the other subscribers never do.
 */
export const report = (error: unknown): void => {
  globalThis.setTimeout(() => {
    throw error
  })
}

/** One subscriber, made safe: a handler that throws is reported, never thrown to the sender. */
export class Sink<T> {
  /** True once completed: it sends nothing more. */
  closed = false
  private readonly handler: ((value: T) => void) | undefined
  private readonly observer: Partial<Observer<T>> | undefined

  constructor(observer: Partial<Observer<T>> | ((value: T) => void)) {
    this.handler = typeof observer === 'function' ? observer : observer.next?.bind(observer)
    this.observer = typeof observer === 'function' ? undefined : observer
  }

  /** The stream ended: tells the observer (once), sends nothing more. */
  complete(): void {
    if (this.closed) return
    this.closed = true
    try {
      this.observer?.complete?.()
    } catch (error) {
      report(error)
    }
  }

  /** Sends `value` to the observer; a handler that throws is reported, not thrown. */

  next(value: T): void {
    if (this.closed || this.handler === undefined) return
    try {
      this.handler(value)
    } catch (error) {
      report(error)
    }
  }
}

/** A hot stream of events: subscribe with a function or an observer; `unsubscribe` to stop. */
export interface EventStream<T> {
  /** Starts sending to a function or an observer; the result stops it and says whether it is closed. */
  subscribe(observer: Partial<Observer<T>> | ((value: T) => void)): Unsubscribable & { readonly closed: boolean }
}

/**
 * An {@link EventStream} whose `subscribe` is `onSubscribe` (which registers the sink and returns
 * its teardown); also an interop observable, so `rxjs.from(stream)` works.
 */
export const eventStream = <T>(onSubscribe: (sink: Sink<T>) => () => void): EventStream<T> => {
  const stream = {
    subscribe(observer: Partial<Observer<T>> | ((value: T) => void)): Subscription {
      const sink = new Sink(observer)
      const teardown = onSubscribe(sink)
      return new Subscription(() => {
        sink.closed = true
        teardown()
      })
    },
    [observableKey](): EventStream<T> {
      return stream
    },
  }
  return stream
}

/**
 * The sending side of a hot stream: `stream` to hand out, `next` to send, `observed` to skip
 * building an event nobody will see. Subscribers added or removed during a delivery take effect
 * from the next one.
 */
export class Channel<T> {
  private sinks: ReadonlyArray<Sink<T>> = []
  private completed = false
  /** The stream its subscribers subscribe to. */
  readonly stream: EventStream<T> = eventStream((sink) => this.add(sink))

  /** Adds a subscriber (copy on write: a delivery in progress keeps its list); returns its removal. */
  add(sink: Sink<T>): () => void {
    if (this.completed) {
      sink.complete()
      return () => {}
    }
    this.sinks = [...this.sinks, sink]
    return () => {
      this.sinks = this.sinks.filter((other) => other !== sink)
    }
  }

  /** True while anyone subscribes. */
  get observed(): boolean {
    return this.sinks.length > 0
  }

  /** Sends `value` to every subscriber, in order. */

  next(value: T): void {
    const sinks = this.sinks
    for (let i = 0; i < sinks.length; i++) sinks[i]?.next(value)
  }

  /** Ends the stream: every subscriber is told `complete` and dropped. */
  complete(): void {
    const sinks = this.sinks
    this.completed = true
    this.sinks = []
    for (const sink of sinks) sink.complete()
  }
}

/** The events of every stream in one (as RxJS's `merge`, for hot streams that never complete). */
export const mergeStreams = <T>(...streams: ReadonlyArray<EventStream<T>>): EventStream<T> =>
  eventStream((sink) => {
    const subscriptions = streams.map((stream) => stream.subscribe((value) => sink.next(value)))
    return () => {
      for (const subscription of subscriptions) subscription.unsubscribe()
    }
  })
