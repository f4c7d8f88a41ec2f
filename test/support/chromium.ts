/**
 * Headless Chromium as this machine allows it (no sandbox as root, no background networking, a
 * fresh profile), for the tests that open a report. The program comes from scripts/system-deps.sh.
 *
 * One browser serves a whole test file: it is started on the first page and driven over the
 * DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON messages, each ended by a NUL byte,
 * written to its fd 3 and read from its fd 4), each page in a tab of its own. Starting Chromium
 * costs about 2 s of CPU here, more than rendering a report; a launch per page (`--dump-dom`,
 * `--screenshot`) made the reports' tests one of the slowest parts of `pnpm test`.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { systemProgram } from './systemProgram.js'

export const browser = systemProgram('chromium')

/** At most this long for the browser to answer a command (a page's load included). */
const ANSWER_MS = 120_000

interface Message {
  readonly id?: number
  readonly method?: string
  readonly sessionId?: string
  readonly params?: Record<string, unknown>
  readonly result?: Record<string, unknown>
  readonly error?: { readonly message: string }
}

/** A page as loaded: its markup, and the errors it reported while loading. */
export interface LoadedPage {
  readonly markup: string
  readonly errors: ReadonlyArray<string>
}

/** A viewport, in CSS pixels. */
export interface Viewport {
  readonly width: number
  readonly height: number
}

/**
 * A headless Chromium started on first use. `dom(file)` is what `chromium --dump-dom` printed: the
 * page's markup after its load event; `screenshot` what `--hide-scrollbars --window-size=W,H
 * --screenshot` wrote. Call `close()` after the file's tests (`afterAll`).
 */
export class Headless {
  private child: ChildProcess | undefined
  private profile: string | undefined
  private nextId = 1
  private readonly waiting = new Map<number, { resolve: (m: Message) => void; reject: (e: Error) => void }>()
  private readonly listeners = new Set<(m: Message) => void>()
  private stderr = ''
  private exited: Error | undefined

  /**
   * `file` (a local HTML file) once loaded: its markup (`document.documentElement.outerHTML`) and
   * the errors it reported (uncaught exceptions, and the console's and the browser's error entries:
   * a resource that failed to load, say).
   */
  async dom(file: string): Promise<LoadedPage> {
    const errors: string[] = []
    const markup = await this.withPage(
      file,
      undefined,
      async (session) => {
        const { result } = await this.send(
          'Runtime.evaluate',
          { expression: 'document.documentElement.outerHTML', returnByValue: true },
          session,
        )
        const value = (result as { result?: { value?: unknown } } | undefined)?.result?.value
        if (typeof value !== 'string') throw new Error(`chromium: no markup for ${file}`)
        return value
      },
      errors,
    )
    return { markup, errors }
  }

  /** Writes a PNG of `file`'s first `viewport` (scrollbars hidden) to `png`. */
  async screenshot(file: string, viewport: Viewport, png: string): Promise<void> {
    await this.withPage(file, viewport, async (session) => {
      const { result } = await this.send('Page.captureScreenshot', { format: 'png' }, session)
      const data = (result as { data?: unknown } | undefined)?.data
      if (typeof data !== 'string') throw new Error(`chromium: no screenshot of ${file}`)
      writeFileSync(png, Buffer.from(data, 'base64'))
    })
  }

