import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
// @ts-expect-error a plain ES module script, without types
import { FILE_LIMIT, FUNCTION_LIMIT, measure } from '../scripts/sizes.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const coreSources = readdirSync(join(root, 'packages/core/src'), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts'))
  .map((f) => ({ file: f, text: readFileSync(join(root, 'packages/core/src', f), 'utf8') }))

/** The code of a file without its comments and string contents (a JSDoc example may read a clock). */
const codeOf = (text: string): string =>
  text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g, "''")

describe('the architecture', () => {
  it('the core reads no clock, draws no random number, sets no timer and touches no process: time is an argument', () => {
    const forbidden = /\bDate\.now\b|\bnew Date\b|\bperformance\b|\bMath\.random\b|\bsetTimeout\b|\bsetInterval\b|\bprocess\.|\bcrypto\b/
    const offenders = coreSources
      .filter((s) => forbidden.test(codeOf(s.text)))
      .map((s) => `${s.file}: ${codeOf(s.text).match(forbidden)?.[0]}`)
    expect(offenders).toEqual([])
  })

  it('the forbidden-clock check finds a clock where there is one (it can fail)', () => {
    expect(/\bDate\.now\b/.test(codeOf('const t = Date.now() // now'))).toBe(true)
    expect(/\bDate\.now\b/.test(codeOf('/** Date.now() is never read */ const t = 1'))).toBe(false)
  })

  /**
   * No source file over 500 lines and no function over 80 (scripts/sizes.mjs measures them). Those
   * still over the limits are listed with the size they had when the limit came in: none may
   * grow, and none may join the list. Shrink the list as they are split; it ends empty.
   */
  const filesOver: Record<string, number> = {}
  const functionsOver: Record<string, number> = {}

  it(`no source file grows past ${FILE_LIMIT} lines, and none already past it grows`, () => {
    const { files } = measure() as { files: Array<{ file: string; lines: number }> }
    const problems = files
      .filter((f) => f.lines > FILE_LIMIT)
      .filter((f) => f.lines > (filesOver[f.file] ?? FILE_LIMIT))
      .map((f) => `${f.file}: ${f.lines} lines`)
    expect(problems).toEqual([])
  })

  it(`no function grows past ${FUNCTION_LIMIT} lines, and none already past it grows`, () => {
    const { functions } = measure() as { functions: Array<{ file: string; name: string; lines: number }> }
    const problems = functions
      .filter((f) => f.lines > FUNCTION_LIMIT)
      .filter((f) => f.lines > (functionsOver[`${f.file} ${f.name}`] ?? FUNCTION_LIMIT))
      .map((f) => `${f.file} ${f.name}: ${f.lines} lines`)
    expect(problems).toEqual([])
  })
})
