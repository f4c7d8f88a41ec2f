import { Writable } from 'node:stream'
import { circuit } from '@datapunk/breaker'
import { createBreaker, logBreaker } from '@datapunk/breaker-runtime'
import { circuitBreaker } from '@datapunk/breaker-rxjs'
import pino from 'pino'
import { NEVER, Observable, of, throwError } from 'rxjs'
import { describe, expect, it } from 'vitest'

/** A pino logger writing JSON lines into an array. */
const capture = (level: string) => {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>)
      done()
    },
  })
  return { logger: pino({ level, base: null, timestamp: false }, stream), lines }
}

const flush = () => new Promise((resolve) => setImmediate(resolve))

describe('logBreaker', () => {
  it('logs the trip at warn and calls at debug, as structured fields', async () => {
    const { logger, lines } = capture('debug')
    const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }), { name: 'payments' })
    logBreaker(breaker, logger)
    throwError(() => new Error('down'))
      .pipe(circuitBreaker(breaker))
      .subscribe({ error: () => {} })
    await flush()
    expect(lines.map((l) => [l.level, l.event])).toEqual([
      [20, 'CallAdmitted'],
      [40, 'StateChanged'],
      [20, 'CallFailed'],
    ])
    expect(lines[1]).toMatchObject({
      breaker: 'payments',
      from: 'closed',
      to: 'open',
      reason: 'tripped',
      msg: 'circuit payments opened (tripped)',
    })
  })

  it('at info, writes transitions only', async () => {
    const { logger, lines } = capture('info')
    const breaker = createBreaker(circuit({ trip: { kind: 'consecutive-failures', threshold: 1 } }), { name: 'payments' })
    const logging = logBreaker(breaker, logger)
    of(1).pipe(circuitBreaker(breaker)).subscribe()
    breaker.configRejected('trip.threshold: expected an integer >= 1, got 0')
    await flush()
    expect(lines.map((l) => [l.level, l.event])).toEqual([[50, 'ConfigRejected']])
    logging.unsubscribe()
    breaker.configRejected('again')
    await flush()
    expect(lines).toHaveLength(1)
  })

  it('subscribes to per-call events only when debug is enabled', () => {
    let subscriptions = 0
    const calls$ = new Observable<never>(() => {
      subscriptions++
    })
    logBreaker({ calls$, transitions$: NEVER }, capture('info').logger)
    expect(subscriptions).toBe(0)
    logBreaker({ calls$, transitions$: NEVER }, capture('debug').logger)
    expect(subscriptions).toBe(1)
  })
})
