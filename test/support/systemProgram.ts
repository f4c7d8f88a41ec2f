/**
 * Tests that run a system program (Chromium, Prometheus, redis-server) find it here. The program
 * comes from `scripts/system-deps.sh` (run by `pnpm test` and CI), never from a test. Missing, a
 * test fails under CI=true and otherwise skips with a notice naming the command that installs it.
 */
import { execFileSync } from 'node:child_process'

export interface SystemProgram {
  readonly name: string
  /** The program's path, or `undefined` if it is not installed. */
  readonly path: string | undefined
  /** Whether tests needing it should run: it is there, or CI must report its absence as a failure. */
  readonly run: boolean
  /** Throws, naming the fix, when the program is missing (call it in the test under CI). */
  require(): string
}

export const systemProgram = (name: string): SystemProgram => {
  let path: string | undefined
  try {
    path = execFileSync('bash', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined
  } catch {
    path = undefined
  }
  const ci = process.env.CI === 'true'
  const fix = `${name} is missing: run 'bash scripts/system-deps.sh' as root (or apt-get install ${name})`
  if (path === undefined && !ci) process.emitWarning(`skipping the tests that need ${name}. ${fix}`)
  return {
    name,
    path,
    run: path !== undefined || ci,
    require: () => {
      if (path === undefined) throw new Error(fix)
      return path
    },
  }
}
