import { circuit, type Strategy } from '@datapunk/breaker'
import { type Breaker, breakerGroup, type GroupEvent } from '@datapunk/breaker-runtime'
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

describe('a breaker nobody has used yet', () => {
  it('makes its first state on first use, at that time, and behaves as a fresh breaker from then on', () => {
    const c = clock()
    const group = breakerGroup<string>({ strategyFor: () => strategy, clock: c.scheduler })
    const idle = group.get('quiet') // created at 0; an idle key holds no state
    c.set(5000)
    expect(idle.snapshot()).toMatchObject({ state: 'closed', since: 5000, reason: 'initial', generation: 0 })
    expect(strategy.codec.decode(strategy.codec.encode(idle.state as never))._tag).toBe('Right')
    const used = group.get('busy')
    c.set(7000)
    const ticket = used.request()
    expect(ticket._tag).toBe('Admitted')
    used.failed(ticket as never, 1)
    expect(used.snapshot()).toMatchObject({ state: 'open', since: 7000, openUntil: 67_000 })
  })
})

describe('breakerGroup', () => {
  it('100,000 keys touched once never hold more than maxKeys, and idle ones are gone once idle', () => {
    const c = clock()
    const group = breakerGroup<string>({ strategyFor: () => strategy, maxKeys: 10_000, idleEvictMs: 1000, clock: c.scheduler })
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
    const group = breakerGroup<string>({ strategyFor: () => strategy, idleEvictMs: 1000, clock: c.scheduler })
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
    // Each keeps its own name through a swap and a strategy that throws, whatever the others do.
    const other = circuit({ name: 'other', trip: { kind: 'consecutive-failures', threshold: 9 } })
    group.get(80).swap(other)
    const throwing = {
      ...other,
      step: () => {
        throw new Error('boom')
      },
    } as Strategy<unknown>
    group.get(443).swap(throwing)
    group.get(443).request()
    expect([group.get(80).name, group.get(443).name, group.get(8080).name]).toEqual(['port 80', 'port 443', 'port 8080'])
    expect([group.get(80).strategy, group.get(443).strategy, group.get(8080).strategy]).toEqual([other, strategy, strategy])
  })

  it('breakers that share a strategy, name and clock keep them apart: a swap or a broken strategy changes one breaker only', () => {
    const c = clock()
    const other = circuit({ trip: { kind: 'consecutive-failures', threshold: 9 } })
    const group = breakerGroup<string>({ strategyFor: (k) => (k === 'odd' ? other : strategy), clock: c.scheduler })
    const [a, b, odd] = [group.get('a'), group.get('b'), group.get('odd')]
    expect([a.strategy, b.strategy, odd.strategy]).toEqual([strategy, strategy, other])
    expect([a.name, odd.name, a.clock, odd.clock]).toEqual([strategy.name, other.name, c.scheduler, c.scheduler])
    a.swap(other)
    expect([a.strategy, b.strategy, group.get('c').strategy]).toEqual([other, strategy, strategy])
    expect(a.name).toBe(strategy.name) // the name it was given, kept across the swap
    // A strategy that throws: `b` falls back to the one before its swap; `a` and `c` are untouched.
    const throwing = {
      ...other,
      step: () => {
        throw new Error('boom')
      },
    } as Strategy<unknown>
    b.swap(throwing)
    trip(b)
    expect([a.strategy, b.strategy, group.get('c').strategy]).toEqual([other, strategy, strategy])
  })

  it('refuses a cap below one', () => {
    expect(() => breakerGroup({ strategyFor: () => strategy, maxKeys: 0 })).toThrow(
      'expected idleEvictMs >= 0 and maxKeys an integer >= 1, got 600000 and 0',
    )
  })

  const trip = (breaker: Breaker) => {
    const ticket = breaker.request()
    if (ticket._tag === 'Admitted') breaker.failed(ticket, 1)
  }

  it('never replaces an open breaker with a fresh closed one at the cap (maxKeys: 2, open db, get a and b)', () => {
    const c = clock()
    const group = breakerGroup<string>({ strategyFor: () => strategy, maxKeys: 2, clock: c.scheduler })
    const events: GroupEvent<string>[] = []
    group.events$.subscribe((e) => events.push(e))
    const db = group.get('db')
    trip(db)
    group.get('a')
    group.get('b')
    expect(group.peek('db')).toBe(db)
    expect(group.get('db').snapshot().state).toBe('open')
    expect(
      events
        .filter((e) => e._tag !== 'Created')
        .map((e) => (e._tag === 'Evicted' ? `evicted ${e.key} (${e.reason})` : `over capacity at ${e.key}`)),
    ).toEqual([
      'evicted a (capacity)', // to make room for b; db, open, was set aside, not dropped
    ])
  })

  it('under churn, keeps every open breaker, grows past the cap only when all it holds are open, and says so', () => {
    const c = clock()
    const group = breakerGroup<string>({ strategyFor: () => strategy, maxKeys: 1000, idleEvictMs: 10, clock: c.scheduler })
    const overCapacity: number[] = []
    group.events$.subscribe((e) => {
      if (e._tag === 'OverCapacity') overCapacity.push(e.size)
    })
    const open: Breaker[] = []
    for (let i = 0; i < 900; i++) {
      const breaker = group.get(`sick-${i}`)
      trip(breaker)
      open.push(breaker)
    }
    for (let i = 0; i < 20_000; i++) {
      c.set(i)
      group.get(`churn-${i}`)
    }
    expect(open.filter((b, i) => group.peek(`sick-${i}`) === b && b.snapshot().state === 'open')).toHaveLength(900)
    expect(group.size).toBeLessThanOrEqual(1000)
    expect(overCapacity).toEqual([])
    // 200 more open ones: now every breaker held is open, and the group grows rather than forget one.
    for (let i = 0; i < 200; i++) trip(group.get(`sicker-${i}`))
    expect(group.size).toBe(1100)
    expect(overCapacity.at(-1)).toBe(1100)
  })

  it('evictIdle() looks at each breaker set aside once, and returns (it went round an open one forever)', () => {
    const c = clock()
    let reads = 0
    // A loop that never ends throws here (every look at a breaker reads the clock) instead of hanging the run.
    const read = c.scheduler.now
    c.scheduler.now = () => {
      if (++reads > 10_000) throw new Error('read the clock 10,000 times: a loop that does not end')
      return read()
    }
    const group = breakerGroup<string>({ strategyFor: () => strategy, maxKeys: 2, idleEvictMs: 10, clock: c.scheduler })
    trip(group.get('sick'))
    group.get('a')
    group.get('b') // room for b: sick (open) is set aside, a (closed, no evidence) dropped
    expect([...group.keys()]).toEqual(['b', 'sick'])
    c.set(100)
    reads = 0
    expect(group.evictIdle()).toBe(1) // b, idle; sick is open until 60,000 and stays
    expect([...group.keys()]).toEqual(['sick'])
    expect(reads).toBeLessThanOrEqual(10)
    c.set(70_000)
    expect(group.evictIdle()).toBe(1) // sick: idle and past its open time, its trip remembered
    expect(group.size).toBe(0)
    expect(group.remembered).toBe(1)
  })

  it('a breaker set aside and used again goes back to the recent line, and its key is held once', () => {
    const c = clock()
    const group = breakerGroup<string>({ strategyFor: () => strategy, maxKeys: 2, idleEvictMs: 10, clock: c.scheduler })
    const sick = group.get('sick')
    trip(sick)
    group.get('a')
    group.get('b') // sick set aside
    expect(group.get('sick')).toBe(sick)
    expect([...group.keys()]).toEqual(['b', 'sick'])
    expect([...group.entries()].map(([key, breaker]) => [key, breaker.name])).toEqual([
      ['b', strategy.name],
      ['sick', strategy.name],
    ])
    expect(group.size).toBe(2)
  })

  it('get of a new key looks at O(1) breakers amortised, however many are open (9,000 open)', () => {
    const c = clock()
    let inspections = 0
    const counted: Strategy<unknown> = {
      ...strategy,
      inspect: (s) => {
        inspections++
        return strategy.inspect(s as never)
      },
    } as Strategy<unknown>
    const group = breakerGroup<string>({ strategyFor: () => counted, maxKeys: 100_000, idleEvictMs: 10, clock: c.scheduler })
    for (let i = 0; i < 9000; i++) trip(group.get(`sick-${i}`))
    c.set(1000) // every open breaker is idle now
    group.get('first') // one scan sets them aside, once
    inspections = 0
    for (let i = 0; i < 10_000; i++) {
      c.set(1000 + i)
      group.get(`new-${i}`)
    }
    expect(inspections / 10_000).toBeLessThanOrEqual(4)
    expect(group.size).toBeGreaterThanOrEqual(9000)
  })
})

