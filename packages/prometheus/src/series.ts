/**
 * What a scrape hands prom-client, built so that a registry of thousands of breakers renders
 * quickly: every label set is an object made once per breaker (and label values) and kept; each
 * breaker's snapshot is read once per scrape, not once per gauge; and the text format is written
 * here (see {@link TextSink}), each label set's text escaped once and kept.
 */
import type { Snapshot } from '@datapunk/breaker'
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
  /** The last `name{labels} ` made, and its name: a label set is written under one or two names. */
  private prefixed = ''
  private prefixName = ''

  constructor(readonly labels: Labels) {}

  /** `name{labels} `: the start of a line of this set under `name`, kept while the name is the same. */
  prefix(name: string): string {
    if (name !== this.prefixName) {
      this.prefixName = name
      this.prefixed = `${name}${this.text} `
    }
    return this.prefixed
  }

  /** `{breaker="a",key="b"}`: in the labels' order, each value escaped, as prom-client writes them. */
  get text(): string {
    if (this.written === undefined) {
      const parts: string[] = []
      for (const [name, value] of Object.entries(this.labels)) parts.push(`${name}="${escapeLabelValue(value)}"`)
      this.written = parts.length === 0 ? '' : `{${parts.join(',')}}`
    }
    return this.written
  }
}

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
    return this.list(`le:${outcome}`, () => [
      ...bounds.map((le) => new LabelSet({ ...this.base.labels, outcome, le })),
      new LabelSet({ ...this.base.labels, outcome, le: '+Inf' }),
    ])
  }

  /** The base labels with `label` set to each of `values` (a fixed list: a scrape reads them by position), made once. */
  each(label: string, values: ReadonlyArray<string>): ReadonlyArray<LabelSet> {
    return this.list(label, () => values.map((value) => new LabelSet({ ...this.base.labels, [label]: value })))
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
  fixed(id: string, extras: () => ReadonlyArray<Labels>): ReadonlyArray<LabelSet> {
    return this.list(id, () => extras().map((extra) => new LabelSet({ ...this.base.labels, ...extra })))
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

/**
 * Each breaker's snapshot, read once per scrape: prom-client asks every metric for its values in
 * one synchronous pass (`registry.metrics()` and `getMetricsAsJSON()` start every `get()` before
 * awaiting any), so the snapshots are kept until the next microtask, and every gauge of a scrape
 * reads the same instant.
 */
export class ScrapeSnapshots {
  private readonly read = new Map<Breaker, Snapshot>()
  private clearing = false

  of(breaker: Breaker): Snapshot {
    let snapshot = this.read.get(breaker)
    if (snapshot === undefined) {
      snapshot = breaker.snapshot()
      this.read.set(breaker, snapshot)
      if (!this.clearing) {
        this.clearing = true
        queueMicrotask(() => {
          this.read.clear()
          this.clearing = false
        })
      }
    }
    return snapshot
  }
}
