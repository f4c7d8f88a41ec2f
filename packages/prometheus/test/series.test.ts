import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ByteWriter, LabelSet, SharedLabels, valueText } from '../src/series.js'

describe('ByteWriter', () => {
  const edges = [0, -0, 1, 9, 10, 99, 100, 999_999_999, 1e9, 2 ** 31, 2 ** 53, 1.5, -1, -2.5, 1e21, 1e-7, 0.1 + 0.2, Number.NaN]
  const values = [...edges, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MAX_VALUE, Number.MIN_VALUE]
  const numbers = fc.array(fc.oneof(fc.constantFrom(...values), fc.integer(), fc.nat(), fc.double()), { maxLength: 200 })
  /** Label values: any text, escapes and all (backslash, newline, quote), ASCII or not. */
  const labelValue = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.constantFrom('a\\b', 'a\nb', 'a"b', 'é', '💥'))

  it('writes a line as a newline, the name, the labels, a space and the value as prom-client writes it, whatever the value', () => {
    fc.assert(
      fc.property(numbers, labelValue, (ns, label) => {
        const writer = new ByteWriter(8) // tiny: every few lines make it grow
        const set = new LabelSet({ l: label })
        let expected = ''
        for (const n of ns) {
          writer.line(Buffer.from('m'), set.bytes, n)
          expected += `\nm${set.text} ${valueText(n)}`
        }
        writer.write('\n')
        expect(writer.bytes().toString('utf8')).toBe(`${expected}\n`)
      }),
      { numRuns: 300 },
    )
  })

  it('writes a line of a set followed by shared labels as the text of the set of both', () => {
    fc.assert(
      fc.property(
        numbers,
        fc.array(labelValue, { maxLength: 3 }),
        fc.array(labelValue, { minLength: 1, maxLength: 2 }),
        (ns, own, shared) => {
          const writer = new ByteWriter(8)
          const set = new LabelSet(Object.fromEntries(own.map((v, i) => [`a${i}`, v])))
          const extra = new SharedLabels(Object.fromEntries(shared.map((v, i) => [`b${i}`, v])))
          const both = new LabelSet({ ...set.labels, ...extra.labels })
          expect(set.child(extra).labels).toEqual(both.labels)
          let expected = ''
          for (const n of ns) {
            writer.lineWith(Buffer.from('m_bucket'), set.bytes, extra.bytes, n)
            expected += `\nm_bucket${both.text} ${valueText(n)}`
          }
          expect(writer.bytes().toString('utf8')).toBe(expected)
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
