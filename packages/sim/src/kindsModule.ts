/**
 * Loads a user's part kinds for the CLI: a JavaScript module (ESM) whose `kinds` export is a
 * `Kinds` table (`{ detectors?, recoveries?, openFor?, strategies? }`, each kind `{ codec, build }`), so a
 * config file can name the user's own parts.
 */
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Kinds } from '@datapunk/breaker'

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === 'object' && u !== null && !Array.isArray(u)

/** What is wrong with a `kinds` export, or `undefined` if it is a `Kinds` table. */
export const kindsProblem = (kinds: unknown): string | undefined => {
  if (!isRecord(kinds)) return 'expected an export named kinds: { detectors?, recoveries?, openFor?, strategies? }'
  for (const [slot, table] of Object.entries(kinds)) {
    if (slot !== 'detectors' && slot !== 'recoveries' && slot !== 'openFor' && slot !== 'strategies') {
      return `kinds.${slot}: unknown key (expected only detectors, recoveries, openFor, strategies)`
    }
    if (!isRecord(table)) return `kinds.${slot}: expected an object of kinds by name`
    for (const [name, kind] of Object.entries(table)) {
      const ok = isRecord(kind) && isRecord(kind.codec) && typeof kind.codec.decode === 'function' && typeof kind.build === 'function'
      if (!ok) return `kinds.${slot}.${name}: expected { codec, build } (an io-ts decoder and a function)`
    }
  }
  return undefined
}

/** Imports `path` and returns its `kinds` export, or a readable error. */
export const loadKinds = async (path: string): Promise<{ readonly kinds: Kinds } | { readonly error: string }> => {
  let module: Record<string, unknown>
  try {
    module = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>
  } catch (error) {
    return { error: `--kinds ${path}: cannot import it (${error instanceof Error ? error.message : String(error)})` }
  }
  const problem = kindsProblem(module.kinds)
  return problem === undefined ? { kinds: module.kinds as Kinds } : { error: `--kinds ${path}: ${problem}` }
}
