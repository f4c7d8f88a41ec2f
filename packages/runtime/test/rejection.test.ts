import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { circuit } from '@datapunk/breaker'
import { BrokenCircuitError, createBreaker } from '@datapunk/breaker-runtime'
import { describe, expect, it } from 'vitest'

const openBreaker = () => {
  const breaker = createBreaker(
    circuit({ trip: { kind: 'consecutive-failures', threshold: 1 }, openFor: { kind: 'constant', ms: 60_000 } }),
  )
  const ticket = breaker.request()
  if (ticket._tag === 'Admitted') breaker.failed(ticket, 1)
  return breaker
}

describe('a rejection in the open state (settled a microtask late, so Node skips its unhandled-rejection bookkeeping)', () => {
  it('rejects with BrokenCircuitError, never calling the function, for await and for then/catch alike', async () => {
    const breaker = openBreaker()
    let called = 0
    const fn = async () => ++called
    await expect(breaker.execute(fn)).rejects.toBeInstanceOf(BrokenCircuitError)
    const seen = await breaker.execute(fn).then(
      () => 'resolved',
      (error: unknown) => (error instanceof BrokenCircuitError ? error.reason : 'other'),
    )
    expect(seen).toBe('open')
    expect(called).toBe(0)
  })

  it('bad input still rejects (never throws), with the same TypeError', async () => {
    const breaker = openBreaker()
    let returned: Promise<unknown> | undefined
    expect(() => {
      returned = breaker.execute(42 as never)
    }).not.toThrow()
    await expect(returned).rejects.toThrow(TypeError)
    await expect(breaker.execute(42 as never)).rejects.toThrow(/expected a function to call, got number/)
    await expect(breaker.execute(async () => 1, { timeoutMs: -1 })).rejects.toThrow(RangeError)
  })

  it('a rejection nobody handles is still reported as unhandled (a child process, as Node reports it)', () => {
    const script = [
      "import { circuit } from '@datapunk/breaker'",
      "import { createBreaker } from '@datapunk/breaker-runtime'",
      "const b = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 }, openFor: { kind: 'constant', ms: 60000 } }), { name: 'orders' })",
      'const t = b.request()',
      "if (t._tag === 'Admitted') b.failed(t, 1)",
      'b.execute(async () => 1)',
    ].join('\n')
    const cwd = fileURLToPath(new URL('..', import.meta.url))
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd, encoding: 'utf8' })
    expect(child.status).toBe(1)
    expect(child.stderr).toContain('BrokenCircuitError')
  })
})
