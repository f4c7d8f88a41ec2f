#!/usr/bin/env node
/**
 * The JavaScript of `@datapunk/breaker` (the core) and `@datapunk/breaker-runtime`, as esbuild
 * bundles: one module per entry point (plus one shared chunk), where `tsc` would emit a module per
 * source file. `tsc -b` writes their declarations only (`emitDeclarationOnly`); this writes the
 * code, from the same sources. Why: Node's ES-module loader pays about a millisecond per module
 * resolved and loaded, and the promise API was ~75 modules: bundled, a cold import of the runtime
 * costs about half (bench/RESULTS.md, "cold import").
 *
 * Each package's entry points are built together (code splitting), so `@datapunk/breaker` and
 * `@datapunk/breaker/testing` (or the runtime and its `/internal`) share one copy of every module:
 * one registry of part kinds, one set of outcome markers. Dependencies stay imports (`packages:
 * 'external'`); source maps point at `src/`, which the package ships.
 *
 * `pnpm build` runs it after `tsc -b`; so do `pnpm test` and every script that builds.
 */
import { rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = resolve(fileURLToPath(new URL('..', import.meta.url)))

/** The bundled packages: their directory and entry points (relative to src/, without extension). */
export const BUNDLED = [
  { dir: 'packages/core', entries: ['index', 'testing/index'] },
  { dir: 'packages/runtime', entries: ['index', 'internal'] },
]

for (const { dir, entries } of BUNDLED) {
  const pkg = join(root, dir)
  // Chunks are named by content: last build's are removed, so none is left behind.
  rmSync(join(pkg, 'dist', 'chunks'), { recursive: true, force: true })
  await build({
    absWorkingDir: pkg,
    entryPoints: entries.map((e) => ({ in: `src/${e}.ts`, out: e })),
    outdir: 'dist',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    packages: 'external',
    chunkNames: 'chunks/[name]-[hash]',
    sourcemap: 'linked',
    sourcesContent: false,
    tsconfig: 'tsconfig.json',
    logLevel: 'warning',
  })
}
