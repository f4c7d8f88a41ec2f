/**
 * The Prometheus text format, written as bytes: each line from the metric's name, a breaker's
 * label set and the labels its kind of series shares (see series.ts), into a buffer kept between
 * scrapes. `scrapeHandler` serves the buffer; `registry.metrics()` reads it out as one string.
 */
import { isAscii } from 'node:buffer'
import { LABEL_NAMES } from './metricCatalogue.js'
import { escapeLabelValue, type LabelSet, type Labels, type SeriesSink, type SharedLabels, valueText } from './series.js'

/**
 * The series written as text, for a registry that `textServes`. prom-client writes each value as
 * `${metricName}${labels} ${value}`, allocating a few objects and strings per series; with 10,000
 * breakers that was most of a scrape. So every series is written here into a {@link ByteWriter},
 * as `scrapeHandler` writes it, and prom-client gets one value: every line but the last, read out
 * as one string, then the last series' name, as its `metricName`, and the last series' labels and
 * value, which it writes as ever (the registry's default labels included). The text is the same,
 * byte for byte (a test compares it with prom-client's own writing of the same values). The
 * writer is the caller's, kept from one scrape to the next (fresh memory costs more to touch than
 * the text to write); a sink starts it over.
 */
export class TextSink implements SeriesSink {
  private readonly lines: WriterSink
  /** The last series: its name, its set and the shared labels after it (if any), and its value. */
  private lastName: string
  private lastSet: LabelSet | undefined = undefined
  private lastExtra: SharedLabels | undefined = undefined
  private lastValue = 0

  constructor(
    private readonly name: string,
    private readonly out: ByteWriter,
    defaults: Uint8Array | undefined,
  ) {
    out.reset()
    out.defaults = defaults
    this.lines = new WriterSink(out, name)
    this.lastName = name
  }

  add(value: number, set: LabelSet, metricName?: string): void {
    this.lines.add(value, set, metricName)
    this.last(value, set, undefined, metricName)
  }

  addWith(value: number, set: LabelSet, extra: SharedLabels, metricName?: string): void {
    this.lines.addWith(value, set, extra, metricName)
    this.last(value, set, extra, metricName)
  }

  /** What prom-client gets: nothing, or one value carrying every line. */
  get values(): ReadonlyArray<{
    readonly metricName: string
    readonly value: number
    readonly labels: Labels
    readonly sharedLabels: Labels
  }> {
    const set = this.lastSet
    if (set === undefined) return []
    // Only the last series' labels are read: the set of both is made (and kept) for it alone.
    const labels = this.lastExtra === undefined ? set.labels : set.child(this.lastExtra).labels
    const before = this.out.textBeforeLastLine()
    // The labels are their own shared labels too: prom-client writes the default labels ahead of them.
    return [
      { metricName: before === '' ? this.lastName : `${before}\n${this.lastName}`, value: this.lastValue, labels, sharedLabels: labels },
    ]
  }

  private last(value: number, set: LabelSet, extra: SharedLabels | undefined, metricName: string | undefined): void {
    this.lastName = metricName ?? this.name
    this.lastSet = set
    this.lastExtra = extra
    this.lastValue = value
  }
}

/**
 * Bytes written into a buffer kept between scrapes. A scrape of 10,000 breakers is about 42 MB of
 * text; as one string (what `registry.metrics()` returns) it takes fresh memory on every scrape,
 * and touching fresh pages costs more here than writing the text (42 MB written into a new buffer:
 * about 120 ms on the 2-core VM; into one already written once: 5 ms). Each line goes straight in:
 * its name's and labels' kept bytes copied, its value's digits written.
 */
export class ByteWriter {
  private buffer: Buffer
  private used = 0
  /** Where the last line starts (its newline). */
  private lineAt = 0
  /**
   * The registry's default labels (see {@link defaultLabelBytes}), written ahead of each line's
   * own labels; `undefined` for none. A {@link reset} clears it.
   */
  defaults: Uint8Array | undefined = undefined

  constructor(capacity = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(capacity)
  }

  /** Appends `text`. */
  write(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    this.room(3 * text.length)
    this.used += utf8Write(this.buffer, text, this.used)
  }

