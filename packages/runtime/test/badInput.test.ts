/**
 * The runtime's front doors refuse a value of the wrong kind with a `TypeError` or `RangeError`
 * naming it, where it is given and before anything changes, instead of an error from deep inside
 * on a later call (or, for a group given a strategy instead of its config, on the first `get`).
 */
import { circuit } from '@datapunk/breaker'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { breakerGroup, classifyHttp, createBreaker, followConfig, logBreaker, watchBreakers, withOptions } from '../src/index.js'

const strategy = () => circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } })
const bad = (value: unknown) => value as never

describe('createBreaker', () => {
  it('refuses something that is not a strategy, naming what it got', () => {
    expect(() => createBreaker(bad(null))).toThrow(
      new TypeError('createBreaker: expected a strategy (circuit(...), or your own), got null'),
    )
    expect(() => createBreaker(bad({}))).toThrow(
      new TypeError('createBreaker: expected a strategy (circuit(...), or your own), but its name is undefined, not a string'),
    )
    expect(() => createBreaker(bad({ ...strategy(), inspect: 3 }))).toThrow('its inspect is number, not a function')
    expect(() => createBreaker(bad({ ...strategy(), codec: {} }))).toThrow('its codec has no encode and decode functions')
    expect(() => createBreaker(bad({ ...strategy(), adopt: 'yes' }))).toThrow('its adopt is string, not a function')
  })

  it('refuses options that are not an object, a name that is not a string, a clock without now and schedule', () => {
    expect(() => createBreaker(strategy(), bad(null))).toThrow(new TypeError('createBreaker: options must be an object, got null'))
    expect(() => createBreaker(strategy(), bad({ name: 5 }))).toThrow(new TypeError('createBreaker: name must be a string, got number'))
    expect(() => createBreaker(strategy(), bad({ clock: { now: () => 0 } }))).toThrow(
      'createBreaker: clock must have now() and schedule(work, delayMs)',
    )
  })

  it('accepts a strategy made by spreading another (a wrapper), and a clock of your own', () => {
    const inner = strategy()
    const clock = { now: () => 0, schedule: () => ({ unsubscribe: () => {} }) }
    expect(createBreaker({ ...inner, step: inner.step }, { clock }).snapshot().state).toBe('closed')
  })
})

describe('swap and replace', () => {
  it('refuse a non-strategy and leave the breaker as it was', async () => {
    const breaker = createBreaker(strategy(), { name: 'kept' })
    await breaker.execute(async () => 'ok')
    const before = breaker.snapshot()
    const strategyBefore = breaker.strategy
    expect(() => breaker.swap(bad(null))).toThrow(new TypeError('swap: expected a strategy (circuit(...), or your own), got null'))
    expect(() => breaker.replace(bad({ name: 'x' }), {})).toThrow('replace: expected a strategy')
    expect(breaker.snapshot()).toEqual(before)
    await breaker.execute(async () => 'still works')
    expect(breaker.strategy).toBe(strategyBefore)
  })
})

describe('breakerGroup', () => {
  it('given a strategy instead of its config, says how to give it', () => {
    expect(() => breakerGroup(bad(strategy()))).toThrow(
      new TypeError(
        'breakerGroup: expected { strategyFor: (key) => strategy, ... }, got a strategy (give it as strategyFor: () => strategy)',
      ),
    )
  })

  it('refuses a config without strategyFor, hooks that are not functions, a bad clock or idleEvictMs', () => {
    expect(() => breakerGroup(bad(null))).toThrow(new TypeError('breakerGroup: expected a config object, got null'))
    expect(() => breakerGroup(bad({ maxKeys: 5 }))).toThrow(
      new TypeError('breakerGroup: strategyFor must be a function (key) => strategy, got undefined'),
    )
    expect(() => breakerGroup({ strategyFor: strategy, nameFor: bad('host') })).toThrow(
      new TypeError('breakerGroup: nameFor must be a function, got string'),
    )
    expect(() => breakerGroup({ strategyFor: strategy, onCreate: bad(1) })).toThrow('breakerGroup: onCreate must be a function')
    expect(() => breakerGroup({ strategyFor: strategy, clock: bad({}) })).toThrow('breakerGroup: clock must have now()')
    expect(() => breakerGroup({ strategyFor: strategy, idleEvictMs: bad('5') })).toThrow(RangeError)
  })

  it('a strategyFor that returns no strategy fails that get, and the group holds no breaker for it', () => {
    const group = breakerGroup<string>({ strategyFor: (key) => (key === 'bad' ? bad(undefined) : strategy()) })
    expect(group.get('good').snapshot().state).toBe('closed')
    expect(() => group.get('bad')).toThrow(
      new TypeError('breakerGroup: strategyFor(key): expected a strategy (circuit(...), or your own), got undefined'),
    )
    expect(group.size).toBe(1)
    expect([...group.entries()].map(([key]) => key)).toEqual(['good'])
  })

  it('a nameFor that returns no string fails that get', () => {
    const group = breakerGroup<string>({ strategyFor: strategy, nameFor: () => bad(42) })
    expect(() => group.get('a')).toThrow(new TypeError('breakerGroup: nameFor(key) must return a string, got number'))
    expect(group.size).toBe(0)
  })
})

