import { circuit } from '@datapunk/breaker'
import { breakerGroup } from '@datapunk/breaker-rxjs'
import { VirtualTimeScheduler } from 'rxjs'
import { describe, expect, it } from 'vitest'

const strategy = circuit({ trip: { kind: 'consecutive-failures', threshold: 1 }, openFor: { kind: 'constant', ms: 60_000 } })

/** A scheduler whose clock the test sets. */
const clock = () => {
  const scheduler = new VirtualTimeScheduler()
  let now = 0
  scheduler.now = () => now
  return { scheduler, set: (t: number) => (now = t) }
}

describe('breakerGroup', () => {
  it('100,000 keys touched once never hold more than maxKeys, and idle ones are gone once idle', () => {
    const c = clock()
    const group = breakerGroup<string>({ strategyFor: () => strategy, maxKeys: 10_000, idleEvictMs: 1000, scheduler: c.scheduler })
    let largest = 0
    for (let i = 0; i < 100_000; i++) {
      c.set(i / 1000) // all within the same idle period
      group.get(`host-${i}`)
      largest = Math.max(largest, group.size)
    }
    expect(largest).toBe(10_000)
    expect(group.peek('host-0')).toBeUndefined() // the least recently used went first
    expect(group.peek('host-99999')).toBeDefined()
    c.set(100 + 1000)
    group.get('fresh')
    expect(group.size).toBe(1)
    expect([...group.keys()]).toEqual(['fresh'])
  })

  it('keeps an idle breaker that is open: it still protects its upstream', () => {
    const c = clock()
    const group = breakerGroup<string>({ strategyFor: () => strategy, idleEvictMs: 1000, scheduler: c.scheduler })
    const sick = group.get('sick')
    const ticket = sick.request()
    if (ticket._tag === 'Admitted') sick.failed(ticket, 1)
    group.get('healthy')
    c.set(5000)
    expect(group.evictIdle()).toBe(1)
    expect(group.peek('sick')).toBe(sick)
    expect(group.peek('healthy')).toBeUndefined()
  })

  it('returns the same breaker per key and names it after the key', () => {
    const group = breakerGroup<number>({ strategyFor: () => strategy, nameFor: (port) => `port ${port}` })
    expect(group.get(80)).toBe(group.get(80))
    expect(group.get(80).name).toBe('port 80')
  })

  it('refuses a cap below one', () => {
    expect(() => breakerGroup({ strategyFor: () => strategy, maxKeys: 0 })).toThrow(
      'expected idleEvictMs >= 0 and maxKeys an integer >= 1, got 600000 and 0',
    )
  })
})
