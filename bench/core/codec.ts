/**
 * What a store pays to read a circuit's state back: `strategy.codec.decode` of states as JSON
 * gives them (each state a step of a run with ~30% failures, written out and parsed), per state, for
 * a count window with classic recovery and a time window with gradual recovery. The median of the
 * rounds, in this process.
 */
import { BreakerEvent, circuit } from '@datapunk/breaker'

export interface CodecRow {
  readonly case: string
  readonly decodeNs: number
}

const CONFIGS = [
  { name: 'count window, classic', trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 5, window: { kind: 'count', size: 50 } } },
  {
    name: 'time window, gradual',
    trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 5, window: { kind: 'time', durationMs: 10_000, buckets: 10 } },
    recovery: { kind: 'gradual' },
  },
] as const

export const measureDecode = (quick: boolean): CodecRow[] =>
  CONFIGS.map((config) => {
    const strategy = circuit(config)
    let state = strategy.initial(0)
    const states: unknown[] = []
    let seed = 7
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed / 0x7fffffff
    }
    for (let i = 0, now = 0; i < (quick ? 500 : 4000); i++, now += 20) {
      const [next, decision] = strategy.step(state, BreakerEvent.requested(), now)
      state = next
      if (decision._tag === 'Admitted')
        state = strategy.step(state, random() < 0.3 ? BreakerEvent.failed(decision, 5) : BreakerEvent.succeeded(decision, 5), now + 5)[0]
      states.push(JSON.parse(JSON.stringify(strategy.codec.encode(state))))
    }
    const times: number[] = []
    for (let round = 0; round < (quick ? 3 : 9); round++) {
      const started = performance.now()
      for (const s of states) if (strategy.codec.decode(s)._tag !== 'Right') throw new Error(`${config.name}: a state did not decode`)
      times.push(((performance.now() - started) * 1e6) / states.length)
    }
    times.sort((a, b) => a - b)
    return { case: config.name, decodeNs: Math.round(times[times.length >> 1] ?? 0) }
  })
