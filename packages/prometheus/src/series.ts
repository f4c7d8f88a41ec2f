/**
 * What a scrape hands prom-client, built so that a registry of thousands of breakers renders
 * quickly: a breaker's own labels are one set, made once and kept, and the labels its series of a
 * kind share with every breaker's (a phase, an outcome, a bucket) are made once per process
 * ({@link SharedLabels}); each breaker's snapshot is read once per scrape, not once per gauge; and
 * the text format is written as bytes (textFormat.ts), each set's text escaped once.
 */
import type { Breaker } from '@datapunk/breaker-runtime'
import { type Reading, type ReadingHolder, refreshReading } from '@datapunk/breaker-runtime/internal'

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

/** A label value escaped as prom-client escapes it: backslash, newline, double quote. */
export const escapeLabelValue = (value: string | number): string =>
  typeof value === 'string' ? value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : String(value)

/** A sample value as prom-client writes it (its `getValueAsString`). */
export const valueText = (value: number): string =>
  Number.isNaN(value) ? 'Nan' : value === Number.POSITIVE_INFINITY ? '+Inf' : value === Number.NEGATIVE_INFINITY ? '-Inf' : `${value}`

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

/** Where a breaker's reading is kept (its tally), and the scrape it was read for. */
export interface ScrapeHolder extends ReadingHolder {
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

  of(breaker: Breaker, holder: ScrapeHolder): Reading {
    if (holder.readAt === this.scrape) return holder.reading
    holder.readAt = this.scrape
    const reading = refreshReading(breaker, holder)
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
