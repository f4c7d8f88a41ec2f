/**
 * Runs every `@example` in the packages' JSDoc, so the documentation cannot rot. A line ending in
 * `// <value>` asserts that the expression on it (or on the line before, for a comment on its own
 * line) equals that value; other comments are prose.
 */
import { readdirSync, readFileSync } from 'node:fs'
import * as http from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as core from '@datapunk/breaker'
import * as coreTesting from '@datapunk/breaker/testing'
import * as otel from '@datapunk/breaker-otel'
import * as prometheus from '@datapunk/breaker-prometheus'
import * as redis from '@datapunk/breaker-redis'
import * as runtime from '@datapunk/breaker-runtime'
import * as rx from '@datapunk/breaker-rxjs'
import * as sim from '@datapunk/breaker-sim'
import * as otelApi from '@opentelemetry/api'
import pino from 'pino'
import * as promClient from 'prom-client'
import * as rxjs from 'rxjs'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const modules: Record<string, unknown> = {
  '@datapunk/breaker': core,
  '@datapunk/breaker/testing': coreTesting,
  '@datapunk/breaker-runtime': runtime,
  '@datapunk/breaker-rxjs': rx,
  '@datapunk/breaker-sim': sim,
  '@datapunk/breaker-prometheus': prometheus,
  '@datapunk/breaker-otel': otel,
  '@datapunk/breaker-redis': redis,
  'prom-client': promClient,
  '@opentelemetry/api': otelApi,
  rxjs,
  pino: { default: pino },
  'node:http': http,
}
const packagesDir = fileURLToPath(new URL('../packages/', import.meta.url))

interface Example {
  readonly file: string
  readonly line: number
  readonly code: string
}

const examples: Example[] = readdirSync(packagesDir)
  .flatMap((pkg) => readdirSync(join(packagesDir, pkg, 'src'), { recursive: true, encoding: 'utf8' }).map((file) => join(pkg, 'src', file)))
  .filter((f) => f.endsWith('.ts'))
  .flatMap((file) => {
    const lines = readFileSync(join(packagesDir, file), 'utf8').split('\n')
    const found: Example[] = []
    lines.forEach((text, index) => {
      if (!/^\s*\*\s*@example\s*$/.test(text)) return
      const body: string[] = []
      for (let i = index + 1; i < lines.length; i++) {
        const line = lines[i] ?? ''
        if (/^\s*\*\//.test(line) || /^\s*\*\s*@\w+/.test(line)) break
        body.push(line.replace(/^\s*\* ?/, ''))
      }
      found.push({ file, line: index + 1, code: body.join('\n') })
    })
    return found
  })

/** A trailing comment's value, if it is one (`// 'open'`, `// false: because ...`), else undefined. */
const commentValue = (comment: string): { value: unknown } | undefined => {
  for (const candidate of [comment, comment.split(/:\s/)[0] ?? '']) {
    try {
      return { value: new Function(`return (${candidate})`)() }
    } catch {
      // not a value: prose
    }
  }
  return undefined
}

const isStatement = (code: string): boolean => /^(const|let|var|for|if|while|import|return|\}|\/\/)/.test(code.trim()) || code.trim() === ''

/** Rewrites `expr // value` lines into assertions and the package import into a lookup. */
const instrument = (code: string): string => {
  const lines = code.split('\n')
  const out: string[] = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? ''
    const named = /^import \{([^}]*)\} from '([^']+)'$/.exec(line.trim())
    if (named) {
      out.push(`const {${named[1]}} = __modules[${JSON.stringify(named[2])}]`)
      continue
    }
    const byDefault = /^import (\w+) from '([^']+)'$/.exec(line.trim())
    if (byDefault) {
      out.push(`const ${byDefault[1]} = __modules[${JSON.stringify(byDefault[2])}].default`)
      continue
    }
    const trailing = /^(.*\S)\s+\/\/\s(.+)$/.exec(line)
    const next = lines[i + 1]?.trim() ?? ''
    const ownLine = next.startsWith('// ') && !isStatement(line) ? next.slice(3) : undefined
    const expression = trailing?.[1] ?? (ownLine === undefined ? undefined : line)
    const comment = trailing?.[2] ?? ownLine
    const parsed = comment === undefined ? undefined : commentValue(comment)
    if (expression !== undefined && parsed !== undefined && !isStatement(expression)) {
      out.push(`__check(${expression.replace(/^;/, '')}, ${JSON.stringify(parsed.value)}, ${JSON.stringify(expression.trim())})`)
      if (ownLine !== undefined) i++
    } else {
      out.push(line)
    }
  }
  return out.join('\n')
}

describe('JSDoc examples run and say true things', () => {
  it('finds examples in the package', () => {
    expect(examples.length).toBeGreaterThanOrEqual(20)
  })

  it.each(examples.map((e) => [`${e.file}:${e.line}`, e] as const))('%s', async (_where, example) => {
    const js = ts.transpileModule(instrument(example.code), {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.None },
    }).outputText
    let checks = 0
    const check = (actual: unknown, expected: unknown, what: string) => {
      checks++
      expect(actual, what).toEqual(expected)
    }
    // Examples may `await` (the promise API): they run as async functions.
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
      ...args: string[]
    ) => (...args: unknown[]) => Promise<void>
    await new AsyncFunction('__modules', '__check', js)(modules, check)
    expect(checks, 'an example should show at least one result').toBeGreaterThan(0)
  })
})