  /** Stops the browser and removes its profile. */
  async close(): Promise<void> {
    const child = this.child
    if (child === undefined) return
    const gone = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve()
      else child.once('exit', () => resolve())
    })
    this.send('Browser.close').catch(() => undefined)
    this.child = undefined
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
    await gone
    clearTimeout(timer)
    this.exited = undefined // a later page starts a new browser
    if (this.profile !== undefined) rmSync(this.profile, { recursive: true, force: true, maxRetries: 5 })
  }

  /** Opens `file` in a new tab at `viewport` (if given), runs `use` once it has loaded, and closes the tab. */
  private async withPage<T>(
    file: string,
    viewport: Viewport | undefined,
    use: (session: string) => Promise<T>,
    errors: string[] = [],
  ): Promise<T> {
    this.start()
    const { result } = await this.send('Target.createTarget', { url: 'about:blank' })
    const targetId = (result as { targetId?: string }).targetId
    const attached = await this.send('Target.attachToTarget', { targetId, flatten: true })
    const session = (attached.result as { sessionId?: string }).sessionId
    if (session === undefined) throw new Error('chromium: could not attach to a new tab')
    const report = (m: Message): void => {
      if (m.sessionId !== session) return
      if (m.method === 'Runtime.exceptionThrown') {
        const details = m.params?.exceptionDetails as { text?: string; exception?: { description?: string } } | undefined
        errors.push(`Uncaught ${details?.exception?.description ?? details?.text ?? 'exception'}`)
      } else if (m.method === 'Log.entryAdded') {
        const entry = m.params?.entry as { level?: string; text?: string } | undefined
        if (entry?.level === 'error') errors.push(entry.text ?? 'error')
      } else if (m.method === 'Runtime.consoleAPICalled' && m.params?.type === 'error') errors.push('console.error')
    }
    this.listeners.add(report)
    try {
      await this.send('Page.enable', {}, session)
      await this.send('Runtime.enable', {}, session)
      await this.send('Log.enable', {}, session)
      if (viewport !== undefined) {
        await this.send('Emulation.setDeviceMetricsOverride', { ...viewport, deviceScaleFactor: 1, mobile: false }, session)
        await this.send('Emulation.setScrollbarsHidden', { hidden: true }, session)
      }
      const loaded = this.event('Page.loadEventFired', session)
      const navigated = await this.send('Page.navigate', { url: `file://${file}` }, session)
      const failed = (navigated.result as { errorText?: string } | undefined)?.errorText
      if (failed !== undefined) throw new Error(`chromium: could not open ${file}: ${failed}`)
      await loaded
      return await use(session)
    } finally {
      this.listeners.delete(report)
      await this.send('Target.closeTarget', { targetId }).catch(() => undefined)
    }
  }

  private start(): void {
    if (this.child !== undefined) return
    if (this.exited !== undefined) throw this.exited
    this.profile = mkdtempSync(join(tmpdir(), 'chromium-'))
    const child = spawn(
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
        '--remote-debugging-pipe',
        `--user-data-dir=${this.profile}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
    )
    this.child = child
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000)
    })
    child.on('exit', (code, signal) => {
      this.exited = new Error(`chromium exited (${code ?? signal}): ${this.stderr}`)
      for (const { reject } of this.waiting.values()) reject(this.exited)
      this.waiting.clear()
    })
    let pending = ''
    ;(child.stdio[4] as Readable).on('data', (d: Buffer) => {
      pending += d.toString()
      for (let end = pending.indexOf('\0'); end >= 0; end = pending.indexOf('\0')) {
        const message = JSON.parse(pending.slice(0, end)) as Message
        pending = pending.slice(end + 1)
        this.receive(message)
      }
    })
  }

  private receive(message: Message): void {
    if (message.id === undefined) {
      for (const listener of this.listeners) listener(message)
      return
    }
    const waiter = this.waiting.get(message.id)
    if (waiter === undefined) return
    this.waiting.delete(message.id)
    if (message.error !== undefined) waiter.reject(new Error(`chromium: ${message.error.message}`))
    else waiter.resolve(message)
  }

  /** Sends a command (to a tab's `session`, or to the browser) and waits for its answer. */
  private send(method: string, params: Record<string, unknown> = {}, session?: string): Promise<Message> {
    const child = this.child
    if (child === undefined) return Promise.reject(this.exited ?? new Error('chromium is not running'))
    const id = this.nextId++
    return new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id)
        reject(new Error(`chromium did not answer ${method} within ${ANSWER_MS} ms: ${this.stderr}`))
      }, ANSWER_MS)
      this.waiting.set(id, {
        resolve: (m) => {
          clearTimeout(timer)
          resolve(m)
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      })
      ;(child.stdio[3] as Writable).write(
        `${JSON.stringify({ id, method, params, ...(session === undefined ? {} : { sessionId: session }) })}\0`,
      )
    })
  }

  /** Resolves on the next `method` event of `session`. */
  private event(method: string, session: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener)
        reject(new Error(`chromium sent no ${method} within ${ANSWER_MS} ms: ${this.stderr}`))
      }, ANSWER_MS)
      const listener = (m: Message): void => {
        if (m.method !== method || m.sessionId !== session) return
        this.listeners.delete(listener)
        clearTimeout(timer)
        resolve()
      }
      this.listeners.add(listener)
    })
  }
}
