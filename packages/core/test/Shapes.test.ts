import { spawnSync } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'

/**
 * Hidden classes stay put whatever numbers flow through (see src/shapes.ts): states, tickets,
 * rejections and outcome events built at integer times first, then at fractional ones, keep one
 * shape, even after a full collection. Checked in a child Node with V8's test intrinsics
 * (`%HaveSameMap`), against the built package, as users load it.
 */
const core = pathToFileURL(fileURLToPath(new URL('../dist/index.js', import.meta.url))).href

const script = `
const { BreakerEvent, circuit } = await import(${JSON.stringify(core)})
const tripping = circuit({ trip: { kind: 'consecutive-failures', threshold: 1 }, openFor: { kind: 'constant', ms: 1000 } })
const rejection = (start) => {
  const [s, ticket] = tripping.step(tripping.initial(start), BreakerEvent.requested(), start)
  const open = tripping.step(s, BreakerEvent.failed(ticket, 1), start + 1)[0]
  return tripping.step(open, BreakerEvent.requested(), start + 2)[1]
}
const strategy = circuit({ trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 5, window: { kind: 'time', durationMs: 1000, buckets: 4 } } })
const run = (start, latency) => {
  let state = strategy.initial(start)
  const out = []
  for (let i = 0; i < 3; i++) {
    const [admittedState, ticket] = strategy.step(state, BreakerEvent.requested(), start + i)
    const event = BreakerEvent.succeeded(ticket, latency)
    state = strategy.step(admittedState, event, start + i + latency)[0]
    out.push({ state, phase: state.phase, window: state.detector, ticket, event, rejection: rejection(start) })
  }
  return out
}
const integers = run(0, 1)
globalThis.gc()
const fractions = run(1.78e12 + 0.25, 0.375)
const hand = { _tag: 'CallFailed', ticket: integers[0].ticket, latencyMs: 2.5 }
const same = {}
for (const key of Object.keys(integers[0])) same[key] = %HaveSameMap(integers[2][key], fractions[2][key])
same.handBuiltEvent = %HaveSameMap(hand, integers[2].event)
console.log(JSON.stringify(same))
`

describe('hidden classes', () => {
  it('states, phases, windows, tickets, events and rejections keep one shape from integer to fractional times', () => {
    const child = spawnSync(process.execPath, ['--allow-natives-syntax', '--expose-gc', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    })
    expect(child.stderr).toBe('')
    expect(JSON.parse(child.stdout)).toEqual({
      state: true,
      phase: true,
      window: true,
      ticket: true,
      event: true,
      rejection: true,
      handBuiltEvent: true,
    })
  })
})
