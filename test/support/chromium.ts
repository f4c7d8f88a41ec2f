/**
 * Headless Chromium as this machine allows it (no sandbox as root, no background networking, a
 * fresh profile), for the tests that open a report. The program comes from scripts/system-deps.sh.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemProgram } from './systemProgram.js'

export const browser = systemProgram('chromium')

/** Runs Chromium headless with `args` (e.g. `--dump-dom file://...`), at most two minutes. */
export const chromium = (args: string[]) =>
  spawnSync(
    browser.require(),
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--enable-logging=stderr',
      `--user-data-dir=${mkdtempSync(join(tmpdir(), 'chromium-'))}`,
      ...args,
    ],
    { encoding: 'utf8', timeout: 120_000 },
  )