describe('idle keyed breakers', () => {
  it('build their subjects only when watched, and never share them: a watcher sees its own breaker only', () => {
    const group = breakerGroup<string>({ strategyFor: () => strategy })
    const a = group.get('a')
    const b = group.get('b')
    const seenA: string[] = []
    const statesA: string[] = []
    a.transitions$.subscribe((e) => seenA.push(e._tag))
    a.state$.subscribe((s) => statesA.push(s.state))
    // b is not watched: tripping it reaches nobody, and above all not a's watchers.
    const call = b.request()
    if (call._tag === 'Admitted') b.failed(call, 1)
    expect(b.snapshot().state).toBe('open')
    expect(seenA).toEqual([])
    expect(statesA).toEqual(['closed'])
    // Watched after the fact, b reports its state now and its transitions from then on.
    const statesB: string[] = []
    const seenB: string[] = []
    b.state$.subscribe((s) => statesB.push(s.state))
    b.metrics$.subscribe((e) => seenB.push(e._tag))
    b.dispatch({ _tag: 'Reset' })
    expect(statesB).toEqual(['open', 'closed'])
    expect(seenB).toContain('StateChanged')
    expect(seenA).toEqual([])
    const own = a.request()
    if (own._tag === 'Admitted') a.failed(own, 1)
    expect(seenA).toEqual(['StateChanged'])
    expect(statesA).toEqual(['closed', 'open'])
  })
})

