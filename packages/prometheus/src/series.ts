/**
 * What a scrape hands prom-client, built so that a registry of thousands of breakers renders
 * quickly: every label set is an object made once per breaker (and label values) and kept, and
 * passed as prom-client's `sharedLabels` too, whose text prom-client writes once per object and
 * caches; each breaker's snapshot is read once per scrape, not once per gauge.
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

/** A breaker's label sets, each made the first time it is asked for and kept while it is attached. */
export class LabelSets {
  /** `breaker` and `key`. */
  readonly base: Labels
  private readonly sets = new Map<string, Labels>()

  constructor(breaker: string, key: string) {
    this.base = { breaker, key }
  }

  /** The label sets of one histogram outcome: one per bucket bound, then `+Inf`, made once. */
  private readonly bucketSets = new Map<string, ReadonlyArray<Labels>>()

  /** The base labels with `outcome` and each `le` of `bounds`, then `+Inf` (the bounds never change for a registry). */
  buckets(outcome: string, bounds: ReadonlyArray<number>): ReadonlyArray<Labels> {
    let sets = this.bucketSets.get(outcome)
    if (sets === undefined) {
      sets = [...bounds.map((le) => ({ ...this.base, outcome, le })), { ...this.base, outcome, le: '+Inf' }]
      this.bucketSets.set(outcome, sets)
    }
    return sets
  }

  /** The base labels with `extra`, kept under `id` (which must name the extra labels and their values). */
  with(id: string, extra: () => Labels): Labels {
    let set = this.sets.get(id)
    if (set === undefined) {
      set = { ...this.base, ...extra() }
      this.sets.set(id, set)
    }
    return set
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
