import { circuit } from '@datapunk/breaker'
import { classifyHttp, createBreaker } from '@datapunk/breaker-runtime'

export const breaker = createBreaker(
  circuit({
    name: 'payments',
    trip: { kind: 'consecutive-failures', threshold: 5 },
    // Stay away as long as a 503's or 429's Retry-After asks (1 s to 5 min); 5 s when it says nothing.
    openFor: { kind: 'retry-after', minMs: 1000, maxMs: 300_000, otherwise: { kind: 'constant', ms: 5000 } },
  }),
)
const payments = process.env.PAYMENTS_URL ?? 'http://payments.internal'

// fetch resolves on a 503: classifyHttp() counts 5xx and 429 answers as failures and reads their
// Retry-After; any other status is an answer (a 404 counts as a success, not an outage). Options
// made once cost least (execute checks them once); made per call from the same parts, little more.
const options = { ...classifyHttp(), timeoutMs: 2000 }
export const charge = (body: unknown) =>
  breaker.execute((signal) => fetch(`${payments}/charge`, { method: 'POST', body: JSON.stringify(body), signal }), options)
// Rejected: fetch is never called, and the promise rejects with a BrokenCircuitError whose
// retryAfterMs says when to come back.
