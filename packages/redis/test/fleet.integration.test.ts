/**
 * Four replicas (child processes) call one flaky node:http upstream on 127.0.0.1, each through its
 * own breaker: alone (local evidence) and in fleet mode on a real redis-server. Measured: how many
 * failed calls the fleet sends, and how long it takes, until every replica is open; then Redis is
 * killed mid-run (replicas keep serving, no call waits) and restarted (they resynchronise).
 *
 * The replicas run the built packages (dist/, from `tsc -b`, which `pnpm test` runs first); the same
 * four processes serve every run (see `replicaPool`).
 */
import { type ChildProcess, fork } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { systemProgram } from '../../../test/support/systemProgram.js'
import { type RedisServer, redisServer } from './redisServer.js'

const redisProgram = systemProgram('redis-server')
const fixture = fileURLToPath(new URL('./fixtures/replica.mjs', import.meta.url))
const REPLICAS = 4

interface Report {
  readonly replica: string
  readonly successes: number
  readonly failures: number
  readonly rejected: number
  readonly maxMs: number
  readonly openedAt: number | null
  readonly state: string
  readonly reason: string
  readonly healthy: boolean | null
  readonly halfOpenCalls: number
}

/** The upstream: healthy, failing (503) for everyone, or for some replicas only (a local fault), counting what it serves. */
const upstream = async () => {
  let failing = false
  let failingFor = new Set<string>()
  let served = { ok: 0, failed: 0 }
  const server: Server = createServer((req, res) => {
    const replica = new URL(req.url ?? '/', 'http://x').searchParams.get('replica') ?? ''
    const fails = failing || failingFor.has(replica)
    if (fails) served.failed++
    else served.ok++
    res.writeHead(fails ? 503 : 200).end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}/`,
    fail: (on: boolean) => {
      failing = on
    },
    failFor: (replicas: ReadonlyArray<string>) => {
      failingFor = new Set(replicas)
    },
    served: () => served,
    reset: () => {
      served = { ok: 0, failed: 0 }
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}

const until = async (what: string, ok: () => boolean, ms: number, output: () => string): Promise<void> => {
  const deadline = Date.now() + ms
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${output()}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** What a run may set in each replica (the fixture's defaults otherwise). */
interface RunSettings {
  readonly openMs?: number
  readonly probes?: number
  readonly oneAtATime?: boolean
}

/** Whether a child process is still running. */
const alive = (c: ChildProcess): boolean => c.exitCode === null && c.signalCode === null

/**
 * Sends `message` to `c` and resolves once it answers as `answered` says, or exits; a child that
 * does neither within 5 s is killed.
 */
const ask = (c: ChildProcess, message: string, answered: (m: unknown) => boolean = () => false): Promise<void> =>
  new Promise<void>((resolve) => {
    if (!alive(c)) return resolve()
    const end = (): void => {
      clearTimeout(kill)
      c.off('message', onMessage)
      c.off('exit', end)
      resolve()
    }
    const onMessage = (m: unknown): void => {
      if (answered(m)) end()
    }
    const kill = setTimeout(() => c.kill('SIGKILL'), 5000)
    c.on('message', onMessage)
    c.once('exit', end)
    c.send(message)
  })

/**
 * The replica processes, started once and given one run after another: a replica's start (Node,
 * ioredis and the packages imported) costs more than its run, and eight runs made 32 processes.
 * Each run builds its breaker anew (`configure`), and reports are kept only from the run in
 * progress. A replica that does not end its run within 5 s is killed, and the next run starts a
 * fresh one.
 */
const replicaPool = () => {
  let children: Array<ChildProcess | undefined> = []
  let output = ''
  let run = 0
  let onReport: (m: Report & { readonly run: number }) => void = () => {}
  const spawn = (i: number): ChildProcess => {
    const child = fork(fixture, [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
    const collect = (d: Buffer): void => {
      output += d.toString()
    }
    child.stdout?.on('data', collect)
    child.stderr?.on('data', collect)
    child.on('message', (m: Report & { readonly run: number }) => {
      if (typeof m === 'object' && m !== null && 'replica' in m) onReport(m)
    })
    child.on('exit', () => {
      if (children[i] === child) children[i] = undefined
    })
    return child
  }
  const live = (): ChildProcess[] =>
    Array.from({ length: REPLICAS }, (_, i) => {
      const child = children[i]
      if (child !== undefined && alive(child)) return child
      const fresh = spawn(i)
      children[i] = fresh
      return fresh
    })

  /** Starts a run on every replica; resolves once each has reported (and, in fleet mode, synced). */
  const startFleet = async (upstreamUrl: string, redisUrl: string | undefined, settings: RunSettings = {}) => {
    const latest = new Map<string, Report>()
    const mine = ++run
    output = ''
    onReport = (m) => {
      if (m.run === mine) latest.set(m.replica, m)
    }
    const replicas = live()
    replicas.forEach((c, i) => {
      c.send({ configure: { ...settings, run: mine, upstream: upstreamUrl, redisUrl: redisUrl ?? '', replica: `r${i}` } })
    })
    const reports = () => [...latest.values()]
    const show = () => `${JSON.stringify(reports(), null, 1)}\n${output}`
    await until('every replica to report', () => latest.size === REPLICAS && reports().every((r) => r.healthy !== false), 15_000, show)
    return {
      reports,
      show,
      send: (message: string) => {
        for (const c of replicas) c.send(message)
      },
      stop: () =>
        Promise.all(
          replicas.map((c) => ask(c, 'stop', (m) => typeof m === 'object' && m !== null && (m as { stopped?: unknown }).stopped === mine)),
        ),
    }
  }
  /** Ends every replica process. */
  const close = () =>
    Promise.all(children.map((c) => (c === undefined ? undefined : ask(c, 'exit')))).then(() => {
      children = []
    })
  return { startFleet, close }
}

describe.runIf(redisProgram.run)('four replicas against a flaky upstream', () => {
  let redis: RedisServer
  let up: Awaited<ReturnType<typeof upstream>>
  const pool = replicaPool()
  const startFleet = pool.startFleet
  const results: Record<string, { failedCalls: number; allOpenMs: number; peerTripped: number }> = {}
  const probes: Record<string, number> = {}
  const localFaults: Record<string, { failedCalls: number; healthyRejected: number }> = {}

  beforeAll(async () => {
    redis = await redisServer(redisProgram.require())
    up = await upstream()
  })
  afterAll(async () => {
    await pool.close()
    await up?.close()
    await redis?.stop()
    if (Object.keys(results).length > 0) console.log('fleet integration, until every replica is open:', JSON.stringify(results))
    if (Object.keys(probes).length > 0) console.log('fleet integration, probes sent into the recovering upstream:', JSON.stringify(probes))
    if (Object.keys(localFaults).length > 0)
      console.log(
        'fleet integration, local faults (failed calls until the faulty replicas opened, good calls the healthy ones rejected):',
        JSON.stringify(localFaults, (key, value) => (key === 'healthyStates' ? undefined : value)),
      )
  })

  /** A dead upstream from the first call: failed calls and time until all four are open. */
  const tripRun = async (mode: 'local' | 'fleet') => {
    up.reset()
    up.fail(true)
    const fleet = await startFleet(up.url, mode === 'fleet' ? redis.url : undefined)
    try {
      const started = Date.now()
      fleet.send('go')
      await until(`every ${mode} replica to open`, () => fleet.reports().every((r) => r.state === 'open'), 20_000, fleet.show)
      const reports = fleet.reports()
      results[mode] = {
        failedCalls: up.served().failed,
        allOpenMs: Math.max(...reports.map((r) => r.openedAt ?? Date.now())) - started,
        peerTripped: reports.filter((r) => r.reason === 'peer-tripped').length,
      }
      return results[mode]
    } finally {
      await fleet.stop()
    }
  }

  it('fleet mode opens every replica after far fewer failed calls than replicas deciding alone', async () => {
    const local = await tripRun('local')
    const fleet = await tripRun('fleet')
    // Alone, each replica needs minimumCalls (40) failures: about 160 in all.
    expect(local.failedCalls).toBeGreaterThanOrEqual(REPLICAS * 40)
    expect(local.peerTripped).toBe(0)
    // Together, 40 failures across the fleet (plus what flies during a round) trip the replicas:
    // on the fleet's counts, or on the trip another replica published, whichever comes first.
    expect(fleet.failedCalls).toBeLessThan(local.failedCalls * 0.75)
  })

  /** All open on a dead upstream, which then heals: probes sent until every replica is closed again. */
  const recoveryRun = async (mode: 'local' | 'fleet') => {
    up.reset()
    up.fail(true)
    const fleet = await startFleet(up.url, mode === 'fleet' ? redis.url : undefined, { openMs: 1000, probes: 2 })
    try {
      fleet.send('go')
      await until(`every ${mode} replica to open`, () => fleet.reports().every((r) => r.state === 'open'), 20_000, fleet.show)
      up.fail(false)
      await until(`every ${mode} replica to close`, () => fleet.reports().every((r) => r.state === 'closed'), 20_000, fleet.show)
      const reports = fleet.reports()
      return { probes: reports.reduce((sum, r) => sum + r.halfOpenCalls, 0), reasons: reports.map((r) => r.reason).sort() }
    } finally {
      await fleet.stop()
    }
  }

  it('sends the probes of one replica into a recovering upstream, not one set per replica', async () => {
    const local = await recoveryRun('local')
    const fleet = await recoveryRun('fleet')
    probes.local = local.probes
    probes.fleet = fleet.probes
    // Alone, every replica sends its own 2 probes.
    expect(local.probes).toBe(REPLICAS * 2)
    // In fleet mode the leader sends its 2, the others none, and close on its recovery.
    expect(fleet.probes).toBeLessThanOrEqual(2)
    expect(fleet.reasons.filter((r) => r === 'peer-recovered').length).toBeGreaterThanOrEqual(REPLICAS - 1)
  })

  /** A fault on some replicas only: failed calls until they open, and what the healthy ones rejected. */
  const localRun = async (mode: 'local' | 'fleet', bad: ReadonlyArray<string>) => {
    up.reset()
    up.fail(false)
    up.failFor(bad)
    // One call at a time per replica: the failed calls counted are those the breaker needed to trip,
    // never one more that a slow machine had already started.
    const fleet = await startFleet(up.url, mode === 'fleet' ? redis.url : undefined, { oneAtATime: true })
    try {
      fleet.send('go')
      const isBad = (r: Report) => bad.includes(r.replica)
      await until(
        `the faulty ${mode} replicas to open`,
        () =>
          fleet
            .reports()
            .filter(isBad)
            .every((r) => r.state === 'open'),
        20_000,
        fleet.show,
      )
      // Two more seconds for a wrong peer trip to show.
      await new Promise((r) => setTimeout(r, 2000))
      const healthy = fleet.reports().filter((r) => !isBad(r))
      return {
        failedCalls: up.served().failed,
        healthyRejected: healthy.reduce((sum, r) => sum + r.rejected, 0),
        healthyStates: healthy.map((r) => r.state),
      }
    } finally {
      up.failFor([])
      await fleet.stop()
    }
  }

  it('keeps a local fault local: the faulty replica opens as fast as alone, the healthy ones reject nothing', async () => {
    const alone = await localRun('local', ['r0'])
    const one = await localRun('fleet', ['r0'])
    const two = await localRun('fleet', ['r0', 'r1'])
    localFaults['1 of 4, alone'] = alone
    localFaults['1 of 4, fleet'] = one
    localFaults['2 of 4, fleet'] = two
    expect(alone.failedCalls).toBe(40) // minimumCalls
    expect(one.failedCalls).toBeLessThanOrEqual(alone.failedCalls)
    expect(one.healthyRejected).toBe(0)
    expect(one.healthyStates).toEqual(['closed', 'closed', 'closed'])
    expect(two.healthyRejected).toBe(0)
    expect(two.healthyStates).toEqual(['closed', 'closed'])
  })

  it('keeps serving without waiting when Redis dies, and resynchronises when it returns', async () => {
    up.reset()
    up.fail(false)
    const fleet = await startFleet(up.url, redis.url)
    const admin = new Redis(redis.url, { lazyConnect: true, enableOfflineQueue: true })
    try {
      fleet.send('go')
      await until('calls to flow', () => fleet.reports().every((r) => r.successes > 10), 10_000, fleet.show)
      await redis.stop()
      fleet.send('reset-max')
      const before = fleet.reports().map((r) => r.successes)
      await until('every replica to notice', () => fleet.reports().every((r) => r.healthy === false), 10_000, fleet.show)
      await new Promise((r) => setTimeout(r, 1000))
      const during = fleet.reports()
      during.forEach((r, i) => {
        expect(r.successes).toBeGreaterThan((before[i] ?? 0) + 10) // still serving
        expect(r.failures).toBe(0)
        expect(r.state).toBe('closed')
        expect(r.maxMs).toBeLessThan(1000) // no call waited on Redis (calls time out at 2 s)
      })
      await redis.start()
      await until('every replica to resynchronise', () => fleet.reports().every((r) => r.healthy === true), 15_000, fleet.show)
      await admin.connect()
      // Every replica wrote its window again into the empty Redis.
      let fields = new Set<string>()
      const deadline = Date.now() + 5000
      while (fields.size < REPLICAS && Date.now() < deadline) {
        const keys = await admin.keys('breaker:{upstream}:*')
        fields = new Set((await Promise.all(keys.map((k) => admin.hkeys(k)))).flat())
        await new Promise((r) => setTimeout(r, 50))
      }
      expect([...fields].sort()).toEqual(['r0', 'r1', 'r2', 'r3'])
    } finally {
      admin.disconnect()
      await fleet.stop()
    }
  })
})
