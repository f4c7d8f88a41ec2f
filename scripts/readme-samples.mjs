#!/usr/bin/env node
/**
 * The README's "Choose your config" sample output is what the commands print: runs
 * examples/choose-your-config/run.sh (the README's three commands) and checks that every line of
 * the README's sample block (blank lines and `...` aside, which mark what the README leaves out)
 * appears in the output, in order. The tuner's temporary output path reads `tuned.json`, as in the
 * README's command. Part of `pnpm test` (the examples job); on a mismatch it names the first line
 * not found and saves the whole output to paste from.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const output = execFileSync('bash', [join(root, 'examples/choose-your-config/run.sh')], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
  maxBuffer: 64 * 1024 * 1024,
}).replace(/written to \/\S*\/tuned\.json/g, 'written to tuned.json')

const readme = readFileSync(join(root, 'README.md'), 'utf8')
const section = readme.slice(readme.indexOf('## Choose your config'))
// The commands are a `sh` block; their output, the first block after it with no language.
const sample = [...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)].find((m) => m[1] === '')?.[2]
if (sample === undefined) {
  process.stderr.write('readme-samples: no sample output block under "## Choose your config" in README.md\n')
  process.exit(1)
}

const printed = output.split('\n').map((l) => l.trimEnd())
let at = 0
let checked = 0
for (const line of sample.split('\n').map((l) => l.trimEnd())) {
  if (line === '' || line === '...') continue
  const found = printed.indexOf(line, at)
  if (found < 0) {
    const saved = join(tmpdir(), 'choose-your-config.out')
    writeFileSync(saved, output)
    process.stderr.write(
      `readme-samples: README.md's "Choose your config" output shows a line the commands no longer print (or not in this order):\n  ${line}\n` +
        `The whole output is in ${saved}: update the README's sample (and what it says about it) from there.\n`,
    )
    process.exit(1)
  }
  at = found + 1
  checked++
}
process.stdout.write(`readme-samples: ${checked} lines of the README's "Choose your config" output, each printed by its commands\n`)