describe('execute, withOptions, followConfig, logBreaker, watchBreakers', () => {
  it('execute rejects (never throws) options that are not an object; the call is never made', async () => {
    const breaker = createBreaker(strategy())
    let called = false
    await expect(
      breaker.execute(async () => {
        called = true
      }, bad(null)),
    ).rejects.toThrow(new TypeError('execute: options must be an object, got null'))
    expect(called).toBe(false)
    expect(breaker.lastCall).toBe(0)
  })

  it('execute rejects a signal that is no AbortSignal, through options and through withOptions', async () => {
    const breaker = createBreaker(strategy())
    let called = false
    const fn = async () => {
      called = true
    }
    await expect(breaker.execute(fn, { signal: bad({}) })).rejects.toThrow(
      new TypeError('execute: signal must be an AbortSignal, got object'),
    )
    await expect(withOptions(breaker, {}).execute(fn, bad('stop'))).rejects.toThrow('execute: signal must be an AbortSignal, got string')
    expect(called).toBe(false)
    await breaker.execute(fn, { signal: new AbortController().signal })
    expect(called).toBe(true)
  })

  it('classifyHttp refuses options that are not an object', () => {
    expect(() => classifyHttp(bad(null))).toThrow(new TypeError('classifyHttp: options must be an object, got null'))
  })

  it('withOptions refuses options that are not an object', () => {
    expect(() => withOptions(createBreaker(strategy()), bad(7))).toThrow(
      new TypeError('withOptions: options must be an object, got number'),
    )
  })

  it('followConfig refuses a non-breaker and a stream without subscribe', () => {
    const breaker = createBreaker(strategy())
    expect(() => followConfig(bad({}), { subscribe: () => ({ unsubscribe: () => {} }) })).toThrow(
      new TypeError('followConfig: expected a breaker (createBreaker), got object'),
    )
    expect(() => followConfig(breaker, bad(null))).toThrow(
      new TypeError('followConfig: configs$ must be subscribable (an Observable, or anything with subscribe), got null'),
    )
  })

  it('logBreaker refuses something that is not a logger', () => {
    const breaker = createBreaker(strategy())
    expect(() => logBreaker(breaker, bad(null))).toThrow(
      new TypeError('logBreaker: expected a pino logger (with isLevelEnabled()), got null'),
    )
    expect(() => logBreaker(breaker, bad({ isLevelEnabled: () => true, info: () => {} }))).toThrow(
      'logBreaker: expected a pino logger (with debug())',
    )
    expect(logBreaker(breaker, pino({ level: 'silent' })).closed).toBe(false)
  })

  it('watchBreakers refuses what is neither a breaker nor a group', () => {
    const watcher = { added: () => {}, removed: () => {} }
    expect(() => watchBreakers(bad(undefined), watcher)).toThrow(
      new TypeError('watchBreakers: expected a breaker (createBreaker) or a breakerGroup, got undefined'),
    )
    expect(() => watchBreakers(bad([]), watcher)).toThrow('got an array')
  })
})
