/** A flaky upstream for the example: healthy, or down (500s), as the caller sets it. */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Upstream {
  readonly url: string
  /** Requests it received, by the status it answered. */
  readonly received: { ok: number; failed: number }
  set(mode: 'healthy' | 'down'): void
  close(): Promise<void>
}

export const startUpstream = async (): Promise<Upstream> => {
  let mode: 'healthy' | 'down' = 'healthy'
  const received = { ok: 0, failed: 0 }
  const server = createServer((_req, res) => {
    if (mode === 'healthy') {
      received.ok++
      res.end('in stock')
    } else {
      received.failed++
      res.writeHead(500).end('database unavailable')
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    received,
    set: (next) => {
      mode = next
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
