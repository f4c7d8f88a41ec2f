/**
 * A strategy whose custom part throws: every call still settles for its caller, nothing reaches
 * the process as an uncaught exception, the strategy is reported as `ConfigRejected` (once), and
 * the breaker goes back to the strategy it used before (where the call in hand counts as failed).
 */
import {
  canonical,
  circuit,
  circuitOf,
  classicHalfOpen,
  consecutiveFailures,
  constantOpenFor,
  type Detector,
  detectorKind,
} from '@datapunk/breaker'
import { BrokenCircuitError, createBreaker, followConfig, type TransitionEvent } from '@datapunk/breaker-runtime'
import { circuitBreaker } from '@datapunk/breaker-rxjs'
import * as t from 'io-ts'
import { firstValueFrom, of } from 'rxjs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

/** A detector that throws from `which` of its functions. */
const throwing = (which: 'record' | 'initial'): Detector<number> => {
  const config = { kind: 'throwing', which }
  return {
    kind: 'throwing',
    config,
    key: canonical(config),
    initial: () => {
      if (which === 'initial') throw new Error('initial is broken')
      return 0
    },
    record: () => {
      throw new Error('record is broken')
    },
    advance: (s) => s,
    rebase: (s) => s,
    tripped: () => false,
    measure: () => [],
    codec: t.number,
  }
}
const kinds = {
  detectors: {
    throwing: detectorKind({
      codec: t.type({ kind: t.literal('throwing'), which: t.union([t.literal('record'), t.literal('initial')]) }),
      build: (c) => throwing(c.which),
    }),
  },
}

/** A breaker on a working circuit, with its transitions recorded. */
const working = () => {
  const breaker = createBreaker(circuit({ name: 'working', trip: { kind: 'consecutive-failures', threshold: 3 } }))
  const transitions: TransitionEvent[] = []
  breaker.transitions$.subscribe((e) => transitions.push(e))
  return { breaker, transitions }
}

/** Follows one config, given at once. */
const follow = (breaker: ReturnType<typeof working>['breaker'], config: unknown) =>
  followConfig(
    breaker,
    {
      subscribe: (observer: { next?: (c: unknown) => void }) => {
        observer.next?.(config)
        return { unsubscribe: () => {} }
      },
    },
    { kinds },
  )

const uncaught: unknown[] = []
const onUncaught = (error: unknown) => uncaught.push(error)
beforeEach(() => {
  uncaught.length = 0
  process.on('uncaughtException', onUncaught)
  process.on('unhandledRejection', onUncaught)
})
afterEach(() => {
  process.off('uncaughtException', onUncaught)
  process.off('unhandledRejection', onUncaught)
})

const rejections = (transitions: TransitionEvent[]) =>
  transitions.filter((e) => e._tag === 'ConfigRejected').map((e) => (e as { message: string }).message)

describe('a custom part that throws', () => {
  for (const options of [{ timeoutMs: 100 }, {}] as const) {
    it(`on record: execute(${JSON.stringify(options)}) settles, the config is rejected, the old strategy counts the call as failed`, async () => {
      const { breaker, transitions } = working()
      follow(breaker, { name: 'broken', trip: { kind: 'throwing', which: 'record' } })
      expect(breaker.strategy.name).toBe('broken')
      await expect(breaker.execute(async () => 'ok', options)).resolves.toBe('ok')
      expect(breaker.strategy.name).toBe('working')
      expect(breaker.snapshot()).toMatchObject({ state: 'closed', consecutiveFailures: 1, inFlight: 0 })
      expect(rejections(transitions)).toEqual([
        "a part of strategy 'broken' threw on CallSucceeded (Error: record is broken); back to 'working'",
      ])
      // The breaker works on: two more failures trip it.
      for (let i = 0; i < 2; i++) await breaker.execute(() => Promise.reject(new Error('down')), options).catch(() => undefined)
      expect(breaker.snapshot().state).toBe('open')
      await new Promise((resolve) => setTimeout(resolve, 150))
      expect(uncaught).toEqual([])
    })
  }

  it('on record: the operator delivers the value and completes', async () => {
    const { breaker, transitions } = working()
    follow(breaker, { name: 'broken', trip: { kind: 'throwing', which: 'record' } })
    await expect(firstValueFrom(of('value').pipe(circuitBreaker(breaker, { timeoutMs: 100 })))).resolves.toBe('value')
    expect(breaker.strategy.name).toBe('working')
    expect(rejections(transitions)).toHaveLength(1)
    expect(uncaught).toEqual([])
  })

  it('on initial, while adopting the state: the config is rejected and nothing changes', () => {
    const { breaker, transitions } = working()
    follow(breaker, { name: 'broken', trip: { kind: 'throwing', which: 'initial' } })
    expect(breaker.strategy.name).toBe('working')
    expect(rejections(transitions)).toEqual([
      "a part of strategy 'broken' threw adopting the state (Error: initial is broken); back to 'working'",
    ])
    expect(transitions.filter((e) => e._tag === 'ConfigSwapped')).toEqual([])
  })

  it('with no strategy to go back to: calls settle, later calls are rejected, and it is said once', async () => {
    const broken = circuitOf({ name: 'broken', detector: throwing('record'), recovery: classicHalfOpen(), openFor: constantOpenFor(1000) })
    const breaker = createBreaker(broken)
    const transitions: TransitionEvent[] = []
    breaker.transitions$.subscribe((e) => transitions.push(e))
    await expect(breaker.execute(async () => 'ok', { timeoutMs: 100 })).resolves.toBe('ok')
    const rejected = await breaker.execute(async () => 'never').catch((e: unknown) => e)
    expect(rejected).toBeInstanceOf(BrokenCircuitError)
    expect(rejections(transitions)).toEqual([
      "a part of strategy 'broken' threw on CallSucceeded (Error: record is broken); no strategy to go back to: calls are rejected until it is replaced",
    ])
    // Replaced by a working strategy: calls flow again.
    breaker.swap(
      circuitOf({
        name: 'fixed',
        detector: consecutiveFailures({ threshold: 2 }),
        recovery: classicHalfOpen(),
        openFor: constantOpenFor(1000),
      }),
    )
    await expect(breaker.execute(async () => 'ok')).resolves.toBe('ok')
    expect(uncaught).toEqual([])
  })
})

