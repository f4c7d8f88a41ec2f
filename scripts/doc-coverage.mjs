#!/usr/bin/env node
/**
 * Every public name is documented: each name a package's entry points export (what its
 * package.json `exports` map publishes, read from the sources), and each public member of an
 * exported class or interface (not type parameters, `_tag` discriminants, or an error's `name`),
 * must carry a JSDoc comment, or this exits 1 naming it. Part of `pnpm test`; `pnpm api-docs`
 * renders the same comments as the API reference (TypeDoc).
 *
 * `--list` prints every checked name with whether it is documented.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const list = process.argv.includes('--list')

/** The source entry points of each public package: `exports` entries mapped from dist/*.js to src/*.ts. */
const entries = readdirSync(join(root, 'packages')).flatMap((dir) => {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'))
  if (manifest.private === true) return []
  return Object.entries(manifest.exports ?? {})
    .filter(([subpath, target]) => subpath !== './package.json' && subpath !== './internal' && typeof target === 'object')
    .map(([subpath, target]) => ({
      name: `${manifest.name}${subpath === '.' ? '' : subpath.slice(1)}`,
      file: join(root, 'packages', dir, target.import.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts')),
    }))
})

const config = ts.getParsedCommandLineOfConfigFile(
  join(root, 'tsconfig.base.json'),
  {},
  { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
)
const program = ts.createProgram(
  entries.map((e) => e.file),
  { ...config.options, noEmit: true, composite: false, declaration: false },
)
const checker = program.getTypeChecker()

const documented = (symbol) =>
  symbol.getDocumentationComment(checker).length > 0 ||
  (symbol.getDeclarations() ?? []).some((d) => ts.getJSDocCommentsAndTags(d).length > 0)

/** Public members of a class or interface declared in our sources (not inherited from a library). */
const membersOf = (symbol) => {
  const declarations = symbol.getDeclarations() ?? []
  if (!declarations.some((d) => ts.isClassDeclaration(d) || ts.isInterfaceDeclaration(d))) return []
  const out = []
  for (const [name, member] of symbol.members ?? []) {
    if (name === '__constructor' || name === '__index' || name === '__call' || name === '_tag') continue
    if (member.flags & ts.SymbolFlags.TypeParameter) continue
    if (name === 'name' && declarations.some((d) => ts.isClassDeclaration(d) && d.heritageClauses !== undefined)) continue
    const decls = member.getDeclarations() ?? []
    if (decls.length === 0) continue
    const hidden = decls.some((d) => {
      const flags = ts.getCombinedModifierFlags(d)
      return (
        (flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0 ||
        (d.name !== undefined && ts.isPrivateIdentifier(d.name)) ||
        ts.getJSDocTags(d).some((t) => t.tagName.text === 'internal')
      )
    })
    if (!hidden) out.push({ name: String(name), symbol: member })
  }
  return out
}

const missing = []
const membersMissing = []
let checked = 0
for (const entry of entries) {
  const source = program.getSourceFile(entry.file)
  const moduleSymbol = source === undefined ? undefined : checker.getSymbolAtLocation(source)
  if (moduleSymbol === undefined) {
    missing.push(`${entry.name}: entry point ${relative(root, entry.file)} not found`)
    continue
  }
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
    const where = (symbol.getDeclarations() ?? [])[0]
    const file = where === undefined ? '?' : relative(root, where.getSourceFile().fileName)
    if (file.includes('node_modules')) continue // a library's type re-exported as is
    checked++
    const ok = documented(symbol)
    if (list) process.stdout.write(`${ok ? 'ok     ' : 'MISSING'} ${entry.name} ${exported.name}\n`)
    if (!ok) missing.push(`${entry.name}: ${exported.name} (${file})`)
    for (const member of membersOf(symbol)) {
      checked++
      const memberOk = documented(member.symbol)
      if (list) process.stdout.write(`${memberOk ? 'ok     ' : 'MISSING'} ${entry.name} ${exported.name}.${member.name}\n`)
      if (!memberOk) membersMissing.push(`${entry.name}: ${exported.name}.${member.name} (${file})`)
    }
  }
}

missing.push(...new Set(membersMissing))
if (missing.length > 0) {
  process.stderr.write(`doc-coverage: ${missing.length} public names without a JSDoc comment:\n${missing.map((m) => `  ${m}\n`).join('')}`)
  process.exit(1)
}
process.stdout.write(`doc-coverage: ${checked} public names and members, every one documented\n`)
