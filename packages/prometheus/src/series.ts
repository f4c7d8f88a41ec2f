/**
 * What a scrape hands prom-client, built so that a registry of thousands of breakers renders
 * quickly: every label set is an object made once per breaker (and label values) and kept; each
 * breaker's snapshot is read once per scrape, not once per gauge; and the text format is written
 * here (see {@link TextSink}), each label set's text escaped once and kept.
 */
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
 * scrape. So every series but the last is written here, each line from its label set's kept text,
 * and prom-client gets one value: the lines so far plus the last series' name and labels as its
 * `metricName`, the last value as its value, and no labels. The text is the same, byte for byte (a
 * test compares it with prom-client's own writing of the same values).
 */
export class TextSink implements SeriesSink {
  /** The lines written so far, in blocks (a rope of small flat strings, not one node per line). */
  private text = ''
  /** Lines not yet in a block. */
  private readonly pending: string[] = []
  /** The last series' `name{labels} ` and value, not yet written. */
  private last = ''
  private lastValue = 0

  constructor(private readonly name: string) {}

  add(value: number, set: LabelSet, metricName?: string): void {
    if (this.last !== '') {
      this.pending.push(this.last + valueText(this.lastValue))
      if (this.pending.length === BLOCK_LINES) this.flush()
    }
    this.last = set.prefix(metricName ?? this.name)
    this.lastValue = value
  }

  /** What prom-client gets: nothing, or one value carrying every line. */
  get values(): ReadonlyArray<{
    readonly metricName: string
    readonly value: number
    readonly labels: Labels
    readonly sharedLabels: Labels
  }> {
    if (this.last === '') return []
    this.flush()
    return [{ metricName: this.text + this.last.slice(0, -1), value: this.lastValue, labels: NO_LABELS, sharedLabels: NO_LABELS }]
  }

  /**
   * Joins the pending lines into one flat block: the pieces of each line die young, where a rope
   * of every line would live through the scrape and be copied by the collector (measured: most
   * of a scrape's time went to garbage collection before).
   */
  private flush(): void {
    if (this.pending.length === 0) return
    this.text += `${this.pending.join('\n')}\n`
    this.pending.length = 0
  }
}

/**
 * Bytes written into a buffer kept between scrapes. A scrape of 10,000 breakers is about 42 MB of
 * text; as one string (what `registry.metrics()` returns) it takes fresh memory on every scrape,
 * and touching fresh pages costs more here than writing the text (42 MB written into a new buffer:
 * about 120 ms on the 2-core VM; into one already written once: 5 ms). Each line goes straight in:
 * its start (a label set's kept text) copied, its value's digits written.
 */
export class ByteWriter {
  private buffer: Buffer
  private used = 0

  constructor(capacity = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(capacity)
  }

  /** Appends `text`. */
  write(text: string): void {
    this.room(text.length)
    this.used += utf8Write(this.buffer, text, this.used)
  }

  /**
   * Appends a line: a newline, `prefix` (`ascii`: known to be ASCII, so copied byte for byte
   * rather than encoded), then `value` as prom-client writes it (`valueText`). The pieces go
   * straight into the buffer: no string is made for the line, and a whole number's digits are
   * written as bytes.
   */
  line(prefix: string, ascii: boolean, value: number): void {
    this.room(prefix.length + 24)
    const buffer = this.buffer
    buffer[this.used++] = NEWLINE
    this.used += ascii ? latin1Write(buffer, prefix, this.used) : utf8Write(buffer, prefix, this.used)
    if (value >= 0 && value < 1e9 && value === Math.floor(value)) this.digits(value)
    else this.used += buffer.write(valueText(value), this.used, 'latin1')
  }

  /** Everything written since {@link reset}: a view of the buffer, valid until the next write. */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.used)
  }

  /** Starts over at the buffer's beginning (the buffer is kept). */
  reset(): void {
    this.used = 0
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

  /** Makes room for `chars` more UTF-16 units (UTF-8 takes at most 3 bytes for each). */
  private room(chars: number): void {
    const need = this.used + 3 * chars
    if (need <= this.buffer.length) return
    const grown = Buffer.allocUnsafe(Math.max(need, 2 * this.buffer.length))
    this.buffer.copy(grown, 0, 0, this.used)
    this.buffer = grown
  }
}

const NEWLINE = 10
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
  constructor(
    private readonly out: ByteWriter,
    private readonly name: string,
  ) {}

  add(value: number, set: LabelSet, metricName?: string): void {
    this.out.line(set.prefix(metricName ?? this.name), set.ascii, value)
  }
}

