/**
 * A redis-server for the fleet-mode rows: Debian's (scripts/system-deps.sh installs it), on a free
 * port of 127.0.0.1, without persistence. `undefined` when it is not installed (the rows are then
 * left out, and their target is not measured).
 */
import { execFileSync, spawn } from 'node:child_process'
import { createServer } from 'node:net'

export interface BenchRedis {
  readonly url: string
  stop(): void
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

export const startRedis = async (): Promise<BenchRedis | undefined> => {
  let path: string
  try {
    path = execFileSync('bash', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim()
  } catch {
    return undefined
  }
  if (path === '') return undefined
  const port = await freePort()
  const child = spawn(path, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  await new Promise<void>((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000)
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer)
        resolve()
      }
    })
  })
  process.once('exit', () => child.kill('SIGKILL'))
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') }
}
