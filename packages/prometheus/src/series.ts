/**
 * What a scrape hands prom-client, built so that a registry of thousands of breakers renders
 * quickly: a breaker's own labels are one set, made once and kept, and the labels its series of a
 * kind share with every breaker's (a phase, an outcome, a bucket) are made once per process
 * ({@link SharedLabels}); each breaker's snapshot is read once per scrape, not once per gauge; and
 * the text format is written here as bytes (see {@link ByteWriter}), each set's text escaped once.
 */
import { isAscii } from 'node:buffer'
import { type PartFigure, partFigures, type Snapshot } from '@datapunk/breaker'
import type { Breaker } from '@datapunk/breaker-runtime'

/** A label set. */
export type Labels = Readonly<Record<string, string | number>>

/**
 * One series' value at a scrape. Its labels are also its `sharedLabels`, through a getter on the
 * prototype: prom-client formats a shared label set once and caches the text by object, and the
 * JSON it gives (`getMetricsAsJSON`) still shows `value` and `labels`, as before.
 */
export class SeriesValue {
  constructor(
    readonly value: number,
    readonly labels: Labels,
    readonly metricName?: string,
  ) {}

  get sharedLabels(): Labels {
    return this.labels
  }
}

/** Where a metric's series go at a scrape: one call per series. */
export interface SeriesSink {
  /** One series: its value, its label set (one of a {@link LabelSets}'), and its name if not the metric's. */
  add(value: number, set: LabelSet, metricName?: string): void
  /** One series whose labels are `set`'s followed by `extra`'s (labels every breaker's series of its kind share). */
  addWith(value: number, set: LabelSet, extra: SharedLabels, metricName?: string): void
}

/** The key under which an adapter metric carries its {@link OwnSeries} (for `scrapeHandler`). */
export const OWN_SERIES: unique symbol = Symbol('datapunk.breaker-prometheus.series')

/** What an adapter metric is, for a scrape that writes it without prom-client: help, type, and its series. */
export interface OwnSeries {
  readonly help: string
  readonly type: string
  readonly series: (sink: SeriesSink) => void
}

/** The series as prom-client's values, labels and all: for `getMetricsAsJSON()` and registries the text sink does not serve. */
export class ValueSink implements SeriesSink {
  readonly values: SeriesValue[] = []

  add(value: number, set: LabelSet, metricName?: string): void {
    this.values.push(new SeriesValue(value, set.labels, metricName))
  }

  addWith(value: number, set: LabelSet, extra: SharedLabels, metricName?: string): void {
    this.add(value, set.child(extra), metricName)
  }
}

/** No labels: what the text sink hands prom-client, so that it adds none. */
const NO_LABELS: Labels = Object.freeze({})

/** A label value escaped as prom-client escapes it: backslash, newline, double quote. */
const escapeLabelValue = (value: string | number): string =>
  typeof value === 'string' ? value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : String(value)

/** A sample value as prom-client writes it (its `getValueAsString`). */
export const valueText = (value: number): string =>
  Number.isNaN(value) ? 'Nan' : value === Number.POSITIVE_INFINITY ? '+Inf' : value === Number.NEGATIVE_INFINITY ? '-Inf' : `${value}`

/**
 * The series written as text, for a registry in the Prometheus text format with no default labels
 * (see `textServes`). prom-client writes each value as `${metricName}${labels} ${value}`,
 * allocating a few objects and strings per series; with 10,000 breakers that was most of a
 * scrape. So every series is written here into a {@link ByteWriter}, as `scrapeHandler` writes it,
 * and prom-client gets one value: every line but the last value, read out as one string, as its
 * `metricName`, the last value as its value, and no labels. The text is the same, byte for byte (a
 * test compares it with prom-client's own writing of the same values). The writer is the caller's,
 * kept from one scrape to the next (fresh memory costs more to touch than the text to write); a
 * sink starts it over.
 */
export class TextSink implements SeriesSink {
  private readonly lines: WriterSink
  private written = false
  private lastValue = 0

  constructor(
    name: string,
    private readonly out: ByteWriter,
  ) {
    out.reset()
    this.lines = new WriterSink(out, name)
  }

  add(value: number, set: LabelSet, metricName?: string): void {
    this.lines.add(value, set, metricName)
    this.written = true
    this.lastValue = value
  }

  addWith(value: number, set: LabelSet, extra: SharedLabels, metricName?: string): void {
    this.lines.addWith(value, set, extra, metricName)
    this.written = true
    this.lastValue = value
  }

