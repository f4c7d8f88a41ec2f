#!/usr/bin/env node
/**
 * `pnpm test`: every check, in the least wall time two cores allow.
 *
 * The system programs and the build (`tsc -b`, then scripts/bundle.mjs) come first: everything after reads the built
 * packages. The checks that read only the sources (biome, dependency-cruiser, every public name
 * documented) run beside the build, on the core it leaves idle. Then two jobs run at once, since
 * neither reads what the other writes:
 *   - vitest (the longest; its output is shown as it runs),
 *   - the side checks, one after another: tsc on the tests (they import the built packages'
 *     types), every example program, scripts/pack-check.mjs (the packed tarballs).
 * Vitest's two workers leave part of a core idle (its integration tests wait on servers and
 * timers); the side checks fill it. They run one after another, not three at once beside vitest:
 * five processes on two cores cost more CPU for the same work (four `tsc` at once took 4.5 times
 * the CPU of one, two at once twice). Alternated clean-clone runs could not tell the two orders
 * apart, though: 157.9, 156.8 and 175.9 s one after another against 164.3, 186.5 and 152.6 s
 * three at once (the twenty-third session), the machine's own swings being larger. One after
 * another, each still runs when one before it failed. The side checks' output is printed when
 * the job ends, whole, under its name (in CI always, elsewhere when it failed).
 * The run fails if any job fails, after every job has ended, with a line per job.
 *
 * `node scripts/test.mjs --serial` runs the same jobs one after another (for reading output in
 * order, or on a one-core machine).
 */
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bin = (name) => join(root, 'node_modules', '.bin', name)
const serial = process.argv.includes('--serial')
const started = Date.now()
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`

/**
 * Runs one command to the end with its output shown as it goes; exits the run if it fails. Not
 * `spawnSync`: jobs started beside it go on while it runs.
 */
const first = async (what, command, args) => {
  process.stdout.write(`test: ${what}\n`)
  const child = spawn(command, args, { cwd: root, stdio: 'inherit' })
  const code = await new Promise((resolve) => child.on('close', (c, signal) => resolve(c ?? signal)))
  if (code !== 0) {
    process.stderr.write(`test: ${what} failed (exit ${code}); nothing else was run\n`)
    process.exit(typeof code === 'number' && code !== 0 ? code : 1)
  }
}

await first('system programs (scripts/system-deps.sh)', 'bash', ['scripts/system-deps.sh'])

/** A job: steps run in order, each whether or not the one before passed; the job fails if any step fails. */
const sourceChecks = {
  name: 'source checks (biome, dependency-cruiser, doc coverage)',
  steps: [
    [bin('biome'), ['check', '.']],
    [bin('depcruise'), ['packages/*/src', '--config', '.dependency-cruiser.cjs']],
    [process.execPath, ['scripts/doc-coverage.mjs']],
  ],
}
const jobs = [
  { name: 'vitest', live: true, steps: [[bin('vitest'), ['run']]] },
  {
    name: 'side checks (tsc on the tests, the examples, pack-check)',
    steps: [
      [bin('tsc'), ['-p', 'tsconfig.test.json']],
      ['bash', ['scripts/examples.sh']],
      [process.execPath, ['scripts/pack-check.mjs']],
    ],
  },
]

/** A step's name in the report: its program's file name and its arguments. */
const named = (command, args) => [command.split('/').at(-1), ...args].join(' ')

/**
 * Runs a job's steps; resolves to its result, with its output (unless live) and the steps that
 * failed. Every step runs: one failing check does not hide what the next would say.
 */
const runJob = async (job) => {
  const jobStart = Date.now()
  let output = ''
  const failed = []
  for (const [command, args] of job.steps) {
    const stepStart = Date.now()
    const child = spawn(command, args, {
      cwd: root,
      shell: command === bin('depcruise'), // the glob is the shell's to expand
      stdio: job.live ? 'inherit' : ['ignore', 'pipe', 'pipe'],
    })
    child.stdout?.on('data', (d) => {
      output += d
    })
    child.stderr?.on('data', (d) => {
      output += d
    })
    const code = await new Promise((resolve) => child.on('close', (c, signal) => resolve(c ?? signal)))
    if (!job.live)
      output += `test: ${named(command, args)}: ${code === 0 ? 'passed' : `FAILED (exit ${code})`} in ${seconds(Date.now() - stepStart)}\n`
    if (code !== 0) failed.push(`${named(command, args)} (exit ${code})`)
  }
  return { job, ok: failed.length === 0, output, ms: Date.now() - jobStart, failed: failed.join('; ') }
}

const report = (r) => {
  if (r.job.live) return
  process.stdout.write(`\ntest: ---- ${r.job.name}: ${r.ok ? 'passed' : 'FAILED'} in ${seconds(r.ms)} ----\n`)
  if (r.output !== '' && (!r.ok || process.env.CI === 'true' || serial))
    process.stdout.write(r.output.endsWith('\n') ? r.output : `${r.output}\n`)
}

/** Runs a job and prints its report when it ends. */
const runReported = (job) =>
  runJob(job).then((r) => {
    report(r)
    return r
  })

const results = []
// The source checks run beside the build (after it, with --serial); the build must pass for the rest to run.
const besideBuild = serial ? [] : [runReported(sourceChecks)]
await first('build (tsc -b)', bin('tsc'), ['-b'])
await first('bundle (scripts/bundle.mjs: the core and the runtime)', process.execPath, ['scripts/bundle.mjs'])
if (serial) for (const job of [sourceChecks, ...jobs]) results.push(await runReported(job))
else results.push(...(await Promise.all([...besideBuild, ...jobs.map(runReported)])))

process.stdout.write(`\ntest: ${seconds(Date.now() - started)} in all\n`)
for (const r of results)
  process.stdout.write(`test:   ${r.ok ? 'ok    ' : 'FAILED'} ${r.job.name} (${seconds(r.ms)})${r.ok ? '' : `: ${r.failed}`}\n`)
if (results.some((r) => !r.ok)) process.exit(1)
