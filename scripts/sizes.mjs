#!/usr/bin/env node
/**
 * The largest source files and functions of packages/*\/src, by lines (the redesign's limits: no
 * file over 500 lines, no function over 80). `node scripts/sizes.mjs` prints every file and
 * function over the limits, largest first, and the ten largest of each; `--json` prints the same
 * as JSON (test/architecture.test.ts reads it). A function is any function declaration, method,
 * accessor, constructor, arrow function or function expression; its lines run from its first line
 * to its last, nested functions included.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

export const FILE_LIMIT = 500
export const FUNCTION_LIMIT = 80

const root = resolve(fileURLToPath(new URL('..', import.meta.url)))

const sourcesOf = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourcesOf(path)
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : []
  })

/** The name a reader would look for: the declaration's, or the variable or property it is assigned to. */
const nameOf = (node) => {
  if (node.name !== undefined && ts.isIdentifier(node.name)) return node.name.text
  if (node.name !== undefined) return node.name.getText()
  const parent = node.parent
  if (parent !== undefined && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)))
    return parent.name.getText()
  if (ts.isConstructorDeclaration(node)) return 'constructor'
  return '(anonymous)'
}

/** Every source file and function of packages/*\/src with its length in lines. */
export const measure = () => {
  const files = []
  const functions = []
  for (const pkg of readdirSync(join(root, 'packages'))) {
    let sources
    try {
      sources = sourcesOf(join(root, 'packages', pkg, 'src'))
    } catch {
      continue
    }
    for (const path of sources) {
      const text = readFileSync(path, 'utf8')
      const file = relative(root, path)
      const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true)
      const lineOf = (pos) => source.getLineAndCharacterOfPosition(pos).line
      files.push({ file, lines: lineOf(text.length) + (text.endsWith('\n') ? 0 : 1) })
      const visit = (node) => {
        if (
          ts.isFunctionDeclaration(node) ||
          ts.isMethodDeclaration(node) ||
          ts.isArrowFunction(node) ||
          ts.isFunctionExpression(node) ||
          ts.isConstructorDeclaration(node) ||
          ts.isGetAccessorDeclaration(node) ||
          ts.isSetAccessorDeclaration(node)
        ) {
          if (node.body !== undefined) {
            const lines = lineOf(node.getEnd()) - lineOf(node.getStart()) + 1
            functions.push({ file, name: nameOf(node), line: lineOf(node.getStart()) + 1, lines })
          }
        }
        ts.forEachChild(node, visit)
      }
      visit(source)
    }
  }
  files.sort((a, b) => b.lines - a.lines)
  functions.sort((a, b) => b.lines - a.lines)
  return { files, functions }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { files, functions } = measure()
  const overFiles = files.filter((f) => f.lines > FILE_LIMIT)
  const overFunctions = functions.filter((f) => f.lines > FUNCTION_LIMIT)
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ overFiles, overFunctions }, null, 2)}\n`)
  } else {
    console.log(`Source files over ${FILE_LIMIT} lines: ${overFiles.length}`)
    for (const f of overFiles) console.log(`  ${String(f.lines).padStart(5)}  ${f.file}`)
    console.log(`Functions over ${FUNCTION_LIMIT} lines: ${overFunctions.length}`)
    for (const f of overFunctions) console.log(`  ${String(f.lines).padStart(5)}  ${f.name} (${f.file}:${f.line})`)
    console.log('\nLargest files:')
    for (const f of files.slice(0, 10)) console.log(`  ${String(f.lines).padStart(5)}  ${f.file}`)
    console.log('Largest functions:')
    for (const f of functions.slice(0, 10)) console.log(`  ${String(f.lines).padStart(5)}  ${f.name} (${f.file}:${f.line})`)
  }
}
