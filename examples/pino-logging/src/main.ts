/**
 * Structured logs of a breaker with pino: transitions at info (opening at warn), per-call events
 * at debug. The calls run in virtual time, so the output is the same on every run.
 *
 * Run: pnpm build && node examples/pino-logging/dist/main.js
 */
import { circuit } from '@datapunk/breaker'
import { createBreaker, logBreaker } from '@datapunk/breaker-runtime'
import { circuitBreaker } from '@datapunk/breaker-rxjs'
import pino from 'pino'
import { catchError, delay, map, of, VirtualTimeScheduler } from 'rxjs'

const scheduler = new VirtualTimeScheduler()
const logger = pino({ level: 'debug', base: null, timestamp: false })

const breaker = createBreaker(
  circuit({
    trip: { kind: 'consecutive-failures', threshold: 2 },
    recovery: { kind: 'classic', probes: 1 },
    openFor: { kind: 'constant', ms: 100 },
  }),
  { name: 'inventory', clock: scheduler },
)
const logging = logBreaker(breaker, logger)

/** An upstream that answers after 20 ms: an error until t=150, then the stock level. */
const upstream = of(0).pipe(
  delay(20, scheduler),
  map(() => {
    if (scheduler.now() < 150) throw new Error('503')
    return 'stock: 7'
  }),
)

// A call every 40 ms: two failures trip the breaker at 60, calls are rejected while it is open,
// and the probe at 160 (the upstream healed at 150) succeeds and closes it.
for (let at = 0; at <= 360; at += 40) {
  scheduler.schedule(() => {
    upstream
      .pipe(
        circuitBreaker(breaker),
        catchError(() => of('no answer')),
      )
      .subscribe()
  }, at)
}
scheduler.flush()
logging.unsubscribe()
