/** A registry with breakers in every phase, for the tests that compare scrape texts. */
import { BreakerEvent, circuit } from '@datapunk/breaker'
import { type PrometheusAttachment, prometheusMetrics } from '@datapunk/breaker-prometheus'
import { breakerGroup, createBreaker } from '@datapunk/breaker-runtime'
import type { Registry } from 'prom-client'
import { VirtualTimeScheduler } from 'rxjs'

/** The group's keys: escapes and UTF-8. */
export const BUSY_KEYS: ReadonlyArray<string> = ['plain', 'é ünïcode', '日本', 'back\\slash', 'new\nline', '"']

/**
 * Attaches, to `registry`, breakers whose names and keys need escaping (UTF-8 included, unless
 * `keys` leaves it out), in every phase, with durations, odd transitions and figures; returns more
 * of the same traffic, and the attachments.
 */
export const busyRegistry = async (
  registry: Registry,
  keys: ReadonlyArray<string> = BUSY_KEYS,
): Promise<{ readonly traffic: () => Promise<void>; readonly attached: ReadonlyArray<PrometheusAttachment> }> => {
  let now = 0
  const clock = new VirtualTimeScheduler()
  clock.now = () => now
  const group = breakerGroup<string>({
    strategyFor: () =>
      circuit({
        name: 'a "quoted" \\ name\nwith a newline',
        trip: {
          kind: 'any-of',
          detectors: [
            { kind: 'consecutive-failures', threshold: 2 },
            { kind: 'cusum', signal: 'failure' },
          ],
        },
        recovery: { kind: 'gradual' },
      }),
    clock,
  })
  const single = createBreaker(circuit({ name: 'single', trip: { kind: 'consecutive-failures', threshold: 1 } }), { clock })
  const attached = [prometheusMetrics(group, { registry }), prometheusMetrics(single, { registry })]
  const traffic = async () => {
    for (const key of keys) {
      const breaker = group.get(key)
      for (let i = 0; i < 3; i++) {
        now += 7
        await breaker.execute(async () => 1).catch(() => {})
        await breaker.execute(async () => Promise.reject(new Error('down'))).catch(() => {})
      }
    }
  }
  await traffic()
  await single.execute(async () => Promise.reject(new Error('down'))).catch(() => {})
  await single.execute(async () => 1).catch(() => {}) // rejected: open
  single.dispatch(BreakerEvent.reset())
  return { traffic, attached }
}
