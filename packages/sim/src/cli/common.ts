/** What the subcommands of breaker-sim share: failing with a usage error, reading files and options, writing reports. */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { type ParseArgsConfig, parseArgs } from 'node:util'
import type { Kinds, Strategy } from '@datapunk/breaker'
import { loadKinds } from '../kindsModule.js'
import { type QualityRow, strategyOfRow } from '../quality/rows.js'
import { selectCells } from '../quality/select.js'
import { type Cell, qualitySpace, SPACE_RATES } from '../quality/space.js'
import { parseTrace, strategyFromJson, type TraceEvent } from '../replay.js'
import { type Command, commandHelp } from './help.js'

/** The command being run (for the pointer to its help in a usage error); `undefined`: the demo. */
let current: Command | undefined

/** Where a run of breaker-sim writes, and the environment it reads: the process's, or a test's. */
export interface CliIo {
  readonly stdout: { write(text: string): unknown }
  readonly stderr: { readonly isTTY?: boolean; write(text: string): unknown }
  readonly env: Readonly<Record<string, string | undefined>>
}

const processIo: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }

/** The run's io (the process's outside a run). */
let io: CliIo = processIo
let running = false

/** The io of the run under way: progress lines go to its stderr. */
export const currentIo = (): CliIo => io

/** Writes `text` to the run's stdout. */
export const print = (text: string): void => {
  io.stdout.write(text)
}

/**
 * How a command ends before its end: with an exit code (0 after `--help`, 1 a failure, 2 a usage
 * error) and the text for stderr (none after `--help`). `fail` and the other enders throw it;
 * {@link runWith} catches it.
 */
export class CliExit extends Error {
  override readonly name = 'CliExit'
  constructor(
    readonly code: 0 | 1 | 2,
    readonly stderr: string,
  ) {
    super(stderr.trim())
  }
}

/** Rethrows `error` if it is a {@link CliExit}: for `catch` blocks around code that may end the command. */
export const passExit = (error: unknown): void => {
  if (error instanceof CliExit) throw error
}

/**
 * Runs `run` with `given` as the io (the process's if not given) and returns the exit code: 0 if it
 * returns, a {@link CliExit}'s code if it ends early. Anything else thrown is a defect, and is thrown
 * on. One run at a time: the io and the command are the module's, for the run.
 */
export async function runWith(given: CliIo | undefined, run: () => Promise<void>): Promise<number> {
  if (running) throw new Error('breaker-sim: main is already running (one run at a time)')
  running = true
  io = given ?? processIo
  current = undefined
  try {
    await run()
    return 0
  } catch (error) {
    if (!(error instanceof CliExit)) throw error
    if (error.stderr !== '') io.stderr.write(error.stderr)
    return error.code
  } finally {
    io = processIo
    running = false
  }
}

/**
 * A command's options, parsed strictly. `--help` (or `-h`) prints the command's own help and exits
 * 0; an unknown or malformed option ends the command with a usage error, suggesting the option
 * meant (`--seed` for `--seeds`).
 */
export function parseOptions<O extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: O,
  command: Command | undefined,
): ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>>['values'] {
  current = command
  if (args.includes('--help') || args.includes('-h')) {
    print(`${commandHelp(command)}\n`)
    throw new CliExit(0, '')
  }
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    const unknown = /Unknown option '--?([^']+)'/.exec(message)?.[1]
    const near = unknown === undefined ? undefined : closest(unknown, Object.keys(options))
    // Node's own message ends with advice about positionals that does not apply here: the first sentence says it.
    const said = message.split('. ')[0] ?? message
    fail(near === undefined ? said : `${said} (did you mean --${near}?)`)
  }
}

/** The word of `words` closest to `word` (an edit or two away, or one starts the other), if any. */
export function closest(word: string, words: ReadonlyArray<string>): string | undefined {
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of words) {
    const d = candidate.startsWith(word) || word.startsWith(candidate) ? 1 : distance(word, candidate)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return bestDistance <= 2 ? best : undefined
}

