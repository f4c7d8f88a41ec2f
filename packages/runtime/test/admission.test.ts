import { circuit } from '@datapunk/breaker'
import { type CallEvent, createBreaker } from '@datapunk/breaker-runtime'
import { VirtualTimeScheduler } from 'rxjs'
import { describe, expect, it } from 'vitest'

const setup = (threshold = 2) => {
  const clock = new VirtualTimeScheduler()
  let now = 0
  clock.now = () => now
  const breaker = createBreaker(
    circuit({
      trip: { kind: 'consecutive-failures', threshold },
      recovery: { kind: 'classic', probes: 1 },
      openFor: { kind: 'constant', ms: 100 },
    }),
    { clock },
  )
  const events: CallEvent[] = []
  breaker.calls$.subscribe((e) => events.push(e))
  return { breaker, events, at: (t: number) => (now = t) }
}

describe('Breaker.admit: an admission settled through itself', () => {
  it('measures the latency on the breaker clock, numbers the call, and settles once', () => {
    const { breaker, events, at } = setup()
    at(10)
    const call = breaker.admit()
    expect(call._tag).toBe('Admitted')
    if (call._tag !== 'Admitted') return
    expect(call.call).toBe(1)
    expect(call.probe).toBe(false)
    at(35)
    expect(call.settle('success')).toBe(true)
    expect(call.settle('failure')).toBe(false) // a late second outcome changes nothing
    expect(events.map((e) => e._tag)).toEqual(['CallAdmitted', 'CallSucceeded'])
    expect(events[1]).toMatchObject({ call: 1, latencyMs: 25 })
  })

  it('failures and timeouts trip; the rejection carries its reason and retry time; a probe is a probe', () => {
    const { breaker, events, at } = setup()
    const a = breaker.admit()
    const b = breaker.admit()
    if (a._tag !== 'Admitted' || b._tag !== 'Admitted') throw new Error('expected two admissions')
    a.settle('failure')
    b.settle('timeout')
    expect(events.filter((e) => e._tag === 'CallFailed').map((e) => (e as { timedOut: boolean }).timedOut)).toEqual([false, true])
    at(40)
    const rejected = breaker.admit()
    expect(rejected).toMatchObject({ _tag: 'Rejected', reason: 'open', retryAfterMs: 60 })
    at(100)
    const probe = breaker.admit()
    expect(probe._tag === 'Admitted' && probe.probe).toBe(true)
  })

  it('a cancelled probe counts nowhere and gives its permit back', () => {
    const { breaker, at } = setup(1)
    const first = breaker.admit()
    if (first._tag === 'Admitted') first.settle('failure')
    at(100)
    const probe = breaker.admit()
    expect(breaker.admit()).toMatchObject({ _tag: 'Rejected', reason: 'half-open-full' })
    if (probe._tag === 'Admitted') probe.settle('cancel')
    expect(breaker.admit()._tag).toBe('Admitted')
    expect(breaker.snapshot().state).toBe('half-open')
  })

  it('refuses an outcome it does not know, changing nothing', () => {
    const { breaker } = setup()
    const call = breaker.admit()
    if (call._tag !== 'Admitted') throw new Error('expected an admission')
    expect(() => call.settle('succeeded' as never)).toThrow(RangeError)
    expect(call.settle('success')).toBe(true)
  })
})
