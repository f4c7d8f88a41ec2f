/** `breaker-sim evaluate`: early warning and false trips, on built-in scenarios or (`--space`) on the scenario space at a false-trip budget. */

import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import type { Kinds } from '@datapunk/breaker'
import { evaluatePrediction, renderPrediction } from '../prediction.js'
import { earlyWarning, renderEarlyWarning } from '../quality/earlyWarning.js'
import { cellsOption, configRow, fail, kindsOption, parseOptions, parseSeeds, positiveInt, print, strategyFile } from './common.js'
import { progressLine } from './progress.js'

export async function evaluateCommand(args: string[]): Promise<void> {
  const values = parseOptions(
    args,
    {
      config: { type: 'string', multiple: true },
      seeds: { type: 'string' },
      hours: { type: 'string' },
      kinds: { type: 'string' },
      space: { type: 'boolean' },
      'calibrate-seeds': { type: 'string' },
      budget: { type: 'string' },
      cells: { type: 'string' },
      workers: { type: 'string' },
      learned: { type: 'boolean' },
    },
    'evaluate',
  )
  const kinds = await kindsOption(values.kinds)
  if (values.space === true) return evaluateOnSpace(values, kinds)
  for (const flag of ['calibrate-seeds', 'budget', 'cells', 'workers', 'learned'] as const)
    if (values[flag] !== undefined) fail(`evaluate: --${flag} goes with --space`)
  if (values.config === undefined || values.config.length === 0) fail('evaluate: at least one --config FILE is required (or --space)')
  const strategies = (values.config ?? []).map((path) => strategyFile(path, kinds))
  const seeds = parseSeeds(values.seeds ?? '101..120')
  const hours = positiveInt(values.hours, 'hours', 24, 24 * 7)
  const progress = progressLine('evaluate, simulations')
  const evaluation = evaluatePrediction(strategies, { seeds, dayHours: hours, onProgress: progress.update })
  progress.end()
  print(`${renderPrediction(evaluation)}\n`)
}

/** `evaluate --space`: your configs (none is fine: the baselines alone) on the scenario space at a false-trip budget. */
async function evaluateOnSpace(
  values: {
    learned?: boolean
    config?: string[]
    seeds?: string
    hours?: string
    kinds?: string
    'calibrate-seeds'?: string
    budget?: string
    cells?: string
    workers?: string
  },
  kinds: Kinds | undefined,
): Promise<void> {
  if (values.hours !== undefined) fail('evaluate: --hours does not go with --space (noise cells have their own length)')
  const rows = (values.config ?? []).map((path) => configRow(path, kinds))
  const budget = values.budget === undefined ? 1 : Number(values.budget)
  if (!(budget >= 0 && Number.isFinite(budget))) fail(`evaluate: --budget must be false trips a day, 0 or more, got "${values.budget}"`)
  const progress = progressLine('evaluate --space')
  try {
    const evaluation = await earlyWarning(rows, {
      calibrationSeeds: parseSeeds(values['calibrate-seeds'] ?? '1..5'),
      seeds: parseSeeds(values.seeds ?? '101..120'),
      budgetPerDay: budget,
      learned: values.learned === true,
      workers: positiveInt(values.workers, 'workers', availableParallelism(), 64),
      ...(values.cells === undefined ? {} : { cells: cellsOption(values.cells, undefined) }),
      ...(values.kinds === undefined ? {} : { kindsModule: resolve(values.kinds) }),
      ...(kinds === undefined ? {} : { kinds }),
      onProgress: (_, done, total) => progress.update(done, total),
    })
    progress.end()
    print(`${renderEarlyWarning(evaluation)}\n`)
  } catch (error) {
    progress.end()
    const message = error instanceof Error ? error.message : String(error)
    if (message.startsWith('earlyWarning: ')) fail(`evaluate: ${message.slice('earlyWarning: '.length)}`)
    throw error
  }
}
