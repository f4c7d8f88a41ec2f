import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LabelSet, SharedLabels, valueText } from '../src/series.js'
import { ByteWriter, defaultLabelBytes } from '../src/textFormat.js'

describe('ByteWriter', () => {
  /** The longest texts a number has: 25 characters, then (with an exponent) 24. */
  const longest: readonly [number, number] = [-0.0000010071475195003711, -1.2345678901234567e-308]
  const edges = [0, -0, 1, 9, 10, 99, 100, 999_999_999, 1e9, 2 ** 31, 2 ** 53, 1.5, -1, -2.5, 1e21, 1e-7, 0.1 + 0.2, Number.NaN, ...longest]
  const values = [...edges, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MAX_VALUE, Number.MIN_VALUE]
  const numbers = fc.array(fc.oneof(fc.constantFrom(...values), fc.integer(), fc.nat(), fc.double()), { maxLength: 200 })
  /** Label values: any text, escapes and all (backslash, newline, quote), ASCII or not. */
  const labelValue = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.constantFrom('a\\b', 'a\nb', 'a"b', 'é', '💥'))

  /** A registry's default labels (none, or up to two, numbers too), named apart from the sets' own. */
  const defaultLabels = fc
    .array(fc.oneof(labelValue, fc.integer()), { maxLength: 2 })
    .map((vs) => Object.fromEntries(vs.map((v, i) => [`d${i}`, v])))
  /** The writer's default-label bytes, as `scrapeHandler` and `registry.metrics()` set them from a registry. */
  const withDefaults = (writer: ByteWriter, defaults: Record<string, string | number>): void => {
    writer.defaults = defaultLabelBytes({ _defaultLabels: defaults })
  }

  it('writes a line as a newline, the name, the labels (after any default labels), a space and the value as prom-client writes it, whatever the value', () => {
    fc.assert(
      fc.property(numbers, fc.array(labelValue, { maxLength: 2 }), defaultLabels, (ns, own, defaults) => {
        const writer = new ByteWriter(8) // tiny: every few lines make it grow
        withDefaults(writer, defaults)
        const set = new LabelSet(Object.fromEntries(own.map((v, i) => [`l${i}`, v])))
        // prom-client writes the default labels first, then the series' own.
        const written = new LabelSet({ ...defaults, ...set.labels })
        let expected = ''
        for (const n of ns) {
          writer.line(Buffer.from('m'), set.bytes, n)
          expected += `\nm${written.text} ${valueText(n)}`
        }
        writer.write('\n')
        expect(writer.bytes().toString('utf8')).toBe(`${expected}\n`)
      }),
      { numRuns: 300 },
    )
  })

  it('writes the longest value whole however full the buffer is when the line starts', () => {
    expect(longest.map((n) => valueText(n).length)).toEqual([25, 24])
    for (let size = 1; size <= 64; size++) {
      for (let before = 0; before <= size; before++) {
        const writer = new ByteWriter(size)
        writer.write('x'.repeat(before))
        writer.line(Buffer.from('m'), new LabelSet({}).bytes, longest[0])
        expect(writer.bytes().toString('latin1')).toBe(`${'x'.repeat(before)}\nm ${valueText(longest[0])}`)
      }
    }
  })

  it('writes a line of a set followed by shared labels as the text of the set of both', () => {
    fc.assert(
      fc.property(
        numbers,
        fc.array(labelValue, { maxLength: 3 }),
        fc.array(labelValue, { minLength: 1, maxLength: 2 }),
        defaultLabels,
        (ns, own, shared, defaults) => {
          const writer = new ByteWriter(8)
          withDefaults(writer, defaults)
          const set = new LabelSet(Object.fromEntries(own.map((v, i) => [`a${i}`, v])))
          const extra = new SharedLabels(Object.fromEntries(shared.map((v, i) => [`b${i}`, v])))
          const both = new LabelSet({ ...set.labels, ...extra.labels })
          expect(set.child(extra).labels).toEqual(both.labels)
          const written = new LabelSet({ ...defaults, ...both.labels })
          let expected = ''
          for (const n of ns) {
            writer.lineWith(Buffer.from('m_bucket'), set.bytes, extra.bytes, n)
            expected += `\nm_bucket${written.text} ${valueText(n)}`
          }
          expect(writer.bytes().toString('utf8')).toBe(expected)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('starts over from the beginning after reset, keeping nothing of the last text and no default labels', () => {
    const writer = new ByteWriter()
    writer.write('a much longer first text')
    withDefaults(writer, { service: 'checkout' })
    writer.reset()
    writer.write('short')
    writer.line(Buffer.from('m'), new LabelSet({ a: 'b' }).bytes, 1)
    expect(writer.bytes().toString('utf8')).toBe('short\nm{a="b"} 1')
  })
})
