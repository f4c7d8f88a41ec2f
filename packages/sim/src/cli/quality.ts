/** `breaker-sim quality`: your configs on the scenario space, next to classic half-open and the oracle. */

import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { qualityMatrix } from '../quality/matrix.js'
import { renderQualityHtml, renderQualityText } from '../quality/render.js'
import { BASELINE, libraryRows, type QualityRow } from '../quality/rows.js'
import { cellsOption, configRow, fail, kindsOption, parseOptions, parseSeeds, positiveInt, print, writeHtml, writeJson } from './common.js'
import { progressLine } from './progress.js'

export async function qualityCommand(args: string[]): Promise<void> {
  const values = parseOptions(
    args,
    {
      config: { type: 'string', multiple: true },
      cells: { type: 'string' },
      'max-rps': { type: 'string' },
      rps: { type: 'string' },
      seeds: { type: 'string' },
      workers: { type: 'string' },
      kinds: { type: 'string' },
      html: { type: 'string' },
      json: { type: 'string' },
    },
    'quality',
  )
  const paths = values.config ?? []
  if (paths.length === 0) fail('quality: give at least one --config FILE')
  const kinds = await kindsOption(values.kinds)
  const baseline = libraryRows().find((r) => r.name === BASELINE) as QualityRow
  const rows: QualityRow[] = [baseline]
  for (const path of paths) {
    const row = configRow(path, kinds)
    if (rows.some((r) => r.name === row.name))
      fail(`quality: two configs are named "${row.name}" (the first row is the library's ${BASELINE}): rename one`)
    rows.push(row)
  }
  const cells = cellsOption(values.cells ?? 'all', values['max-rps'], values.rps)
  const seeds = parseSeeds(values.seeds ?? '101..120')
  const workers = positiveInt(values.workers, 'workers', availableParallelism(), 64)
  const progress = progressLine('quality, cell-seeds')
  const matrix = await qualityMatrix(rows, cells, seeds, {
    workers,
    ...(values.kinds === undefined ? {} : { kindsModule: resolve(values.kinds) }),
    ...(kinds === undefined ? {} : { kinds }),
    onProgress: progress.update,
  })
  progress.end()
  print(`${renderQualityText(matrix)}\n`)
  if (values.json !== undefined) writeJson(values.json, matrix)
  if (values.html !== undefined) writeHtml(values.html, renderQualityHtml(matrix))
}
