import { type BreakerEvent, type CircuitData, circuit, inPlaceStep, type Strategy, withInPlace } from '@datapunk/breaker'
import { type CallEvent, createBreaker } from '@datapunk/breaker-runtime'
import { VirtualTimeScheduler } from 'rxjs'
import { describe, expect, it } from 'vitest'

/**
 * A breaker steps its own state in place (the strategy's `InPlaceStep`) only while nobody else
 * holds that state: a state it showed or was given is never written, and a wrapper around `step`
 * is never gone around.
 */
const strategy = () =>
  circuit({
    trip: { kind: 'consecutive-failures', threshold: 3 },
    recovery: { kind: 'classic', probes: 1 },
    openFor: { kind: 'constant', ms: 1000 },
  })

const deepFreeze = <T>(value: T): T => {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}

/** `calls` successful calls, then one failure, through `execute`. */
const traffic = async (breaker: ReturnType<typeof createBreaker>, calls: number): Promise<void> => {
  for (let i = 0; i < calls; i++) await breaker.execute(async () => i)
  await breaker.execute(async () => Promise.reject(new Error('down'))).catch(() => undefined)
}

/** The strategy with its twin counted: how often the breaker stepped in place, and how often the whole way. */
const counted = () => {
  const inner = strategy()
  const twin = inPlaceStep(inner)
  if (twin === undefined) throw new Error('circuits have an in-place step')
  const counts = { inPlace: 0, step: 0 }
  const step = withInPlace<CircuitData>(
    (state, event, now) => {
      counts.step++
      return inner.step(state, event, now)
    },
    (state, event, now) => {
      const decision = twin(state, event, now)
      if (decision !== undefined) counts.inPlace++
      return decision
    },
  )
  return { counts, strategy: { ...inner, step } as Strategy<CircuitData> }
}

describe('in-place steps in a breaker', () => {
  it('take the closed calls of a breaker nobody watches: every event after the first request', async () => {
    const { counts, strategy: s } = counted()
    const breaker = createBreaker(s, { clock: new VirtualTimeScheduler() })
    await traffic(breaker, 100)
    // The first request makes the state (the breaker is pristine until then) and takes the whole way.
    expect(counts.step).toBe(1)
    expect(counts.inPlace).toBe(201)
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', inFlight: 0, consecutiveFailures: 1 })
  })

  it('never write a state the breaker showed: `state` read, later calls move on from a copy', async () => {
    const breaker = createBreaker(strategy(), { clock: new VirtualTimeScheduler() })
    await traffic(breaker, 3)
    const shown = deepFreeze(breaker.state as CircuitData)
    const copy = structuredClone(shown)
    // Frozen: a write would throw (ES modules are strict), failing the calls.
    await traffic(breaker, 10)
    expect(shown).toEqual(copy)
    expect(breaker.state).not.toBe(shown)
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', consecutiveFailures: 1 })
  })

  it('never write a state the breaker was given, at creation or by `replace`', async () => {
    const source = createBreaker(strategy(), { clock: new VirtualTimeScheduler() })
    await traffic(source, 2)
    const given = deepFreeze(source.state as CircuitData)
    const restored = createBreaker(strategy(), { clock: new VirtualTimeScheduler(), initialState: given })
    await traffic(restored, 5)
    const replaced = createBreaker(strategy(), { clock: new VirtualTimeScheduler() })
    replaced.replace(strategy() as Strategy<unknown>, given)
    await traffic(replaced, 5)
    expect(given.inFlight).toBe(0)
    expect(given.issued).toBe(3)
    expect(restored.snapshot().consecutiveFailures).toBe(1)
    expect(replaced.snapshot().consecutiveFailures).toBe(1)
  })

  it('never go around a wrapper: a strategy spread from a circuit with its own `step` sees every event', async () => {
    const inner = strategy()
    const seen: string[] = []
    const logged: Strategy<CircuitData> = {
      ...inner,
      step: (state: CircuitData, event: BreakerEvent, now: number) => {
        seen.push(event._tag)
        return inner.step(state, event, now)
      },
    }
    expect(inPlaceStep(logged)).toBeUndefined()
    const breaker = createBreaker(logged, { clock: new VirtualTimeScheduler() })
    await traffic(breaker, 4)
    expect(seen).toEqual([...Array(5).fill(['CallRequested', 'CallSucceeded']).flat().slice(0, 9), 'CallFailed'])
  })

  it('still send every call event to a watcher, in order', async () => {
    const { counts, strategy: s } = counted()
    const breaker = createBreaker(s, { clock: new VirtualTimeScheduler() })
    const events: CallEvent['_tag'][] = []
    breaker.calls$.subscribe((e) => events.push(e._tag))
    await traffic(breaker, 2)
    expect(events).toEqual(['CallAdmitted', 'CallSucceeded', 'CallAdmitted', 'CallSucceeded', 'CallAdmitted', 'CallFailed'])
    expect(counts).toEqual({ inPlace: 5, step: 1 })
  })

  it('send outcomes$ every call event but the admissions, in order, next to calls$', async () => {
    const breaker = createBreaker(strategy(), { clock: new VirtualTimeScheduler() })
    const outcomes: string[] = []
    const calls: string[] = []
    breaker.outcomes$.subscribe((e) => outcomes.push(`${e._tag} ${e.call}`))
    await traffic(breaker, 2)
    breaker.calls$.subscribe((e) => calls.push(`${e._tag} ${e.call}`))
    for (let i = 0; i < 3; i++) await breaker.execute(async () => Promise.reject(new Error('down'))).catch(() => undefined)
    await breaker.execute(async () => 'rejected: open').catch(() => undefined)
    // traffic: two successes and a failure; then two more failures trip it (3 in a row), and the
    // last two calls are rejected.
    expect(outcomes).toEqual([
      'CallSucceeded 1',
      'CallSucceeded 2',
      'CallFailed 3',
      'CallFailed 4',
      'CallFailed 5',
      'CallRejected 6',
      'CallRejected 7',
    ])
    expect(calls).toEqual(['CallAdmitted 4', 'CallFailed 4', 'CallAdmitted 5', 'CallFailed 5', 'CallRejected 6', 'CallRejected 7'])
  })

  it('leave the trip to step: the third failure in a row opens the circuit and tells the watchers', async () => {
    const { counts, strategy: s } = counted()
    const breaker = createBreaker(s, { clock: new VirtualTimeScheduler() })
    const transitions: string[] = []
    breaker.transitions$.subscribe((e) => {
      if (e._tag === 'StateChanged') transitions.push(`${e.from}->${e.to}`)
    })
    for (let i = 0; i < 3; i++) await breaker.execute(async () => Promise.reject(new Error('down'))).catch(() => undefined)
    expect(transitions).toEqual(['closed->open'])
    expect(breaker.snapshot().state).toBe('open')
    // The first request (it makes the state) and the tripping failure take the whole way.
    expect(counts).toEqual({ inPlace: 4, step: 2 })
  })
})
