/**
 * The README's strategy catalogue states each knob's default in parentheses, as `knob` (default).
 * Each stated default must be what `circuit` fills in: the resolved config (`strategy.config`)
 * of the smallest config of that kind holds the same value.
 */
import { readFileSync } from 'node:fs'
import { circuit } from '@datapunk/breaker'
import { describe, expect, it } from 'vitest'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const catalogue = readme.slice(readme.indexOf('## Strategy catalogue'), readme.indexOf('## Semantics'))

/** The rows of the catalogue's tables: kind, and the knobs cell (the last). */
const rows = [...catalogue.matchAll(/^\| `([a-z-]+)` +\|.*\| (.*?) +\|$/gm)].map(([, kind, knobs]) => ({
  kind: kind ?? '',
  knobs: knobs ?? '',
}))

/** `knob` (default ...): each knob with a number as its stated default. */
const statedDefaults = (knobs: string): Array<[string, number]> =>
  [...knobs.matchAll(/`(\w+)` \(([\d,.]+)/g)].map(([, name, value]) => [name ?? '', Number((value ?? '').replace(/,/g, ''))])

const window = { kind: 'count', size: 100 } as const
const model = { bias: 0, weights: { failureRate: 0, failureRateChange: 0, logLatencyRatio: 0, logLatencyRatioChange: 0 } }
/** The smallest config of each kind the catalogue gives defaults for, and where its resolved part is. */
const smallest: Record<string, { config: Parameters<typeof circuit>[0]; part: 'trip' | 'recovery' }> = {
  'failure-rate': { config: { trip: { kind: 'failure-rate', threshold: 0.5, window } }, part: 'trip' },
  'slow-call-rate': { config: { trip: { kind: 'slow-call-rate', threshold: 0.5, slowCallMs: 1000, window } }, part: 'trip' },
  'trend-forecast': { config: { trip: { kind: 'trend-forecast' } }, part: 'trip' },
  learned: { config: { trip: { kind: 'learned', model } }, part: 'trip' },
  // (The stated defaults are the failure signal's; the latency signal's are in the same cell, after a semicolon.)
  cusum: { config: { trip: { kind: 'cusum', signal: 'failure' } }, part: 'trip' },
  classic: { config: { trip: { kind: 'failure-rate', threshold: 0.5, window }, recovery: { kind: 'classic' } }, part: 'recovery' },
  gradual: { config: { trip: { kind: 'failure-rate', threshold: 0.5, window }, recovery: { kind: 'gradual' } }, part: 'recovery' },
}

describe("the README's strategy catalogue", () => {
  it('states defaults for the kinds this test knows, and for no kind it does not', () => {
    const withDefaults = rows.filter((r) => statedDefaults(r.knobs).length > 0).map((r) => r.kind)
    expect(withDefaults.sort()).toEqual(Object.keys(smallest).sort())
  })

  for (const [kind, { config, part }] of Object.entries(smallest)) {
    it(`${kind}: every default it states is the one circuit() fills in`, () => {
      const row = rows.find((r) => r.kind === kind)
      const stated = statedDefaults(row?.knobs ?? '')
      expect(stated.length).toBeGreaterThan(0)
      const resolved = circuit(config).config[part] as unknown as Record<string, unknown>
      for (const [knob, value] of stated) expect({ knob, value: resolved[knob] }).toEqual({ knob, value })
    })
  }
})