describe('a strategy that cannot even describe its state', () => {
  it('still falls back when its inspect throws while watchers are told of the fallback', async () => {
    const workingStrategy = circuit({ name: 'working', trip: { kind: 'consecutive-failures', threshold: 3 } })
    const breaker = createBreaker(workingStrategy)
    const fail = () => {
      throw new Error('nothing works')
    }
    breaker.swap({ ...workingStrategy, name: 'hopeless', step: fail, inspect: fail } as typeof workingStrategy)
    const transitions: TransitionEvent[] = []
    breaker.transitions$.subscribe((e) => transitions.push(e))
    // Its request threw: the working strategy takes over and admits it.
    await expect(breaker.execute(async () => 'ok')).resolves.toBe('ok')
    expect(breaker.strategy.name).toBe('working')
    expect(rejections(transitions)).toEqual([
      "a part of strategy 'hopeless' threw on CallRequested (Error: nothing works); back to 'working'",
    ])
    await expect(breaker.execute(async () => 'ok')).resolves.toBe('ok')
    expect(uncaught).toEqual([])
  })

  it('snapshot() and state never throw: a strategy whose inspect throws falls back, and is rejected once', () => {
    const workingStrategy = circuit({ name: 'working', trip: { kind: 'consecutive-failures', threshold: 3 } })
    const breaker = createBreaker(workingStrategy)
    const transitions: TransitionEvent[] = []
    breaker.transitions$.subscribe((e) => transitions.push(e))
    breaker.swap({
      ...workingStrategy,
      name: 'blind',
      inspect: () => {
        throw new Error('cannot inspect')
      },
    })
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', mode: 'normal' })
    expect(breaker.strategy.name).toBe('working')
    expect(rejections(transitions)).toEqual([
      "a part of strategy 'blind' threw describing its state (Error: cannot inspect); back to 'working'",
    ])
    expect(breaker.snapshot().state).toBe('closed')
    expect(rejections(transitions)).toHaveLength(1)
  })

  it('with nothing to go back to, snapshot() says it is open by force, as it behaves, and state is its last one', async () => {
    const fail = (): never => {
      throw new Error('no initial state')
    }
    const strategy = { ...circuit({ name: 'stillborn', trip: { kind: 'consecutive-failures', threshold: 3 } }), initial: fail }
    const breaker = createBreaker(strategy)
    const transitions: TransitionEvent[] = []
    breaker.transitions$.subscribe((e) => transitions.push(e))
    expect(breaker.state).toBeUndefined()
    expect(breaker.snapshot()).toMatchObject({ state: 'open', mode: 'forced-open', admitRate: 0, detectors: [] })
    await expect(breaker.execute(async () => 'never')).rejects.toBeInstanceOf(BrokenCircuitError)
    expect(rejections(transitions)).toEqual([
      "a part of strategy 'stillborn' threw describing its state (Error: no initial state); no strategy to go back to: calls are rejected until it is replaced",
    ])
    expect(uncaught).toEqual([])
  })
})
