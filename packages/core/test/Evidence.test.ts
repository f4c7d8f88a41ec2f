import {
  BreakerEvent,
  type CircuitData,
  type CircuitStrategy,
  circuit,
  type Evidence,
  failureRate,
  InvalidEventError,
  isEvidence,
  mergeEvidence,
} from '@datapunk/breaker'
import { describe, expect, it } from 'vitest'
import { Harness } from './harness.js'

// 10 s in 10 buckets of 1 s: epoch = floor(now / 1000).
const trip = { kind: 'failure-rate', threshold: 0.5, minimumCalls: 10, window: { kind: 'time', durationMs: 10_000, buckets: 10 } } as const
const key = failureRate(trip).key

const fleet = (...buckets: Array<readonly [number, number, number, number]>): Evidence => ({ key, bucketMs: 1000, span: 10, buckets })

describe('evidence', () => {
  it('merges by key and epoch (sums), oldest bucket first', () => {
    const merged = mergeEvidence([
      fleet([3, 5, 1, 0], [4, 2, 2, 0]),
      fleet([4, 1, 0, 0], [2, 7, 7, 0]),
      { key: 'other', bucketMs: 5, span: 2, buckets: [] },
    ])
    expect(merged).toEqual([fleet([2, 7, 7, 0], [3, 5, 1, 0], [4, 3, 2, 0]), { key: 'other', bucketMs: 5, span: 2, buckets: [] }])
    expect(mergeEvidence([])).toEqual([])
  })

  it('is well formed only with counts that add up', () => {
    expect(isEvidence(fleet([1, 2, 1, 0]))).toBe(true)
    expect(isEvidence(fleet([1, 2, 3, 0]))).toBe(false) // more failures than calls
    expect(isEvidence(fleet([1, -1, 0, 0]))).toBe(false)
    expect(isEvidence(fleet([1.5, 1, 0, 0]))).toBe(false)
    expect(isEvidence({ key, bucketMs: 0, span: 10, buckets: [] })).toBe(false)
    expect(isEvidence({ key, bucketMs: 1000, span: 0, buckets: [] })).toBe(false)
    expect(isEvidence({ key, bucketMs: 1000, span: 10, buckets: 'x' })).toBe(false)
    expect(() => BreakerEvent.evidence([fleet([1, 2, 3, 0])])).toThrow(InvalidEventError)
    expect(() => BreakerEvent.evidence('x' as never)).toThrow(/evidence: expected an array/)
  })
})

describe('a time-window detector in a fleet', () => {
  const strategy = circuit({ trip }) as CircuitStrategy<unknown, unknown>

  it('shares only its own counts, bucket by bucket (an empty window too: the fleet needs its span)', () => {
    const h = new Harness(strategy)
    expect(strategy.share?.(h.state)).toEqual([fleet()])
    h.call(500, 'failure')
    h.call(1500, 'success')
    h.call(1600, 'success')
    expect(strategy.share?.(h.state)).toEqual([fleet([0, 1, 1, 0], [1, 2, 0, 0])])
    h.step(BreakerEvent.evidence([fleet([1, 50, 0, 0])]), 1700)
    // What it absorbed is never shared back.
    expect(strategy.share?.(h.state)).toEqual([fleet([0, 1, 1, 0], [1, 2, 0, 0])])
  })

  it('trips on the fleet total when its own calls are too few to judge', () => {
    const h = new Harness(strategy)
    for (let i = 0; i < 4; i++) h.call(1000 + i, 'failure')
    expect(h.snapshot.state).toBe('closed') // 4 calls < minimumCalls 10
    // The other replicas saw 12 calls, 8 failed: 12 of 16 failed in the fleet.
    const d = h.step(BreakerEvent.evidence([fleet([0, 6, 4, 0], [1, 6, 4, 0])]), 1100)
    expect(d._tag).toBe('Recorded')
    expect(h.snapshot.state).toBe('open')
    expect(h.snapshot.reason).toBe('tripped')
  })

  it('judges local and fleet counts together, and reports both', () => {
    const h = new Harness(strategy)
    for (let i = 0; i < 5; i++) h.call(2000, 'success')
    h.step(BreakerEvent.evidence([fleet([2, 10, 5, 0])]), 2000)
    expect(h.snapshot.state).toBe('closed')
    expect(h.snapshot.calls).toBe(15)
    expect(h.snapshot.failures).toBe(5)
    expect(h.snapshot.detectors[0]?.figures).toEqual({ localCalls: 5, localFailures: 0, fleetCalls: 10 })
    // Four more local failures: 9 of 19 stays closed, the fifth makes 10 of 20.
    for (let i = 0; i < 4; i++) h.call(2100, 'failure')
    expect(h.snapshot.state).toBe('closed')
    h.call(2200, 'failure')
    expect(h.snapshot.state).toBe('open')
  })

  it('trips on its own window whatever the fleet says: healthy peers make a local fault trip no later than alone', () => {
    const alone = new Harness(strategy)
    const shared = new Harness(strategy)
    // The other replicas saw 100 calls, 1 failed: the fleet total stays far below 50%.
    shared.step(BreakerEvent.evidence([fleet([1, 100, 1, 0])]), 1000)
    let aloneAt = -1
    let sharedAt = -1
    for (let i = 1; i <= 20; i++) {
      alone.call(1000 + i, 'failure')
      shared.call(1000 + i, 'failure')
      if (aloneAt < 0 && alone.snapshot.state === 'open') aloneAt = i
      if (sharedAt < 0 && shared.snapshot.state === 'open') sharedAt = i
    }
    expect(aloneAt).toBe(10) // minimumCalls, all failed
    expect(sharedAt).toBe(aloneAt) // 10 of 110 in the fleet total, but 10 of 10 here
  })

  it('replaces what it absorbed before, and lets the fleet buckets age out with its own', () => {
    const h = new Harness(strategy)
    h.call(0, 'success')
    h.step(BreakerEvent.evidence([fleet([0, 9, 4, 0])]), 0)
    expect(h.snapshot.calls).toBe(10)
    h.step(BreakerEvent.evidence([]), 100) // the others have nothing now
    expect(h.snapshot.calls).toBe(1)
    h.step(BreakerEvent.evidence([fleet([0, 9, 4, 0])]), 200)
    h.step(BreakerEvent.ticked(), 10_500) // bucket 0 leaves the 10 s window
    expect(h.snapshot.calls).toBe(0)
  })

  it('drops buckets older than its window, counts buckets ahead of its clock as the newest, ignores other keys and junk', () => {
    const h = new Harness(strategy)
    h.call(20_000, 'success') // epoch 20: the window holds epochs 11..20
    h.step(
      BreakerEvent.evidence([
        fleet([10, 100, 100, 0], [11, 1, 0, 0], [22, 2, 0, 0]),
        { key: 'someone else', bucketMs: 1000, span: 10, buckets: [[20, 100, 100, 0]] },
        { key, bucketMs: 500, span: 20, buckets: [[20, 100, 100, 0]] },
        { key, bucketMs: 1000, span: 5, buckets: [[20, 100, 100, 0]] },
      ]),
      20_000,
    )
    expect(h.snapshot.calls).toBe(4)
    expect(h.snapshot.failures).toBe(0)
    const before = h.state
    const junk = { _tag: 'EvidenceReceived', evidence: [{ key, bucketMs: 1000, span: 10, buckets: [[20, 1, 5, 0]] }, null, 7] } as never
    expect(h.step(junk, 20_001)._tag).toBe('Recorded')
    expect(h.snapshot.calls).toBe(1) // every entry was junk: the others counted nothing
    expect(h.step({ _tag: 'EvidenceReceived', evidence: 'junk' } as never, 20_002)).toEqual({ _tag: 'Ignored', reason: 'invalid-event' })
    expect(before).not.toBe(h.state)
  })

  it('round-trips a shared state through its codec and rejects a fleet window at another epoch', () => {
    const h = new Harness(strategy)
    h.call(3000, 'failure')
    h.step(BreakerEvent.evidence([fleet([3, 4, 1, 0], [1, 2, 0, 0])]), 3000)
    const encoded = JSON.parse(JSON.stringify(strategy.codec.encode(h.state as CircuitData<unknown, unknown>)))
    const decoded = strategy.codec.decode(encoded)
    expect(decoded._tag).toBe('Right')
    expect(decoded._tag === 'Right' && strategy.inspect(decoded.right)).toEqual(h.snapshot)
    encoded.detector.remote.epoch = 2
    expect(strategy.codec.decode(encoded)._tag).toBe('Left')
  })

  it('absorbs nothing while open, and a closed circuit starts from its own counts again', () => {
    const h = new Harness(strategy)
    h.step(BreakerEvent.peerTripped(), 0)
    const open = h.state
    expect(h.step(BreakerEvent.evidence([fleet([0, 50, 50, 0])]), 10)._tag).toBe('Recorded')
    expect(h.state).toBe(open)
  })
})

