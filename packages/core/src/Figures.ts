import type { Snapshot } from './Strategy.js'

/**
 * One figure of one part of a strategy, as dashboards take it: which part (`detector` with its
 * position in config order, or `recovery`), the part's kind, the figure's name and its value.
 */
export interface PartFigure {
  /** Which part reports it: a `detector` or the `recovery`. */
  readonly part: 'detector' | 'recovery'
  /** The detector's position in `snapshot.detectors` (composites flattened); 0 for the recovery. */
  readonly index: number
  /** The part's kind: `'change-point'`, `'gradual'`, `'adaptive-throttle'`, or your own. */
  readonly kind: string
  /** The figure's name (`ewma`, `probability`, ...). */
  readonly figure: string
  /** Its value (finite). */
  readonly value: number
}

/**
 * Every figure the parts of a snapshot report beyond the standard ones (`figures` of each
 * detector, and of the recovery while half-open): the EWMA, change-point, learned and throttle
 * figures, and your own parts', in a flat list the exporters publish as they are. `null` and
 * non-finite values are left out (a figure not known now is absent, not zero).
 *
 * @example
 * import { adaptiveThrottle, circuit, partFigures } from '@datapunk/breaker'
 * const throttled = adaptiveThrottle(circuit({ trip: { kind: 'consecutive-failures', threshold: 5 } }), {})
 * partFigures(throttled.inspect(throttled.initial(0))).map((f) => `${f.kind}.${f.figure}`)
 * // ['adaptive-throttle.rejectRate', 'adaptive-throttle.requests', 'adaptive-throttle.accepts']
 */
export const partFigures = (snapshot: Snapshot): ReadonlyArray<PartFigure> => {
  const out: PartFigure[] = []
  const add = (part: PartFigure['part'], index: number, kind: string, figures: Readonly<Record<string, number | null>> | undefined) => {
    if (figures === undefined) return
    for (const figure in figures) {
      const value = figures[figure]
      if (typeof value === 'number' && Number.isFinite(value)) out.push({ part, index, kind, figure, value })
    }
  }
  for (let i = 0; i < snapshot.detectors.length; i++) {
    const d = snapshot.detectors[i]
    if (d !== undefined) add('detector', i, d.kind, d.figures)
  }
  if (snapshot.recovery !== null) add('recovery', 0, snapshot.recovery.kind, snapshot.recovery.figures)
  return out
}
