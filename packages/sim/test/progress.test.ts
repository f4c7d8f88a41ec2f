import { describe, expect, it } from 'vitest'
import { progressLine } from '../src/cli/progress.js'

/** A terminal that records what is written, and a clock moved by hand. */
const setup = (isTTY: boolean, env: Record<string, string | undefined> = {}) => {
  let time = 0
  const written: string[] = []
  const progress = progressLine('tune, candidates', { isTTY, write: (text) => written.push(text) }, env, () => time)
  return { progress, written, at: (ms: number) => (time = ms) }
}

describe('the progress line of long commands', () => {
  it('shows done, elapsed and an estimate on a terminal once the work has run 2 s, at most every 200 ms', () => {
    const { progress, written, at } = setup(true)
    at(1_000)
    progress.update(1, 10)
    expect(written).toEqual([])
    at(2_000)
    progress.update(2, 10)
    at(2_100)
    progress.update(3, 10)
    at(2_400)
    progress.update(4, 10)
    at(2_450)
    progress.update(10, 10)
    progress.end()
    expect(written).toEqual([
      '\rtune, candidates: 2/10, 2 s so far, about 8 s left   ',
      '\rtune, candidates: 4/10, 2 s so far, about 4 s left   ',
      '\rtune, candidates: 10/10, 2 s so far, about 0 s left   ',
      '\n',
    ])
  })

  it('writes nothing off a terminal, under CI, or for quick work', () => {
    for (const [isTTY, env] of [
      [false, {}],
      [true, { CI: 'true' }],
      [true, { CI: '1' }],
    ] as const) {
      const { progress, written, at } = setup(isTTY, env)
      at(5_000)
      progress.update(1, 2)
      progress.end()
      expect(written).toEqual([])
    }
    const quick = setup(true, { CI: 'false' })
    quick.at(1_500)
    quick.progress.update(2, 2)
    quick.progress.end()
    expect(quick.written).toEqual([])
  })
})