  /** What prom-client gets: nothing, or one value carrying every line. */
  get values(): ReadonlyArray<{
    readonly metricName: string
    readonly value: number
    readonly labels: Labels
    readonly sharedLabels: Labels
  }> {
    if (!this.written) return []
    return [{ metricName: this.out.textBeforeLastValue(), value: this.lastValue, labels: NO_LABELS, sharedLabels: NO_LABELS }]
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
  /** Where the last line's value starts. */
  private valueAt = 0

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
    this.room(name.length + labels.length + 26)
    const buffer = this.buffer
    let at = this.used
    buffer[at++] = NEWLINE
    buffer.set(name, at)
    at += name.length
    buffer.set(labels, at)
    at += labels.length
    buffer[at++] = SPACE
    this.used = at
    this.valueAt = at
    if (value >= 0 && value < 1e9 && value === Math.floor(value)) this.digits(value)
    else this.used += latin1Write(buffer, valueText(value), at)
  }

  /**
   * Appends a line whose labels are `labels` (a label set's bytes, `{...}`) followed by `extra`
   * (`,name="value"} `, closing brace and space included: a {@link SharedLabels}' bytes): the
   * set's closing brace is written, then written over.
   */
  lineWith(name: Uint8Array, labels: Uint8Array, extra: Uint8Array, value: number): void {
    this.room(name.length + labels.length + extra.length + 26)
    const buffer = this.buffer
    let at = this.used
    buffer[at++] = NEWLINE
    buffer.set(name, at)
    at += name.length
    if (labels.length === 0) {
      // No labels of its own: the extra's first comma becomes the opening brace.
      buffer.set(extra, at)
      buffer[at] = OPEN_BRACE
    } else {
      buffer.set(labels, at)
      at += labels.length - 1
      buffer.set(extra, at)
    }
    at += extra.length
    this.used = at
    this.valueAt = at
    if (value >= 0 && value < 1e9 && value === Math.floor(value)) this.digits(value)
    else this.used += latin1Write(buffer, valueText(value), at)
  }

