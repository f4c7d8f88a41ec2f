/**
 * What a metrics exporter reads of a breaker's snapshot at scrape (or collection) time, kept from
 * one scrape to the next: the gauges' figures and the parts' own, refilled only when the breaker
 * has stepped something since (see `Breaker.revision`). Internal: the Prometheus and
 * OpenTelemetry adapters share it through `@datapunk/breaker-runtime/internal`.
 */
import { type PartFigure, partFigures, type Snapshot } from '@datapunk/breaker'
import type { Breaker } from './Breaker.js'

/** The figures of a breaker's snapshot that exporters publish. */
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

/** A new reading (of a closed breaker with no figures), to be filled by {@link refreshReading}. */
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

/** Where an exporter keeps a breaker's reading, and the breaker's revision it was read at. */
export interface ReadingHolder {
  readonly reading: Reading
  /** `Breaker.revision` when the reading was taken (`undefined`: never, or not watched). */
  readRevision: number | undefined
}

/**
 * The breaker's figures now: `holder.reading`, filled from a new snapshot unless the breaker has
 * stepped nothing since it was last filled (most keys of a large group, between two scrapes). The
 * figures are copied, so the snapshot itself dies at once: a snapshot kept per breaker is about
 * 340 bytes, and snapshots kept through a scrape were copied by every collection it met.
 */
export const refreshReading = (breaker: Breaker, holder: ReadingHolder): Reading => {
  const reading = holder.reading
  const revision = breaker.revision
  if (revision !== undefined && revision === holder.readRevision) return reading
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
  // Taken after the snapshot: a first state it made counts.
  holder.readRevision = breaker.revision
  return reading
}