  /**
   * Appends a line: a newline, the metric's `name` and a label set's `labels` (both as UTF-8
   * bytes, made once and kept), a space, then `value` as prom-client writes it (`valueText`). The
   * pieces are copied straight into the buffer (`set`, the engine's own copy: a call into Node's
   * string writing per line was a third of a scrape), and a whole number's digits are written as
   * bytes: no string is made for the line.
   */
  line(name: Uint8Array, labels: Uint8Array, value: number): void {
    const from = this.start(name, labels.length)
    const buffer = this.buffer
    let at = this.labels(buffer, from, labels)
    buffer[at++] = SPACE
    this.value(at, value)
  }

  /**
   * Appends a line whose labels are `labels` (a label set's bytes, `{...}`) followed by `extra`
   * (`,name="value"} `, closing brace and space included: a {@link SharedLabels}' bytes): the
   * set's closing brace is written, then written over.
   */
  lineWith(name: Uint8Array, labels: Uint8Array, extra: Uint8Array, value: number): void {
    let at = this.start(name, labels.length + extra.length)
    const buffer = this.buffer
    if (labels.length === 0 && this.defaults === undefined) {
      // No labels ahead of it: the extra's first comma becomes the opening brace.
      buffer.set(extra, at)
      buffer[at] = OPEN_BRACE
    } else {
      at = this.labels(buffer, at, labels) - 1
      buffer.set(extra, at)
    }
    this.value(at + extra.length, value)
  }

  /**
   * Starts a line: makes room for it (`labelBytes` of its own labels, the default labels, a value),
   * then writes its newline and `name`; returns where its labels go. (Room first: it may move the buffer.)
   */
  private start(name: Uint8Array, labelBytes: number): number {
    const defaults = this.defaults
    this.room(name.length + labelBytes + (defaults === undefined ? 0 : defaults.length + 2) + 2 + LONGEST_VALUE)
    const buffer = this.buffer
    let at = this.used
    this.lineAt = at
    buffer[at++] = NEWLINE
    buffer.set(name, at)
    return at + name.length
  }

  /** Writes the default labels, if any, and `labels` after them (its brace written over); returns the end. */
  private labels(buffer: Buffer, from: number, labels: Uint8Array): number {
    const defaults = this.defaults
    let at = from
    if (defaults === undefined) {
      buffer.set(labels, at)
      return at + labels.length
    }
    buffer.set(defaults, at)
    at += defaults.length
    if (labels.length === 0) {
      buffer[at++] = CLOSE_BRACE
      return at
    }
    buffer.set(labels, at)
    buffer[at] = COMMA
    return at + labels.length
  }

  /** Writes `value` at `at`, as prom-client writes it (`valueText`), and ends the line there. */
  private value(at: number, value: number): void {
    this.used = at
    if (value >= 0 && value < 1e9 && value === Math.floor(value)) this.digits(value)
    else this.used += latin1Write(this.buffer, valueText(value), at)
  }

  /** Everything written since {@link reset}: a view of the buffer, valid until the next write. */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.used)
  }

  /** Starts over at the buffer's beginning (the buffer is kept). */
  reset(): void {
    this.used = 0
    this.lineAt = 0
    this.defaults = undefined
  }

  /**
   * The lines written since {@link reset} but the last, as one string, without the first line's
   * leading newline (`''` if there is one line).
   */
  textBeforeLastLine(): string {
    const end = this.lineAt
    if (end === 0) return ''
    // ASCII (breaker names and keys almost always are) reads out as it is: a third faster than
    // decoding UTF-8, measured on 25 MB.
    return isAscii(this.buffer.subarray(1, end)) ? this.buffer.toString('ascii', 1, end) : this.buffer.toString('utf8', 1, end)
  }

  /** The decimal digits of a whole number in [0, 1e9), as `${value}` writes them. */
  private digits(value: number): void {
    const buffer = this.buffer
    if (value < 10) {
      buffer[this.used++] = ZERO + value
      return
    }
    let length = 1
    for (let n = value; n >= 10; n = Math.floor(n / 10)) length++
    let n = value
    for (let at = this.used + length - 1; at >= this.used; at--) {
      buffer[at] = ZERO + (n % 10)
      n = Math.floor(n / 10)
    }
    this.used += length
  }

  /** Makes room for `bytes` more bytes. */
  private room(bytes: number): void {
    const need = this.used + bytes
    if (need <= this.buffer.length) return
    const grown = Buffer.allocUnsafe(Math.max(need, 2 * this.buffer.length))
    this.buffer.copy(grown, 0, 0, this.used)
    this.buffer = grown
  }
}

