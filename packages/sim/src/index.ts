/**
 * @datapunk/breaker-sim: a deterministic simulator of clients calling an upstream through
 * circuit-breaker strategies, for comparing and tuning them.
 */

export { scenarios } from './builtInScenarios.js'
export { MemoryFleet } from './fleet/memoryTransport.js'
export {
  FLEET_SIZES,
  type FleetSizeRow,
  renderFleetHtml,
  renderFleetText,
  sweepFleet,
} from './fleet/render.js'
export { FLEET_DEFAULT_CONFIG, type FleetModelOptions, type FleetRun, simulateFleet } from './fleet/simulateFleet.js'
export { renderHtml, renderSeedHtml, renderTuneHtml } from './html.js'
export {
  evaluatePrediction,
  OUTCOME_SCENARIOS,
  type PredictionEvaluation,
  type PredictionOutcome,
  type PredictionRow,
  renderPrediction,
  stretched,
} from './prediction.js'
export {
  EARLY_WARNING_LEAD_S,
  type EarlyWarning,
  type EarlyWarningColumn,
  type EarlyWarningLine,
  type EarlyWarningOptions,
  earlyWarning,
  HELD_OUT_COLUMN,
  renderEarlyWarning,
  shedLead,
  worstNoiseCell,
} from './quality/earlyWarning.js'
export {
  HELD_OUT_PROBABILITIES,
  type HeldOutCandidate,
  type HeldOutTraining,
  heldOutModels,
  incidentKind,
} from './quality/heldOut.js'
export {
  type CellLine,
  type CellRow,
  type CellSeed,
  type Figures,
  type MatrixOptions,
  oracleShareOf,
  type QualityMatrix,
  qualityMatrix,
  type RowSummary,
  reduceMatrix,
  runCellSeed,
  successOf,
} from './quality/matrix.js'
export { DEFINITIONS, renderQualityHtml, renderQualityMarkdown, renderQualityText } from './quality/render.js'
export { BASELINE, type LibraryRowsOptions, libraryRows, type QualityRow, strategyOfRow } from './quality/rows.js'
export { selectCells } from './quality/select.js'
export { type Cell, type Half, qualitySpace, SPACE_RATES, type SpaceOptions } from './quality/space.js'
export { normal, type Random, seeded } from './Random.js'
export { parseTrace, type Replay, type ReplayedCall, replay, strategyFromJson, TraceError, TraceEvent } from './replay.js'
export { renderSeedTable, renderText, sparkline } from './report.js'
export {
  arrivals,
  type Fragility,
  type HealthSegment,
  healthAt,
  jitteredScenario,
  type LoadModel,
  type LoadStep,
  latencyOf,
  meanRps,
  peakRps,
  type Scenario,
  type Strain,
  shedAt,
  strainAt,
} from './Scenario.js'
export { MAX_SCENARIO_MS, MAX_SIMULATED_REQUESTS, parseScenario, readScenarioFile, ScenarioFile } from './ScenarioFile.js'
export {
  type Bucket,
  ORACLE,
  type Run,
  type RunSummary,
  type SimulateOptions,
  simulate,
  simulateOracle,
  simulateWithOracle,
} from './simulate.js'
export { demoDetection, demoStrategies } from './strategies.js'
export { type TraceOutcome, type Trained, type TrainOptions, traceExamples, trainPredictor } from './train.js'
export {
  best,
  type Candidate,
  Constraints,
  candidatesOf,
  costOf,
  DEFAULT_WEIGHTS,
  type Evaluation,
  edgeWarnings,
  evaluate,
  type Figures as TuneFigures,
  paretoFront,
  parseSpace,
  simulateSeeds,
  simulateSummaries,
  type Target,
  type TuneOptions,
  TuneSpace,
  tuneAll,
  Weights,
} from './tune.js'