describe('a count-window detector in a fleet', () => {
  it('neither shares nor absorbs (the last N calls of a process have no buckets in common)', () => {
    const strategy = circuit({ trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 2, window: { kind: 'count', size: 5 } } })
    const h = new Harness(strategy)
    h.call(0, 'failure')
    expect(strategy.share?.(h.state)).toEqual([])
    const before = h.state
    h.step(BreakerEvent.evidence([{ key: 'x', bucketMs: 1, span: 1, buckets: [[0, 9, 9, 0]] }]), 0)
    expect(h.state).toBe(before)
  })
})

describe('composites in a fleet', () => {
  it('share and absorb through their members', () => {
    const strategy = circuit({ trip: { kind: 'any-of', detectors: [{ kind: 'consecutive-failures', threshold: 50 }, trip] } })
    const h = new Harness(strategy)
    h.call(0, 'failure')
    expect(strategy.share?.(h.state)).toEqual([fleet([0, 1, 1, 0])])
    h.step(BreakerEvent.evidence([fleet([0, 20, 19, 0])]), 10)
    expect(h.snapshot.state).toBe('open')
  })
})

describe('PeerTripped', () => {
  const strategy = circuit({ trip, openFor: { kind: 'constant', ms: 5000 } })

  it('opens a closed circuit as its own trip would (backoff counts it), with its own reason', () => {
    const h = new Harness(strategy)
    expect(h.step(BreakerEvent.peerTripped(), 100)._tag).toBe('Recorded')
    expect(h.snapshot).toMatchObject({ state: 'open', reason: 'peer-tripped', openUntil: 5100, trips: 1 })
    // Already open: nothing changes.
    const open = h.state
    h.step(BreakerEvent.peerTripped(), 200)
    expect(h.state).toBe(open)
  })

  it('reopens a half-open circuit, and leaves an operator-held one alone', () => {
    const h = new Harness(strategy)
    h.step(BreakerEvent.peerTripped(), 0)
    h.request(5000) // half-open, a probe in flight
    expect(h.snapshot.state).toBe('half-open')
    h.step(BreakerEvent.peerTripped(), 5001)
    expect(h.snapshot).toMatchObject({ state: 'open', reason: 'peer-tripped', trips: 2 })
    h.step(BreakerEvent.forcedOpen(), 5002)
    expect(h.step(BreakerEvent.peerTripped(), 5003)).toEqual({ _tag: 'Ignored', reason: 'illegal-transition' })
  })
})