/**
 * The longest text `valueText` makes: 25 characters, a negative number with five zeros after the
 * point and 17 significant digits (`-0.0000010071475195003711`); below 1e-6 JavaScript writes an
 * exponent, which is shorter (`-1.2345678901234567e-308`, 24).
 */
const LONGEST_VALUE = 25
const NEWLINE = 10
const SPACE = 32
const OPEN_BRACE = 123
const CLOSE_BRACE = 125
const COMMA = 44
const ZERO = 48

/**
 * `buffer.write(text, at, 'utf8')` without its argument handling: Node's own `utf8Write`, which
 * `write` calls (the handling was about a tenth of a scrape, one call per line), or `write` where a
 * runtime has no `utf8Write`. The caller has made room.
 */
const utf8Write: (buffer: Buffer, text: string, at: number) => number =
  typeof (Buffer.prototype as { utf8Write?: unknown }).utf8Write === 'function'
    ? (buffer, text, at) => (buffer as unknown as { utf8Write(text: string, at: number): number }).utf8Write(text, at)
    : (buffer, text, at) => buffer.write(text, at, 'utf8')

/** `buffer.write(text, at, 'latin1')` likewise (for ASCII text, the same bytes as UTF-8, copied rather than encoded). */
const latin1Write: (buffer: Buffer, text: string, at: number) => number =
  typeof (Buffer.prototype as { latin1Write?: unknown }).latin1Write === 'function'
    ? (buffer, text, at) => (buffer as unknown as { latin1Write(text: string, at: number): number }).latin1Write(text, at)
    : (buffer, text, at) => buffer.write(text, at, 'latin1')

/** The series written straight into a {@link ByteWriter}, each line after a newline (as prom-client joins them). */
export class WriterSink implements SeriesSink {
  private readonly nameBytes: Uint8Array
  /** The bytes of the other names its series are written under (a histogram's `_bucket`, `_sum`, `_count`). */
  private readonly others = new Map<string, Uint8Array>()

  constructor(
    private readonly out: ByteWriter,
    name: string,
  ) {
    this.nameBytes = Buffer.from(name, 'utf8')
  }

  add(value: number, set: LabelSet, metricName?: string): void {
    this.out.line(metricName === undefined ? this.nameBytes : this.bytesOf(metricName), set.bytes, value)
  }

  addWith(value: number, set: LabelSet, extra: SharedLabels, metricName?: string): void {
    this.out.lineWith(metricName === undefined ? this.nameBytes : this.bytesOf(metricName), set.bytes, extra.bytes, value)
  }

  private bytesOf(name: string): Uint8Array {
    let bytes = this.others.get(name)
    if (bytes === undefined) {
      bytes = Buffer.from(name, 'utf8')
      this.others.set(name, bytes)
    }
    return bytes
  }
}

/** A registry's default labels, as prom-client keeps them (`undefined`: a prom-client without the field). */
const defaultLabelsOf = (registry: object): Labels | undefined => {
  const defaults = (registry as { readonly _defaultLabels?: unknown })._defaultLabels
  return typeof defaults === 'object' && defaults !== null ? (defaults as Labels) : undefined
}

/**
 * Whether the text writing gives what `registry.metrics()` would: the Prometheus text format (in
 * OpenMetrics prom-client renames counters' series), and default labels none of whose names is
 * one of the adapter's (prom-client writes a default label ahead of a series' own, unless the
 * series has a label of that name). The default labels are read from prom-client's
 * `_defaultLabels`; a prom-client without that field gets the values sink, which is always right,
 * only slower.
 */
export const textServes = (registry: { readonly contentType: string }): boolean => {
  const defaults = defaultLabelsOf(registry)
  return (
    registry.contentType.startsWith('text/plain') && defaults !== undefined && Object.keys(defaults).every((name) => !LABEL_NAMES.has(name))
  )
}

/**
 * The bytes a registry's default labels put ahead of every series' own: `{name="value",...`
 * (opening brace, no closing one), in the order prom-client writes them; `undefined` for none.
 */
export const defaultLabelBytes = (registry: object): Uint8Array | undefined => {
  const defaults = defaultLabelsOf(registry)
  if (defaults === undefined) return undefined
  const parts: string[] = []
  for (const [name, value] of Object.entries(defaults)) parts.push(`${name}="${escapeLabelValue(value)}"`)
  return parts.length === 0 ? undefined : Buffer.from(`{${parts.join(',')}`, 'utf8')
}