/** Levenshtein distance (short words only: option and command names). */
const distance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = row
  }
  return previous[b.length] ?? 0
}

/** Ends the command with a usage error (exit 2): one line, and where to read its options. */
export function fail(message: string): never {
  const help = current === undefined ? 'breaker-sim --help' : `breaker-sim ${current} --help`
  throw new CliExit(2, `breaker-sim: ${message}\n(see ${help})\n`)
}

/** The part kinds of `--kinds MODULE` (none without it); a module that does not load ends the command. */
export async function kindsOption(spec: string | undefined): Promise<Kinds | undefined> {
  if (spec === undefined) return undefined
  const loaded = await loadKinds(spec)
  if ('error' in loaded) fail(loaded.error)
  return loaded.kinds
}

/** The strategy of a config read from `path` (as `fromConfig` reads it); a bad one ends the command naming what is wrong. */
export function strategyOf(json: unknown, path: string, kinds: Kinds | undefined): Strategy<unknown> {
  const parsed = strategyFromJson(json, path, kinds === undefined ? {} : { kinds })
  if (parsed._tag === 'Left') fail(parsed.left)
  return parsed.right
}

/** The strategy of a `--config FILE`. */
export function strategyFile(path: string, kinds: Kinds | undefined): Strategy<unknown> {
  return strategyOf(readJson(path), path, kinds)
}

/** Seeds from `N`, `A..B` or `A,B,C`: non-negative integers, at most 1000 of them. */
export function parseSeeds(spec: string): number[] {
  const seed = (text: string): number => {
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)))
      fail(`--seeds: expected N, A..B or A,B,C of non-negative integers, got "${spec}"`)
    return Number(text)
  }
  const range = /^(\d+)\.\.(\d+)$/.exec(spec)
  const seeds = range !== null ? rangeOf(seed(range[1] ?? ''), seed(range[2] ?? '')) : spec.split(',').map(seed)
  if (seeds.length === 0 || seeds.length > 1000) fail(`--seeds: expected 1 to 1000 seeds, got ${seeds.length}`)
  return seeds
}

export function rangeOf(from: number, to: number): number[] {
  if (to < from) fail(`--seeds: expected A..B with A <= B, got ${from}..${to}`)
  if (to - from >= 1000) fail(`--seeds: expected 1 to 1000 seeds, got ${to - from + 1}`)
  return Array.from({ length: to - from + 1 }, (_, i) => from + i)
}

/** The most a config, space or scenario file may hold (a JSON document a person wrote). */
export const MAX_JSON_BYTES = 16 * 1024 * 1024
/** The most a recorded trace may hold (JSON lines; a string this long is still well within V8's limit). */
export const MAX_TRACE_BYTES = 256 * 1024 * 1024

/**
 * The text of the regular file `path`, at most `maxBytes` long: a device (`/dev/zero`), a
 * directory or a file too large ends the command naming it, instead of reading until memory runs out.
 */
export function readBounded(path: string, maxBytes: number): string {
  try {
    const stats = statSync(path)
    if (!stats.isFile()) fail(`${path}: not a regular file`)
    if (stats.size > maxBytes) fail(`${path}: ${stats.size} bytes, more than the ${maxBytes} this file may hold`)
    return readFileSync(path, 'utf8')
  } catch (error) {
    passExit(error)
    fail(`cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`)
  }
}

export function readJson(path: string): unknown {
  const text = readBounded(path, MAX_JSON_BYTES)
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    fail(`${path}: not JSON (${error instanceof Error ? error.message : String(error)})`)
  }
}

/** A config file as a matrix row, named by its `name` (or its path); a config whose strategy does not build ends the command. */
export function configRow(path: string, kinds: Kinds | undefined): QualityRow {
  const config = readJson(path)
  const named = typeof config === 'object' && config !== null && typeof (config as { name?: unknown }).name === 'string'
  const row = { name: named ? String((config as { name: string }).name) : path, config }
  try {
    strategyOfRow(row, kinds)
  } catch (error) {
    fail(`${path}: ${error instanceof Error ? error.message : String(error)}`)
  }
  return row
}

