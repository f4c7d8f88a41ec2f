/**
 * Every performance number the READMEs state is one that bench/RESULTS.md records: the record of
 * `pnpm bench` runs (with the command, the machine and the run), which is where a reader checks
 * it. A test cannot time anything (times depend on the machine), so it checks the trail instead:
 * each claim is the README's words next to the record's, and a README number that no record
 * holds, or a record rewritten without the README, fails here until they agree again.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const read = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8').replace(/\s+/g, ' ')
const readme = read('../README.md')
const runtimeReadme = read('../packages/runtime/README.md')
const prometheusReadme = read('../packages/prometheus/README.md')
const results = read('../bench/RESULTS.md')

describe('the performance numbers in the READMEs are the ones bench/RESULTS.md records', () => {
  it('a clock read: "~44 ns more per read" for exactMonotonicClock', () => {
    expect(readme).toContain('`exactMonotonicClock` reads it on every call, ~44 ns more per read')
    expect(results).toContain('`exactMonotonicClock` (the system clock every time) 44.2 ns added')
  })

  it('a retired object shape: "~1,500 ns per call instead of ~70"', () => {
    expect(readme).toContain('paid ~1,500 ns per call instead of ~70 until its code reoptimized')
    expect(results).toContain("made a live breaker's call ~1,500 ns instead of ~70")
  })

  it('a rejection through execute: "242 to 277 ns ... 17.9 to 20.8 times cheaper than the cheapest peer"', () => {
    expect(readme).toContain('242 to 277 ns a rejection in three runs, 17.9 to 20.8 times cheaper than the cheapest peer')
    expect(results).toContain('20.8x (242 ns)')
    expect(results).toContain('17.9x (277 ns)')
  })

  it('classifying HTTP answers: "about 8.5 ns more ... and 2.4 ns through withOptions"', () => {
    expect(runtimeReadme).toContain(
      'a plain success costs about 8.5 ns more than an unclassified call when the options are made once, and 2.4 ns through `withOptions`',
    )
    expect(results).toContain('Before `withOptions`: 8.5 ns alone')
    expect(results).toContain('Classification through `withOptions`: 2.4 ns in the full bench')
  })

  it('the scrape of 10,000 breakers: "42 MB of text"', () => {
    expect(prometheusReadme).toContain(
      '(about 47 series each: 28 of them the duration histograms of successes and failures; 42 MB of text)',
    )
    expect(results).toContain('scrape of 10,000 breakers (470,039 lines, 41.8 MB)')
  })

  it('the checks can fail: a number the record does not hold is not in it', () => {
    expect(results).not.toContain('`exactMonotonicClock` (the system clock every time) 43.0 ns added')
    expect(readme).not.toContain('4,952 to 5,035')
  })
})