describe('a group that keeps detecting under any pattern of keys', () => {
  const tripped = circuit({ trip: { kind: 'consecutive-failures', threshold: 5 }, openFor: { kind: 'constant', ms: 1000 } })
  const fail = (breaker: Breaker): boolean => {
    const ticket = breaker.request()
    if (ticket._tag !== 'Admitted') return false
    breaker.failed(ticket, 1)
    return true
  }
  const tripOnce = (breaker: Breaker) => {
    for (let i = 0; i < 5; i++) fail(breaker)
  }

  it('1,000 keys that tripped once and went idle do not push out 50 dead hosts: all 50 open, 250 calls reach them', () => {
    const c = clock()
    const group = breakerGroup<string>({ strategyFor: () => tripped, maxKeys: 1000, idleEvictMs: 60_000, clock: c.scheduler })
    for (let i = 0; i < 1000; i++) tripOnce(group.get(`once-${i}`))
    c.set(3_600_000) // an hour later: every one idle, long past its open time
    let reached = 0
    for (let round = 0; round < 100; round++) {
      for (let h = 0; h < 50; h++) if (fail(group.get(`dead-${h}`))) reached++
    }
    const open = Array.from({ length: 50 }, (_, h) => group.peek(`dead-${h}`)?.snapshot().state).filter((s) => s === 'open')
    expect(open).toHaveLength(50)
    expect(reached).toBe(250)
    expect(group.size).toBeLessThanOrEqual(1000)
  })

  it('prefers dropping breakers that hold no evidence, and says when the cap forces it to drop evidence', () => {
    const c = clock()
    const group = breakerGroup<string>({ strategyFor: () => tripped, maxKeys: 3, clock: c.scheduler })
    const events: string[] = []
    group.events$.subscribe((e) => {
      if (e._tag === 'Evicted') events.push(`${e.key} ${e.reason} ${e.evidence}`)
    })
    const counting = group.get('counting')
    fail(counting)
    fail(counting)
    group.get('clean-1')
    group.get('clean-2')
    group.get('new-1') // counting is the least recently used, but holds two failures
    expect(group.peek('counting')).toBe(counting)
    fail(group.get('new-1'))
    fail(group.get('clean-2'))
    group.get('new-2') // every one held counts failures now: one must go
    expect(events).toEqual(['clean-1 capacity none', 'counting capacity lost'])
  })

  it('20,000 keys that tripped once: a day later evictIdle() holds none of them, and remembers at most maxKeys trips', () => {
    const c = clock()
    const group = breakerGroup<string>({ strategyFor: () => tripped, maxKeys: 1000, idleEvictMs: 60_000, clock: c.scheduler })
    let forgotten = 0
    group.events$.subscribe((e) => {
      if (e._tag === 'Forgotten') forgotten++
    })
    for (let i = 0; i < 20_000; i++) {
      c.set(i)
      tripOnce(group.get(`once-${i}`))
    }
    expect(group.size).toBe(20_000) // each still in its open time when the next came: none could go
    c.set(86_400_000)
    group.evictIdle()
    expect(group.size).toBe(0)
    expect(group.remembered).toBe(1000)
    expect(forgotten).toBe(19_000)
  })

  it('a key whose breaker was dropped open comes back open until then, and probes first once its time is up', () => {
    const c = clock()
    const long = circuit({
      trip: { kind: 'consecutive-failures', threshold: 1 },
      recovery: { kind: 'classic', probes: 1 },
      openFor: { kind: 'constant', ms: 50_000 },
    })
    const group = breakerGroup<string>({ strategyFor: () => long, maxKeys: 2, idleEvictMs: 10_000, clock: c.scheduler })
    fail(group.get('sick'))
    c.set(60_000) // idle, and past its open time (50 s)
    group.get('a')
    group.get('b') // room for b: sick is stale, dropped and remembered
    expect(group.peek('sick')).toBeUndefined()
    expect(group.remembered).toBe(1)
    const back = group.get('sick')
    expect(back.snapshot()).toMatchObject({ state: 'open', openUntil: 60_000 })
    expect(back.request()).toMatchObject({ _tag: 'Admitted', probe: true })
    expect(back.request()).toMatchObject({ _tag: 'Rejected', reason: 'half-open-full' })
    expect(group.remembered).toBe(0)
  })
})
