import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ByteWriter, valueText } from '../src/series.js'

describe('ByteWriter', () => {
  it('writes a line as a newline, the start, and the value as prom-client writes it, whatever the value', () => {
    const edges = [0, -0, 1, 9, 10, 99, 100, 999_999_999, 1e9, 2 ** 31, 2 ** 53, 1.5, -1, -2.5, 1e21, 1e-7, 0.1 + 0.2, Number.NaN]
    const values = [...edges, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MAX_VALUE, Number.MIN_VALUE]
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom(...values), fc.integer(), fc.nat(), fc.double()), { maxLength: 200 }),
        fc.string({ unit: 'grapheme', maxLength: 12 }),
        (numbers, label) => {
          const writer = new ByteWriter(8) // tiny: every few lines make it grow
          let expected = ''
          for (const n of numbers) {
            const ascii = Buffer.byteLength(label, 'utf8') === label.length
            writer.line(`m{l="${label}"} `, ascii, n)
            expected += `\nm{l="${label}"} ${valueText(n)}`
          }
          writer.write('\n')
          expect(writer.bytes().toString('utf8')).toBe(`${expected}\n`)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('starts over from the beginning after reset, keeping nothing of the last text', () => {
    const writer = new ByteWriter()
    writer.write('a much longer first text')
    writer.reset()
    writer.write('short')
    expect(writer.bytes().toString('utf8')).toBe('short')
  })
})
