import {
  BreakerEvent,
  type BuildContext,
  builtInKinds,
  circuit,
  classicHalfOpen,
  composite,
  detectorKind,
  fromConfig,
  literal,
  PositiveInt,
  recoveryKind,
  strategyFromConfig,
  strategyKind,
  struct,
} from '@datapunk/breaker'
import * as t from 'io-ts'
import { describe, expect, it } from 'vitest'
import { Harness } from './harness.js'

/** A user's combinator: trips when at least `quorum` of its members trip (members: any detector kind). */
const QuorumConfig = struct('a quorum detector', { kind: literal('quorum'), quorum: PositiveInt, detectors: t.unknown })
const quorum = detectorKind({
  codec: QuorumConfig,
  build: (c, ctx: BuildContext) => {
    const members = ctx.detectors(c.detectors, 'detectors')
    return composite('quorum', members, (count, tripped) => {
      let n = 0
      for (let i = 0; i < count; i++) if (tripped(i)) n++
      return n >= c.quorum
    })
  },
})

/** A user's leaf detector kind: trips after `length` failures in a row (a consecutive-failures in disguise). */
const RunConfig = struct('a failure run', { kind: literal('failure-run'), length: PositiveInt })
const run = detectorKind({ codec: RunConfig, build: (c, ctx) => ctx.detector({ kind: 'consecutive-failures', threshold: c.length }, '') })

/** A user's strategy kind: a named wrapper around any strategy config. */
const LabelledConfig = struct('a labelled strategy', { kind: literal('labelled'), label: t.string, strategy: t.unknown })
const labelled = strategyKind({
  codec: LabelledConfig,
  build: (c, ctx) => ({ ...ctx.strategy(c.strategy, 'strategy'), name: c.label }),
})

const kinds = { detectors: { quorum, 'failure-run': run }, strategies: { labelled } }

describe('the open registry of part kinds', () => {
  it('any-of, all-of and the adaptive throttle are ordinary kinds of the built-in table', () => {
    expect(Object.keys(builtInKinds.detectors)).toEqual(expect.arrayContaining(['any-of', 'all-of']))
    expect(Object.keys(builtInKinds.strategies)).toEqual(['adaptive-throttle'])
  })

  it("a user's combinator nests built-in and user kinds in JSON, and trips by its own rule", () => {
    const json = JSON.parse(
      JSON.stringify({
        trip: {
          kind: 'quorum',
          quorum: 2,
          detectors: [
            { kind: 'consecutive-failures', threshold: 2 },
            { kind: 'failure-run', length: 3 },
            { kind: 'any-of', detectors: [{ kind: 'failure-count', threshold: 100, window: { kind: 'count', size: 200 } }] },
          ],
        },
      }),
    )
    const decoded = fromConfig(json, { kinds })
    expect(decoded._tag).toBe('Right')
    if (decoded._tag !== 'Right') return
    const h = new Harness(decoded.right)
    h.call(0, 'failure', 1)
    h.call(1, 'failure', 1)
    expect(h.snapshot.state).toBe('closed') // one of three members tripped: below the quorum
    h.call(2, 'failure', 1)
    expect(h.snapshot.state).toBe('open')
    expect(h.snapshot.detectors.map((d) => d.kind)).toEqual(['consecutive-failures', 'consecutive-failures', 'failure-count'])
    // The config reads back: the composite's config lists its members' configs.
    expect(decoded.right.detector.config).toMatchObject({ kind: 'quorum' })
  })

  it('problems inside a nested part are reported at their place in the whole config, all of them', () => {
    const bad = fromConfig(
      {
        trip: {
          kind: 'quorum',
          quorum: 0,
          detectors: [{ kind: 'consecutive-failures', threshold: 0 }, { kind: 'nope' }],
        },
      },
      { kinds },
    )
    expect(bad._tag === 'Left' && bad.left.message.split('\n')).toEqual(['trip.quorum: expected an integer >= 1, got 0'])
    const nested = fromConfig(
      { trip: { kind: 'quorum', quorum: 1, detectors: [{ kind: 'consecutive-failures', threshold: 0 }, { kind: 'nope' }] } },
      { kinds },
    )
    expect(nested._tag === 'Left' && nested.left.message.split('\n')).toEqual([
      'trip.detectors[0].threshold: expected an integer >= 1, got 0',
      expect.stringMatching(/^trip\.detectors\[1\]\.kind: expected one of .*"quorum" \| "failure-run", got "nope"$/),
    ])
  })

  it('nesting is bounded however a kind nests (hostile input cannot recurse without end)', () => {
    let trip: unknown = { kind: 'consecutive-failures', threshold: 1 }
    for (let i = 0; i < 50; i++) trip = { kind: 'quorum', quorum: 1, detectors: [trip] }
    const decoded = fromConfig({ trip }, { kinds })
    expect(decoded._tag === 'Left' && decoded.left.message).toMatch(/expected composites nested at most 8 deep/)
  })

  it("a user's strategy kind wraps any strategy config, a throttle included, through the same context", () => {
    const decoded = strategyFromConfig(
      {
        kind: 'labelled',
        label: 'payments',
        strategy: { kind: 'adaptive-throttle', circuit: { trip: { kind: 'failure-run', length: 2 } } },
      },
      { kinds },
    )
    expect(decoded._tag === 'Right' && decoded.right.name).toBe('payments')
    const unknownKind = strategyFromConfig({ kind: 'labeled', label: 'x', strategy: {} }, { kinds })
    expect(unknownKind._tag === 'Left' && unknownKind.left.message).toBe(
      'kind: expected one of "adaptive-throttle" | "labelled", got "labeled"',
    )
  })

  it('a recovery kind gets the closed detectors’ strictest failure-rate threshold in its context', () => {
    const seen: Array<number | undefined> = []
    const probing = recoveryKind({
      codec: struct('a probing recovery', { kind: literal('probing') }),
      build: (_c, ctx) => {
        seen.push(ctx.closedFailureRate)
        return classicHalfOpen({ probes: 1 })
      },
    })
    circuit(
      {
        trip: { kind: 'failure-rate', threshold: 0.3, minimumCalls: 5, window: { kind: 'count', size: 10 } },
        recovery: { kind: 'probing' },
      },
      { kinds: { recoveries: { probing } } },
    )
    expect(seen).toEqual([0.3])
  })

  it('circuit(config, { kinds }) takes your kinds’ configs at the type level, and still checks the built-in ones', () => {
    const strategy = circuit({ trip: { kind: 'failure-run', length: 2 } }, { kinds })
    expect(strategy.inspect(strategy.initial(0)).state).toBe('closed')
    // @ts-expect-error a built-in kind's config is still checked: threshold must be a number
    expect(() => circuit({ trip: { kind: 'consecutive-failures', threshold: 'two' } }, { kinds })).toThrow()
    // @ts-expect-error a kind nobody registered is refused at the type level (and at run time)
    expect(() => circuit({ trip: { kind: 'failure-run', length: 2 } })).toThrow(/trip\.kind/)
    expect(strategy.step(strategy.initial(0), BreakerEvent.requested(), 1)[1]._tag).toBe('Admitted')
  })
})
