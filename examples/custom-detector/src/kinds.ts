/** The config kinds of this example's parts: with them, JSON configs (hot reconfiguration, replay) can name the parts. */
import { detectorKind, type Kinds, recoveryKind } from '@datapunk/breaker'
import { atLeastKind } from './AtLeast.js'
import { EwmaLatencyConfig, ewmaLatency } from './EwmaLatency.js'
import { SteadyProbesConfig, steadyProbes } from './SteadyProbes.js'

export const kinds = {
  detectors: {
    'ewma-latency': detectorKind({ codec: EwmaLatencyConfig, build: (config) => ewmaLatency(config) }),
    'at-least': atLeastKind,
  },
  recoveries: { 'steady-probes': recoveryKind({ codec: SteadyProbesConfig, build: (config) => steadyProbes(config) }) },
} satisfies Kinds
