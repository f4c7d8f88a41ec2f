/**
 * Run by `pnpm bench` in a child process with a capped heap: a `breakerGroup` of `keys` idle
 * breakers, the heap it takes, and the cost of `get` (for a held key, and for a new key) once the
 * group holds them all. Prints one JSON line. `node --max-old-space-size=400 --expose-gc keys.js 1000000`.
 */
import { circuit } from '@datapunk/breaker'
import { breakerGroup } from '@datapunk/breaker-runtime'

const keys = Number(process.argv[2] ?? 1_000_000)
const gc = (globalThis as { gc?: () => void }).gc
const strategy = circuit({ trip: { kind: 'consecutive-failures', threshold: 5 } })
const group = breakerGroup<number>({ strategyFor: () => strategy, maxKeys: keys + 10_000 })
gc?.()
const before = process.memoryUsage().heapUsed
for (let i = 0; i < keys; i++) group.get(i)
gc?.()
const heapUsed = process.memoryUsage().heapUsed
/** Mean ns of `get` over `n` calls of `pick(i)`. */
const perGet = (n: number, pick: (i: number) => number): number => {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) group.get(pick(i))
  return Number(process.hrtime.bigint() - t0) / n
}
perGet(10_000, (i) => (i * 7919) % keys) // warm up
const held = perGet(200_000, (i) => (i * 7919) % keys)
const fresh = perGet(5_000, (i) => keys + i) // new keys: created, the group stays under maxKeys
console.log(
  JSON.stringify({
    keys,
    size: group.size,
    bytesPerKey: (heapUsed - before) / keys,
    heapUsedMB: heapUsed / 2 ** 20,
    getHeldNs: held,
    getNewNs: fresh,
  }),
)
