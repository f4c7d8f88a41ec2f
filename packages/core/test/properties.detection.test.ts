import { circuit } from '@datapunk/breaker'
import { describe, expect, it } from 'vitest'
import { DETECTOR_KINDS } from './arbitraries.js'
import { inPlaceSteps, run } from './invariants.js'

describe('properties of every detection strategy', () => {
  // The properties themselves run a file per kind (properties.detection.*.test.ts); this
  // keeps the files honest: together they cover every detector kind.
  it('cover every detector kind', async () => {
    const { readdirSync, readFileSync } = await import('node:fs')
    const here = new URL('.', import.meta.url)
    const covered = readdirSync(here)
      .filter((f) => /^properties\.detection\.[\w-]+\.test\.ts$/.test(f))
      .flatMap((f) => [...readFileSync(new URL(f, here), 'utf8').matchAll(/'([a-z-]+)'/g)].map((m) => m[1]))
    for (const kind of DETECTOR_KINDS) expect(covered).toContain(kind)
  })
  // Every checked step also runs the in-place twin on a copy (see invariants.ts); this proves, on a
  // script of its own (so it holds whatever ran before or runs alone), that the twin takes some.
  it('the in-place twin of step takes part in the checked steps, equal to step every time', () => {
    const before = inPlaceSteps
    const strategy = circuit({ trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 5, window: { kind: 'count', size: 10 } } })
    run(
      strategy,
      Array.from({ length: 20 }, (_, i) => ({ dt: 1, op: 'call' as const, fail: i % 4 === 0, latencyMs: 1 })),
    )
    expect(inPlaceSteps).toBeGreaterThan(before)
  })
})
