/**
 * breaker-sim run in the test's own process (`main`, with its output captured), as the program
 * runs it: the same exit code and the same text on stdout and stderr. A spawned `node cli.js`
 * costs about a third of a second of CPU before it does anything; the suites run dozens of
 * commands. The bin itself (dist/cli.js: `process.exit(await main(argv))`) is spawned by the
 * tests that check exit codes through a real process.
 */
import { fileURLToPath, pathToFileURL } from 'node:url'

/**
 * `main` of the built package (pnpm test builds it first), as the program runs it: its worker
 * threads (`--workers`) load the built simulator.
 */
const built = (): Promise<typeof import('../src/cli/main.js')> =>
  import(pathToFileURL(fileURLToPath(new URL('../dist/cli/main.js', import.meta.url))).href)

/** What a run printed, and its exit code (the fields a `spawnSync` result has). */
export interface CliRun {
  readonly status: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs `breaker-sim ...args` in this process. */
export const breakerSim = async (...args: string[]): Promise<CliRun> => {
  let stdout = ''
  let stderr = ''
  const { main } = await built()
  const status = await main(args, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: process.env,
  })
  return { status, stdout, stderr }
}

/** The built program, for the tests that spawn it. */
export const cliPath = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
