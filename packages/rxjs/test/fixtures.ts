import { BreakerEvent, circuit } from '@datapunk/breaker'
import { createBreaker } from '@datapunk/breaker-runtime'
import { VirtualTimeScheduler } from 'rxjs'

/** A breaker with one probe permit that has just tripped and was moved to half-open by hand. */
export const halfOpenBreaker = (scheduler: VirtualTimeScheduler = new VirtualTimeScheduler()) => {
  const breaker = createBreaker(
    circuit({
      trip: { kind: 'consecutive-failures', threshold: 1 },
      recovery: { kind: 'classic', probes: 1 },
      openFor: { kind: 'constant', ms: 1000 },
    }),
    { clock: scheduler },
  )
  const first = breaker.request()
  if (first._tag === 'Admitted') breaker.failed(first, 1)
  breaker.dispatch(BreakerEvent.halfOpen())
  return breaker
}