export function positiveInt(text: string | undefined, name: string, fallback: number, max: number): number {
  if (text === undefined) return fallback
  const n = Number(text)
  if (!/^\d+$/.test(text) || n < 1 || n > max) fail(`--${name}: expected an integer in [1, ${max}], got "${text}"`)
  return n
}

/**
 * `mkdir -p dir`: the missing directories from the nearest one that exists, each made on its own.
 * Not `mkdirSync(dir, { recursive: true })`: on Node 20 that never returns for a path under a
 * directory where nothing can be made (`/proc/none/x`: making `/proc/none` says ENOENT, and it
 * retries the parent, which exists, then the child again, forever).
 */
export function makeDirectory(dir: string): void {
  const missing: string[] = []
  for (let at = resolve(dir); !existsSync(at); at = dirname(at)) {
    missing.push(at)
    if (dirname(at) === at) break
  }
  for (const path of missing.reverse()) {
    try {
      mkdirSync(path)
    } catch (error) {
      // Made meanwhile by someone else: as good.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
  }
}

export function writeJson(target: string, value: unknown): void {
  const path = resolve(target)
  try {
    makeDirectory(dirname(path))
    writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`)
  } catch (error) {
    throw new CliExit(1, `breaker-sim: could not write ${path}: ${error instanceof Error ? error.message : String(error)}\n`)
  }
}

export function writeHtml(target: string, html: string): void {
  const path = resolve(target)
  try {
    makeDirectory(dirname(path))
    writeFileSync(path, html)
  } catch (error) {
    throw new CliExit(
      1,
      `breaker-sim: could not write the HTML report to ${path}: ${error instanceof Error ? error.message : String(error)}\n`,
    )
  }
  print(`\nHTML report: ${path}\n`)
}

/**
 * `--rps N[,N...]`: the traffic levels to build the space's families at, whole requests/s from 1
 * to 10,000; anything else ends the command naming it.
 */
export function ratesOption(text: string): ReadonlyArray<number> {
  const parts = text.split(',').map((p) => p.trim())
  const bad = parts.find((p) => !/^\d+$/.test(p) || Number(p) < SPACE_RATES.min || Number(p) > SPACE_RATES.max)
  if (bad !== undefined)
    fail(
      `--rps: expected whole requests per second from ${SPACE_RATES.min} to ${SPACE_RATES.max}, comma-separated (e.g. 300 or 5,300), got "${bad}"`,
    )
  return parts.map(Number)
}

/**
 * The cells of `--cells SELECTOR`, up to `--max-rps N` requests/s, with every family built at
 * `--rps` levels if given (ids are then `family@N` at those levels); a selector that names
 * nothing ends the command.
 */
export function cellsOption(selector: string, maxRps: string | undefined, rps?: string): ReadonlyArray<Cell> {
  const selected = selectCells(selector, qualitySpace(rps === undefined ? {} : { rates: ratesOption(rps) }))
  if ('unknown' in selected) fail(`--cells: no cell or family named ${selected.unknown.join(', ')} (cells are family@rps, e.g. outage@200)`)
  const limit = positiveInt(maxRps, 'max-rps', 100_000, 100_000)
  const cells = selected.cells.filter((c) => c.rps <= limit)
  if (cells.length === 0) fail(`--cells: none of ${selector} runs at ${limit} requests/s or less`)
  return cells
}

/** The text of `path`; a file that cannot be read ends the command naming it. */
export function readText(path: string, maxBytes = MAX_JSON_BYTES): string {
  return readBounded(path, maxBytes)
}

/** The events of a recorded trace (JSON lines of calls$ events); a bad one ends the command naming its lines. */
export function readTrace(path: string): ReadonlyArray<TraceEvent> {
  const trace = parseTrace(readText(path, MAX_TRACE_BYTES))
  if (trace._tag === 'Left') fail(`${path}: ${trace.left.message}`)
  return trace.right
}
