/**
 * A real `redis-server` on 127.0.0.1 for the tests (Debian's, installed by scripts/system-deps.sh):
 * a free port, no persistence, stopped with the test. `stop` kills it like a crash (SIGKILL);
 * `start` brings it back on the same port, empty.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'

export interface RedisServer {
  readonly port: number
  readonly url: string
  start(): Promise<void>
  stop(): Promise<void>
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))))
    })
  })

export const redisServer = async (path: string): Promise<RedisServer> => {
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const proc = spawn(
        path,
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      )
      child = proc
      let output = ''
      const timer = setTimeout(() => reject(new Error(`redis-server did not start on ${port}:\n${output}`)), 10_000)
      proc.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer)
          resolve()
        }
      })
      proc.once('exit', (code) => {
        clearTimeout(timer)
        if (!output.includes('Ready to accept connections')) reject(new Error(`redis-server exited with ${code}:\n${output}`))
      })
    })
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      const proc = child
      child = undefined
      if (proc === undefined || proc.exitCode !== null) return resolve()
      proc.once('exit', () => resolve())
      proc.kill('SIGKILL')
    })
  await start()
  return { port, url: `redis://127.0.0.1:${port}`, start, stop }
}