  /** Everything written since {@link reset}: a view of the buffer, valid until the next write. */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.used)
  }

  /** Starts over at the buffer's beginning (the buffer is kept). */
  reset(): void {
    this.used = 0
    this.valueAt = 0
  }

  /**
   * The lines written since {@link reset} (at least one), as one string: without the first
   * line's leading newline, and without the last line's space and value.
   */
  textBeforeLastValue(): string {
    const end = this.valueAt - 1
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

const NEWLINE = 10
const SPACE = 32
const OPEN_BRACE = 123
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

/**
 * Whether the text sink writes what `registry.metrics()` would: the Prometheus text format (in
 * OpenMetrics prom-client renames counters' series) and no default labels (prom-client adds them
 * to every series' labels). The default labels are read from prom-client's `_defaultLabels`; a
 * prom-client without that field gets the values sink, which is always right, only slower.
 */
export const textServes = (registry: { readonly contentType: string }): boolean => {
  const defaults = (registry as { readonly _defaultLabels?: unknown })._defaultLabels
  return (
    registry.contentType.startsWith('text/plain') && typeof defaults === 'object' && defaults !== null && Object.keys(defaults).length === 0
  )
}

/** A label set, made once and kept: its labels, and its text (made the first time it is written). */
export class LabelSet {
  private written: string | undefined
  private encoded: Uint8Array | undefined
  /** Its labels followed by each {@link SharedLabels} asked for (see {@link child}). */
  private children: Map<SharedLabels, LabelSet> | undefined

  constructor(readonly labels: Labels) {}

  /** `{breaker="a",key="b"}`: in the labels' order, each value escaped, as prom-client writes them. */
  get text(): string {
    if (this.written === undefined) {
      const parts: string[] = []
      for (const [name, value] of Object.entries(this.labels)) parts.push(`${name}="${escapeLabelValue(value)}"`)
      this.written = parts.length === 0 ? '' : `{${parts.join(',')}}`
    }
    return this.written
  }

  /** Its text as UTF-8 bytes, made the first time and kept: what `scrapeHandler` copies into each of its lines. */
  get bytes(): Uint8Array {
    if (this.encoded === undefined) this.encoded = Buffer.from(this.text, 'utf8')
    return this.encoded
  }

  /**
   * The set of its labels followed by `extra`'s, made the first time and kept: for the sink that
   * needs one object per series (prom-client's values, for `getMetricsAsJSON()` and the registries
   * the text writing does not serve). The text is written without them, so a breaker's series of
   * shared kinds cost a scrape no set each.
   */
  child(extra: SharedLabels): LabelSet {
    this.children ??= new Map()
    let set = this.children.get(extra)
    if (set === undefined) {
      set = new LabelSet({ ...this.labels, ...extra.labels })
      this.children.set(extra, set)
    }
    return set
  }
}

/**
 * Labels that every breaker's series of one kind have after their own (`breaker` and `key`): a
 * phase, an outcome, a reason, a histogram bucket's outcome and bound. Made once per process (per
 * histogram for its bounds), not per breaker: `scrapeHandler` writes such a line as the breaker's
 * text, then these bytes.
 */
export class SharedLabels {
  /** `,name="value"} ` (each value escaped): what follows a breaker's labels, without their closing brace, in a line. */
  readonly bytes: Uint8Array

  constructor(readonly labels: Labels) {
    let text = ''
    for (const [name, value] of Object.entries(labels)) text += `,${name}="${escapeLabelValue(value)}"`
    // A line of a set with no labels takes its opening brace from the first comma here.
    if (text === '') throw new RangeError('SharedLabels: at least one label')
    this.bytes = Buffer.from(`${text}} `, 'utf8')
  }

  /** One for each of `values` under `label`, in order. */
  static each(label: string, values: ReadonlyArray<string>): ReadonlyArray<SharedLabels> {
    return values.map((value) => new SharedLabels({ [label]: value }))
  }
}

/** A breaker's label sets: its own (`breaker` and `key`), and others made the first time each is asked for and kept while it is attached. */
export class LabelSets {
  /** `breaker` and `key`. */
  readonly base: LabelSet
  private sets: Map<string, LabelSet> | undefined

  constructor(breaker: string, key: string) {
    this.base = new LabelSet({ breaker, key })
  }

  /** The base labels with `extra`, kept under `id` (which must name the extra labels and their values). */
  with(id: string, extra: () => Labels): LabelSet {
    this.sets ??= new Map()
    let set = this.sets.get(id)
    if (set === undefined) {
      set = new LabelSet({ ...this.base.labels, ...extra() })
      this.sets.set(id, set)
    }
    return set
  }
}

/** What a scrape reads of a breaker's snapshot: the gauges' figures and the parts' (see `ScrapeSnapshots`). */
export interface Reading {
  state: Snapshot['state']
  admitRate: number
  failureRate: number | null
  failureRateThreshold: number | null
  slowCallRate: number | null
  consecutiveFailures: number | null
  inFlight: number
  openUntil: number | null
  figures: ReadonlyArray<PartFigure>
}

const NO_FIGURES: ReadonlyArray<PartFigure> = Object.freeze([])

/** A new reading (of a closed breaker with no figures): each tally has one, filled again at every scrape. */
export const emptyReading = (): Reading => ({
  state: 'closed',
  admitRate: 1,
  failureRate: null,
  failureRateThreshold: null,
  slowCallRate: null,
  consecutiveFailures: null,
  inFlight: 0,
  openUntil: null,
  figures: NO_FIGURES,
})

/** Where a breaker's reading is kept (its tally), and the scrape it was read for. */
export interface ReadingHolder {
  readonly reading: Reading
  readAt: number
}

/**
 * Each breaker's snapshot, read once per scrape: prom-client asks every metric for its values in
 * one synchronous pass (`registry.metrics()` and `getMetricsAsJSON()` start every `get()` before
 * awaiting any; `scrapeHandler` writes every metric in one), so what a scrape reads holds until
 * the next microtask, and every gauge of a scrape reads the same instant. The figures are copied
 * into the breaker's own reading (kept from one scrape to the next), so the snapshot itself dies
 * at once: thousands of snapshots kept through a scrape were copied by every collection it met.
 */
export class ScrapeSnapshots {
  /** The scrape now: readings made in another are stale. */
  private scrape = 1
  private pending = false

  of(breaker: Breaker, holder: ReadingHolder): Reading {
    const reading = holder.reading
    if (holder.readAt === this.scrape) return reading
    const snapshot = breaker.snapshot()
    reading.state = snapshot.state
    reading.admitRate = snapshot.admitRate
    reading.failureRate = snapshot.failureRate
    reading.failureRateThreshold = snapshot.failureRateThreshold
    reading.slowCallRate = snapshot.slowCallRate
    reading.consecutiveFailures = snapshot.consecutiveFailures
    reading.inFlight = snapshot.inFlight
    reading.openUntil = snapshot.openUntil
    const figures = partFigures(snapshot)
    // The usual empty list is not kept (a new one per breaker per scrape outlived the collections a scrape meets).
    reading.figures = figures.length === 0 ? NO_FIGURES : figures
    holder.readAt = this.scrape
    if (!this.pending) {
      this.pending = true
      queueMicrotask(() => {
        this.scrape++
        this.pending = false
      })
    }
    return reading
  }
}
