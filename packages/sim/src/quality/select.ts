/** Picking cells of the scenario space by name: halves, families, ids, prefixes, and a quick spread. */
import { type Cell, qualitySpace } from './space.js'

/**
 * The cells a selector names: `all`, `train`, `test`, `quick` (a small spread for CI and tests),
 * or a comma-separated list of cell ids and families (`outage`, `partial-30@200`, `noise-*`).
 * Returns the cells, or the names that matched nothing.
 *
 * @example
 * import { selectCells } from '@datapunk/breaker-sim'
 * const picked = selectCells('flapping,partial-30@200')
 * 'cells' in picked && picked.cells.map((c) => c.id).join(' ') // 'partial-30@200 flapping@2 flapping@20 flapping@200 flapping@1000 flapping@5000'
 * selectCells('outage@3') // { unknown: ['outage@3'] }
 */
export const selectCells = (
  selector: string,
  space: ReadonlyArray<Cell> = qualitySpace(),
): { readonly cells: ReadonlyArray<Cell> } | { readonly unknown: ReadonlyArray<string> } => {
  if (selector === 'all') return { cells: space }
  if (selector === 'train' || selector === 'test') return { cells: space.filter((c) => c.half === selector) }
  const names = selector === 'quick' ? QUICK : selector.split(',').map((s) => s.trim())
  const unknown: string[] = []
  const picked = new Set<Cell>()
  for (const name of names) {
    const matches = space.filter((c) => (name.endsWith('*') ? c.id.startsWith(name.slice(0, -1)) : c.id === name || c.family === name))
    if (matches.length === 0) unknown.push(name)
    for (const m of matches) picked.add(m)
  }
  return unknown.length > 0 ? { unknown } : { cells: space.filter((c) => picked.has(c)) }
}

/** A small spread of the space, for CI and tests: every kind of shape, low and middling traffic. */
const QUICK = [
  'outage@2',
  'outage@200',
  'partial-30@20',
  'capacity-steps@200',
  'flapping@200',
  'fragile-warn-50@200',
  'error-ramp@200',
  'noise-bursts-40@200',
  'cold-start@200',
]
