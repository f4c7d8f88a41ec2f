import { fileURLToPath } from 'node:url'
import type { Scenario } from './Scenario.js'
import { readScenarioFile } from './ScenarioFile.js'

/** The built-in scenarios, in the order the CLI lists them: files of the scenario format in `scenarios/`. */
const BUILT_IN = [
  'fragile-recovery',
  'fragile-cliff',
  'outage',
  'brownout',
  'flapping',
  'slow-degradation',
  'cascading',
  'noisy-but-healthy',
  'self-healing-spikes',
] as const

const loadBuiltIn = (name: string): Scenario => {
  const path = fileURLToPath(new URL(`../scenarios/${name}.json`, import.meta.url))
  const decoded = readScenarioFile(path)
  // A shipped file that does not decode is a packaging bug, not a user error: fail loudly.
  if (decoded._tag === 'Left') throw new Error(`built-in scenario ${name}: ${decoded.left}`)
  return decoded.right
}

/** The built-in scenarios, by name (read from the files the package ships). */
export const scenarios: Readonly<Record<string, Scenario>> = Object.fromEntries(BUILT_IN.map((name) => [name, loadBuiltIn(name)]))
