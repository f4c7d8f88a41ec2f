import { circuit } from '@datapunk/breaker'
import { breakerGroup, Channel, createBreaker, mergeStreams, Subscription } from '@datapunk/breaker-runtime'
import { from, type InteropObservable, map, take, toArray, VirtualTimeScheduler } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { reportedDuring } from '../../../test/support/reported.js'

const trip1 = () => circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } })

describe('the runtime event streams', () => {
  it('are interop observables: RxJS from() takes a breaker stream as it is', async () => {
    const breaker = createBreaker(trip1(), { clock: new VirtualTimeScheduler() })
    const tags = from(breaker.calls$ as unknown as InteropObservable<{ _tag: string }>).pipe(
      map((e) => e._tag),
      take(3),
      toArray(),
    )
    const collected = new Promise<string[]>((resolve) => tags.subscribe(resolve))
    const ticket = breaker.request()
    if (ticket._tag === 'Admitted') breaker.failed(ticket, 5)
    breaker.request()
    expect(await collected).toEqual(['CallAdmitted', 'CallFailed', 'CallRejected'])
  })

  it('take functions or observers; unsubscribing stops delivery at once', () => {
    const channel = new Channel<number>()
    const seen: number[] = []
    const byFunction = channel.stream.subscribe((n) => seen.push(n))
    const byObserver = channel.stream.subscribe({ next: (n) => seen.push(n * 10) })
    expect(channel.observed).toBe(true)
    channel.next(1)
    byFunction.unsubscribe()
    channel.next(2)
    byObserver.unsubscribe()
    channel.next(3)
    expect(seen).toEqual([1, 10, 20])
    expect(channel.observed).toBe(false)
    expect(byFunction.closed).toBe(true)
  })

  it('a subscriber unsubscribed by another during a delivery hears nothing more of it', () => {
    const channel = new Channel<string>()
    const seen: string[] = []
    let second: { unsubscribe(): void } | undefined
    channel.stream.subscribe((v) => {
      seen.push(`a:${v}`)
      second?.unsubscribe()
    })
    second = channel.stream.subscribe((v) => seen.push(`b:${v}`))
    channel.next('x')
    channel.next('y')
    expect(seen).toEqual(['a:x', 'a:y'])
  })

  it('a subscriber that throws is reported asynchronously, never to the breaker or the other subscribers', async () => {
    const after: string[] = []
    const reported = await reportedDuring(() => {
      const breaker = createBreaker(trip1(), { clock: new VirtualTimeScheduler() })
      breaker.calls$.subscribe(() => {
        throw new Error('bad subscriber')
      })
      breaker.calls$.subscribe((e) => after.push(e._tag))
      const ticket = breaker.request()
      expect(ticket._tag).toBe('Admitted')
      if (ticket._tag === 'Admitted') breaker.failed(ticket, 1)
      expect(breaker.snapshot().state).toBe('open')
    })
    expect(after).toEqual(['CallAdmitted', 'CallFailed'])
    expect(reported.map((e) => (e as Error).message)).toEqual(['bad subscriber', 'bad subscriber'])
  })

  it('complete: subscribers are told once, late subscribers at once, and nothing is sent after', () => {
    const channel = new Channel<number>()
    const log: string[] = []
    channel.stream.subscribe({ next: (n) => log.push(`next ${n}`), complete: () => log.push('complete') })
    channel.next(1)
    channel.complete()
    channel.next(2)
    channel.stream.subscribe({ complete: () => log.push('late complete') })
    expect(log).toEqual(['next 1', 'complete', 'late complete'])
  })

  it('mergeStreams delivers both in order of sending; metrics$ is calls$ and transitions$', () => {
    const a = new Channel<string>()
    const b = new Channel<string>()
    const seen: string[] = []
    const both = mergeStreams(a.stream, b.stream).subscribe((v) => seen.push(v))
    a.next('a1')
    b.next('b1')
    a.next('a2')
    both.unsubscribe()
    a.next('a3')
    expect(seen).toEqual(['a1', 'b1', 'a2'])
    expect(a.observed || b.observed).toBe(false)

    const breaker = createBreaker(trip1(), { clock: new VirtualTimeScheduler() })
    const tags: string[] = []
    breaker.metrics$.subscribe((e) => tags.push(e._tag))
    const ticket = breaker.request()
    if (ticket._tag === 'Admitted') breaker.failed(ticket, 1)
    expect(tags).toEqual(['CallAdmitted', 'StateChanged', 'CallFailed'])
  })

  it('Subscription runs each teardown once, at once when added after closing', () => {
    const log: string[] = []
    const subscription = new Subscription(() => log.push('first'))
    subscription.add({ unsubscribe: () => log.push('second') })
    subscription.unsubscribe()
    subscription.unsubscribe()
    subscription.add(() => log.push('late'))
    expect(log).toEqual(['first', 'second', 'late'])
    expect(subscription.closed).toBe(true)
  })

  it("a group's events reach a subscriber, and stop when it leaves", () => {
    const group = breakerGroup<string>({ strategyFor: trip1, clock: new VirtualTimeScheduler() })
    const seen: string[] = []
    const watching = group.events$.subscribe((e) => seen.push(`${e._tag}:${String('key' in e ? e.key : '')}`))
    group.get('a')
    watching.unsubscribe()
    group.get('b')
    expect(seen).toEqual(['Created:a'])
  })
})
