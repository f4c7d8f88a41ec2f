/**
 * Runs the example service against a local upstream through an outage and a recovery (about
 * five seconds), then prints what it counted and a few lines of its /metrics.
 *
 * Run: `pnpm --filter @datapunk/example-http-service start` (after `pnpm build`).
 */
import assert from 'node:assert/strict'
import pino from 'pino'
import { startService } from './service.js'
import { startUpstream } from './upstream.js'

const upstream = await startUpstream()
const service = await startService({ upstreams: { inventory: upstream.url }, logger: pino({ level: 'info' }), openMs: 1000 })
const call = () => fetch(`${service.url}/stock/inventory`).then((r) => r.status)
const burst = async (calls: number) => {
  for (let i = 0; i < calls; i += 10) await Promise.all(Array.from({ length: 10 }, call))
}

await burst(100) // healthy
upstream.set('down')
await burst(100) // the outage: the breaker trips, then rejects
upstream.set('healthy')
const until = Date.now() + 4000
while (service.group.get('inventory').snapshot().state !== 'closed' && Date.now() < until) {
  await burst(20)
  await new Promise((resolve) => setTimeout(resolve, 100))
}
const counted = service.counted.get('inventory')
const metrics = await (await fetch(`${service.url}/metrics`)).text()
process.stdout.write(`counted: ${JSON.stringify(counted)}\nupstream received: ${JSON.stringify(upstream.received)}\n`)
process.stdout.write(
  `${metrics
    .split('\n')
    .filter((l) => l.startsWith('breaker_calls_total') || l.startsWith('breaker_state'))
    .join('\n')}\n`,
)
assert.ok(counted !== undefined && counted.opened >= 1, 'the outage opened the breaker')
assert.ok((counted.rejected.open ?? 0) > 0, 'the open breaker rejected calls instead of sending them to the upstream')
assert.equal(service.group.get('inventory').snapshot().state, 'closed', 'the breaker closed again once the upstream healed')
assert.equal(
  upstream.received.ok + upstream.received.failed,
  counted.ok + counted.failed + counted.timedOut,
  'only admitted calls reached the upstream',
)
await service.close()
await upstream.close()