/** Lines per block of the text sink. */
const BLOCK_LINES = 32

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
  private isAscii = false
  /**
   * The starts of its lines, `name{labels} `, for the last two names it was written under (a
   * histogram's outcome labels are written under `_sum` and `_count`; every other set under one
   * name), so a scrape makes none anew.
   */
  private name1 = ''
  private prefix1 = ''
  private name2 = ''
  private prefix2 = ''

  constructor(readonly labels: Labels) {}

  /** `name{labels} `: the start of a line of this set under `name`, kept for the last two names. */
  prefix(name: string): string {
    if (name === this.name1) return this.prefix1
    if (name === this.name2) return this.prefix2
    const made = `${name}${this.text} `
    // The older one makes room.
    this.name2 = this.name1
    this.prefix2 = this.prefix1
    this.name1 = name
    this.prefix1 = made
    return made
  }

  /** `{breaker="a",key="b"}`: in the labels' order, each value escaped, as prom-client writes them. */
  get text(): string {
    if (this.written === undefined) {
      const parts: string[] = []
      for (const [name, value] of Object.entries(this.labels)) parts.push(`${name}="${escapeLabelValue(value)}"`)
      this.written = parts.length === 0 ? '' : `{${parts.join(',')}}`
      this.isAscii = isAsciiText(this.written)
    }
    return this.written
  }

  /** Whether its text is all ASCII (a metric name always is): then a line's start is copied, not encoded. */
  get ascii(): boolean {
    return this.written === undefined ? isAsciiText(this.text) : this.isAscii
  }
}

/** Whether `text` is all ASCII: UTF-8 then takes one byte per character (anything else, two or more). */
const isAsciiText = (text: string): boolean => Buffer.byteLength(text, 'utf8') === text.length

/** The keys of the histogram label lists, by outcome: made once, not per breaker per scrape. */
const BUCKET_KEYS = new Map<string, string>()

/** A breaker's label sets, each made the first time it is asked for and kept while it is attached. */
export class LabelSets {
  /** `breaker` and `key`. */
  readonly base: LabelSet
  private readonly sets = new Map<string, LabelSet>()
  private readonly lists = new Map<string, ReadonlyArray<LabelSet>>()

  constructor(breaker: string, key: string) {
    this.base = new LabelSet({ breaker, key })
  }

  /** The label sets of one histogram outcome: one per bucket bound, then `+Inf`, made once. */
  buckets(outcome: string, bounds: ReadonlyArray<number>): ReadonlyArray<LabelSet> {
    let key = BUCKET_KEYS.get(outcome)
    if (key === undefined) {
      key = `le:${outcome}`
      BUCKET_KEYS.set(outcome, key)
    }
    return (
      this.lists.get(key) ??
      this.list(key, () => [
        ...bounds.map((le) => new LabelSet({ ...this.base.labels, outcome, le })),
        new LabelSet({ ...this.base.labels, outcome, le: '+Inf' }),
      ])
    )
  }

  /**
   * The base labels with `label` set to each of `values` (a fixed list: a scrape reads them by
   * position), made once and kept under `id` (default: the label's name; another id gives another
   * copy, for series written under other names).
   */
  each(label: string, values: ReadonlyArray<string>, id = label): ReadonlyArray<LabelSet> {
    // A lookup first: the function that makes them is made only when they are.
    return this.lists.get(id) ?? this.list(id, () => values.map((value) => new LabelSet({ ...this.base.labels, [label]: value })))
  }

  /** The base labels with `extra`, kept under `id` (which must name the extra labels and their values). */
  with(id: string, extra: () => Labels): LabelSet {
    let set = this.sets.get(id)
    if (set === undefined) {
      set = new LabelSet({ ...this.base.labels, ...extra() })
      this.sets.set(id, set)
    }
    return set
  }

  /** The base labels with each of `extras` (a fixed list: a scrape reads them by position), kept under `id`. */
  fixed(id: string, extras: ReadonlyArray<Labels>): ReadonlyArray<LabelSet> {
    return this.lists.get(id) ?? this.list(id, () => extras.map((extra) => new LabelSet({ ...this.base.labels, ...extra })))
  }

  private list(id: string, make: () => ReadonlyArray<LabelSet>): ReadonlyArray<LabelSet> {
    let sets = this.lists.get(id)
    if (sets === undefined) {
      sets = make()
      this.lists.set(id, sets)
    }
    return sets
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
