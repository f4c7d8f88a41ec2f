/**
 * The learned predictor judged as the prediction issue asks: leave one incident kind out (the
 * models come from the simulator's `heldOutModels`, as `breaker-sim evaluate --space --learned`
 * runs them), here in several ways of training, to show what each change of the predictor buys.
 * Fragile cells train as outages and are not reported (they test recovery).
 */
import type { PredictorFeature } from '@datapunk/breaker'
import { type Cell, heldOutModels, incidentKind, type QualityMatrix, type QualityRow, qualityMatrix } from '@datapunk/breaker-sim'

/** A way of training the model: what each change of the predictor buys is seen by leaving it out. */
export interface LearnedVariant {
  /** Its name in row names and tables ('' for the predictor as shipped). */
  readonly label: string
  /** Weigh both classes alike (`train --balance`). */
  readonly balance: boolean
  /** The features fitted (all by default). */
  readonly features?: ReadonlyArray<PredictorFeature>
}

/** The predictor as `train` fits it by default, then without the averaged features, then with the classes weighed alike. */
export const LEARNED_VARIANTS: ReadonlyArray<LearnedVariant> = [
  { label: '', balance: false },
  {
    label: 'bucket features only',
    balance: false,
    features: ['failureRate', 'failureRateChange', 'logLatencyRatio', 'logLatencyRatioChange'],
  },
  { label: 'classes weighed', balance: true },
]

/** What the evaluation needs from the space run around it. */
export interface LearnedSetup {
  readonly space: ReadonlyArray<Cell>
  readonly calibrationSeeds: ReadonlyArray<number>
  readonly reportSeeds: ReadonlyArray<number>
  readonly workers: number
  /** The threshold the model is added to (`any-of`). */
  readonly reactive: unknown
  /** A matrix row of a trip config (classic half-open, 5 s open). */
  readonly row: (name: string, trip: unknown) => QualityRow
  /** The baseline row every matrix needs. */
  readonly classic: QualityRow
  /** Whether a row keeps the false-trip budget on every noise cell of a matrix. */
  readonly within: (m: QualityMatrix, name: string) => boolean
  readonly progress: (label: string) => (done: number, total: number) => void
  /** The variants trained (each one a model per held-out kind). */
  readonly variants: ReadonlyArray<LearnedVariant>
}

/** One held-out kind: the model's training size, the chosen probability (null: none keeps the budget) and its row's name. */
export interface HeldOutKind {
  readonly variant: string
  readonly kind: string
  readonly examples: number
  readonly positives: number
  readonly probability: number | null
  readonly row: string | null
  /** The test half's incident cells of this kind (fragile ones aside). */
  readonly cells: ReadonlyArray<string>
}

/** Trains, calibrates and picks one model per held-out kind and variant; the chosen rows are returned for the report. */
export const leaveOneKindOut = async (setup: LearnedSetup): Promise<{ kinds: HeldOutKind[]; rows: QualityRow[] }> => {
  const { space } = setup
  const trainNoise = space.filter((c) => c.half === 'train' && c.kind === 'noise')
  const candidates = setup.variants.flatMap((variant) =>
    heldOutModels(space, setup.reactive, setup.calibrationSeeds, setup.row, {
      balance: variant.balance,
      label: variant.label,
      ...(variant.features === undefined ? {} : { features: variant.features }),
    }).map((model) => ({ variant: variant.label, model })),
  )
  const calibration = await qualityMatrix(
    [setup.classic, ...candidates.flatMap((c) => c.model.rows.map((r) => r.row))],
    trainNoise,
    setup.calibrationSeeds,
    { workers: setup.workers, onProgress: setup.progress('calibrating the learned predictors') },
  )
  const held = candidates.map(({ variant, model }) => {
    const chosen = model.rows.filter((r) => setup.within(calibration, r.row.name)).at(-1)
    return {
      variant,
      kind: model.kind,
      examples: model.examples,
      positives: model.positives,
      probability: chosen?.probability ?? null,
      row: chosen?.row ?? null,
      cells: space
        .filter((cell) => cell.half === 'test' && cell.kind === 'incident' && !cell.fragile && incidentKind(cell.family) === model.kind)
        .map((cell) => cell.id),
    }
  })
  return {
    kinds: held.map(({ row, ...rest }) => ({ ...rest, row: row?.name ?? null })),
    rows: held.flatMap((h) => (h.row === null ? [] : [h.row])),
  }
}
