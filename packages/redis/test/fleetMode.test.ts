import { type Admitted, circuit } from '@datapunk/breaker'
import { type FleetAttachment, type FleetEvent, fleetMode } from '@datapunk/breaker-redis'
import { type Breaker, breakerGroup, createBreaker } from '@datapunk/breaker-runtime'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { systemProgram } from '../../../test/support/systemProgram.js'
import { type RedisServer, redisServer } from './redisServer.js'

const redisProgram = systemProgram('redis-server')

const trip = { kind: 'failure-rate', threshold: 0.5, minimumCalls: 10, window: { kind: 'time', durationMs: 10_000, buckets: 10 } } as const
const strategy = () => circuit({ trip, openFor: { kind: 'constant', ms: 60_000 } })

const call = (breaker: Breaker, failed: boolean): void => {
  const d = breaker.request()
  if (d._tag !== 'Admitted') return
  if (failed) breaker.failed(d as Admitted, 2)
  else breaker.succeeded(d as Admitted, 2)
}

const until = async (what: string, ok: () => boolean, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe.runIf(redisProgram.run)('fleet mode on a real redis-server', () => {
  let server: RedisServer
  let admin: Redis
  const logged: string[] = []
  const logger = { error: (_: object, text: string) => void logged.push(text) }
  const attachments: FleetAttachment[] = []
  /** Attached and syncing (a sync before the connection is up fails like any sync without Redis). */
  const attach = async (
    source: Parameters<typeof fleetMode>[0],
    replicaId: string,
    prefix: string,
    syncMs = 50,
  ): Promise<FleetAttachment> => {
    const a = fleetMode(source, { redis: server.url, replicaId, prefix, syncMs, reconnect: { minMs: 20, maxMs: 200 }, logger })
    attachments.push(a)
    await until(`replica ${replicaId} to sync`, () => {
      if (!a.health().healthy) void a.sync() // a timer of minutes would not run in time
      return a.health().healthy
    })
    return a
  }
  /** Waits until `n` replicas listen on a prefix's channel (a trip published before then is lost). */
  const listening = (prefix: string, n: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const deadline = Date.now() + 5000
      const poll = (): void =>
        void admin.pubsub('NUMSUB', `${prefix}events`).then((reply) => {
          if (Number((reply as [string, number])[1]) >= n) resolve()
          else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${n} subscribers on ${prefix}events`))
          else setTimeout(poll, 10)
        }, reject)
      poll()
    })

  beforeAll(async () => {
    server = await redisServer(redisProgram.require())
    admin = new Redis(server.url, { lazyConnect: false })
  })
  afterAll(async () => {
    await Promise.all(attachments.map((a) => a.detach()))
    admin?.disconnect()
    await server?.stop()
  })

  it('trips on the fleet total when no replica has enough calls alone, and the other opens on the published trip', async () => {
    const a = createBreaker(strategy(), { name: 'payments' })
    const b = createBreaker(strategy(), { name: 'payments' })
    const fa = await attach(a, 'a', 't1:')
    // b syncs only when told to: a round of its own timer could read a's counts and trip b by
    // itself ('tripped') before the published trip arrives.
    const fb = await attach(b, 'b', 't1:', 60_000)
    await listening('t1:', 2)
    for (let i = 0; i < 6; i++) call(a, true)
    for (let i = 0; i < 6; i++) call(b, true)
    expect(a.snapshot().state).toBe('closed') // 6 calls each: below minimumCalls 10
    await fb.sync() // b writes its 6 failures
    await fa.sync() // a reads them: 12 of 12 failed in the fleet
    expect(a.snapshot()).toMatchObject({ state: 'open', reason: 'tripped', calls: 12 })
    await until('b to open on the published trip', () => b.snapshot().state === 'open')
    expect(b.snapshot().reason).toBe('peer-tripped')
    expect(fb.health().peerEvents).toBe(1)
    expect(fa.health().published).toBe(1)
  })

  it('shares absolute counts: repeated rounds never double count, and an open breaker withdraws its own', async () => {
    const a = createBreaker(strategy(), { name: 'search' })
    const b = createBreaker(strategy(), { name: 'search' })
    const fa = await attach(a, 'a', 't2:')
    const fb = await attach(b, 'b', 't2:')
    for (let i = 0; i < 5; i++) call(b, i < 3)
    // Failures of its own, at a share like b's: a takes in the evidence of the peers that agree
    // with it (without failures, the fleet's counts could only trip it on the others').
    for (let i = 0; i < 3; i++) call(a, i < 2)
    for (let i = 0; i < 3; i++) await fb.sync()
    for (let i = 0; i < 3; i++) await fa.sync()
    expect(a.snapshot().calls).toBe(8)
    expect(a.snapshot().detectors[0]?.figures).toMatchObject({ localCalls: 3, fleetCalls: 5 })
    // A round under way (started here, as the timer may start one) read b before it opened: the
    // sync asked for after the change runs a round that starts after it (the same promise as
    // `underWay` only when that one was itself queued behind a timer's round), so what a reads
    // next no longer holds b's counts.
    void fb.sync()
    b.dispatch({ _tag: 'ForcedOpen' })
    await fb.sync()
    await fa.sync()
    expect(a.snapshot().calls).toBe(3)
  })

  it('ignores corrupt and foreign data with a logged error, and keeps deciding', async () => {
    const a = createBreaker(strategy(), { name: 'orders' })
    const fa = await attach(a, 'a', 't3:')
    const events: FleetEvent[] = []
    fa.events$.subscribe((e) => events.push(e))
    await fa.sync()
    const epoch = Math.floor(a.clock.now() / 1000)
    const keys = (await admin.keys('t3:*')).length
    expect(keys).toBe(0) // nothing counted yet, nothing written
    const base = 't3:{orders}:'
    // Someone else's writes in our namespace: junk in a field, a string where a hash belongs.
    call(a, false)
    await fa.sync()
    const [written] = (await admin.keys('t3:*')).filter((k) => !k.endsWith(':replicas'))
    expect(written?.startsWith(base)).toBe(true)
    const prefix = (written ?? '').slice(0, (written ?? '').lastIndexOf(':'))
    logged.length = 0 // (before the writes: a timer's round may log them before their replies arrive)
    await admin.hset(`${prefix}:${epoch}`, 'intruder', 'lots', 'other', '5,9,0')
    await admin.set(`${prefix}:${epoch - 1}`, 'not a hash')
    await fa.sync()
    expect(fa.health().healthy).toBe(true)
    expect(events.filter((e) => e._tag === 'BadData').length).toBeGreaterThanOrEqual(3)
    expect(logged.some((t) => t.includes('ignored bad data'))).toBe(true)
    expect(a.snapshot()).toMatchObject({ state: 'closed', calls: 1 })
    // Junk that stays is reported every round, logged once a minute per key.
    const [reported, lines] = [events.filter((e) => e._tag === 'BadData').length, logged.length]
    await fa.sync()
    expect(events.filter((e) => e._tag === 'BadData').length).toBeGreaterThan(reported)
    expect(logged.length).toBe(lines)
    await admin.publish('t3:events', '{not json')
    await admin.publish('t3:events', JSON.stringify({ breaker: 'orders' }))
    await until('the bad trip messages to be logged', () => events.filter((e) => e._tag === 'BadData').length >= 5)
    expect(a.snapshot().state).toBe('closed')
  })

  it('shares the evidence of every breaker of a group, by name', async () => {
    const ga = breakerGroup<string>({ strategyFor: () => strategy() })
    const gb = breakerGroup<string>({ strategyFor: () => strategy() })
    const fa = await attach(ga, 'a', 't4:')
    const fb = await attach(gb, 'b', 't4:')
    for (let i = 0; i < 9; i++) call(gb.get('x'), i % 2 === 0 && i < 8) // 4 of 9 failed: b's 'x' stays closed
    call(gb.get('y'), false)
    call(ga.get('x'), true)
    ga.get('y').snapshot()
    await fb.sync()
    await fa.sync()
    expect(ga.get('x').snapshot()).toMatchObject({ state: 'open', calls: 10, failures: 5 }) // 5 of 10 failed in the fleet
    // 'y' saw no failure of its own: the fleet's counts are not taken in.
    expect(ga.get('y').snapshot().calls).toBe(0)
    // A key looked up and never used stays light: rounds pass it by.
    const idle = ga.get('idle')
    await fa.sync()
    expect(idle.pristine).toBe(true)
  })

  it('keeps serving when Redis dies (local evidence, no waiting), and resynchronises when it returns', async () => {
    const a = createBreaker(strategy(), { name: 'stock' })
    const b = createBreaker(strategy(), { name: 'stock' })
    const fa = await attach(a, 'a', 't5:')
    const fb = await attach(b, 'b', 't5:')
    const health: boolean[] = []
    fa.events$.subscribe((e) => e._tag === 'SyncHealthChanged' && health.push(e.healthy))
    for (let i = 0; i < 4; i++) call(b, i < 2)
    call(a, true)
    call(a, true)
    await fb.sync()
    await fa.sync()
    expect(a.snapshot().calls).toBe(6)
    await server.stop()
    await fa.sync()
    expect(fa.health().healthy).toBe(false)
    expect(a.snapshot().calls).toBe(2) // back to its own evidence
    const started = Date.now()
    for (let i = 0; i < 100; i++) call(a, false)
    const value = await a.execute(async () => 'served')
    expect(value).toBe('served')
    expect(Date.now() - started).toBeLessThan(1000)
    expect(health).toEqual([false])
    await server.start() // empty: everything written before is gone
    await until('both replicas to reconnect and sync', () => fa.health().healthy && fb.health().healthy, 10_000)
    await fb.sync()
    await fa.sync()
    // b's 4 calls were written again after the restart (a, 2 failures in 103 calls now, no longer
    // agrees with b's 2 in 4: it decides on its own counts).
    const written = (await admin.keys('t5:*')).filter((k) => !k.endsWith(':replicas'))
    const fields = new Set((await Promise.all(written.map((k) => admin.hkeys(k)))).flat())
    expect([...fields].sort()).toEqual(['a', 'b'])
    expect(a.snapshot().calls).toBe(103) // its 2 failures, 100 calls and one execute
    expect(health).toEqual([false, true])
  })

  it('lets one replica lead a classic recovery: the others send no probe, and close when it recovers', async () => {
    const recovering = () =>
      circuit({
        trip: { kind: 'consecutive-failures', threshold: 1 },
        openFor: { kind: 'constant', ms: 200 },
        recovery: { kind: 'classic', probes: 2 },
      })
    const a = createBreaker(recovering(), { name: 'ledger' })
    const b = createBreaker(recovering(), { name: 'ledger' })
    const fa = await attach(a, 'a', 't7:')
    // b syncs only when told to: on a busy machine its timer could run a round between the two
    // trips below and take the lead first.
    const fb = await attach(b, 'b', 't7:', 60_000)
    await listening('t7:', 2)
    await fa.sync()
    await fb.sync() // both wait for the fleet's word before any recovery
    call(a, true)
    call(b, true)
    await fa.sync() // a sees its breaker open first: it takes the lead
    await fb.sync()
    expect(fa.health().leading).toBe(1)
    expect(fb.health().leading).toBe(0)
    await new Promise((r) => setTimeout(r, 220)) // both open durations are over
    const admittedBy = (breaker: Breaker) => Array.from({ length: 50 }, () => breaker.request()).filter((d) => d._tag === 'Admitted')
    const probes = admittedBy(a)
    expect(probes).toHaveLength(2) // the leader's own classic probes
    expect(admittedBy(b)).toHaveLength(0) // the follower sends none
    expect(b.snapshot()).toMatchObject({ state: 'half-open', recovery: { kind: 'following', admitRate: 0 } })
    for (const t of probes) a.succeeded(t as Admitted, 2)
    expect(a.snapshot()).toMatchObject({ state: 'closed', reason: 'recovered' })
    await fa.sync() // publishes the recovery and gives the lead back
    await until('b to close on the leader recovery', () => b.snapshot().state === 'closed')
    expect(b.snapshot().reason).toBe('peer-recovered')
    // Once every replica is closed nobody holds the lead (b may have taken it for a round while
    // it was still half-open after a gave it back: it gives it back at its next round).
    let lead = await admin.get('t7:{ledger}:lead')
    const deadline = Date.now() + 5000
    while (lead !== null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20))
      lead = await admin.get('t7:{ledger}:lead')
    }
    expect(lead).toBeNull()
  })

  it('lets the followers of a gradual recovery ramp with the leader', async () => {
    const ramping = () =>
      circuit({
        trip: { kind: 'consecutive-failures', threshold: 1 },
        openFor: { kind: 'constant', ms: 100 },
        recovery: { kind: 'gradual', initialRate: 0.1 },
      })
    const a = createBreaker(ramping(), { name: 'feed' })
    const b = createBreaker(ramping(), { name: 'feed' })
    // Rounds only when told: a timer's round of b during the wait below could take the lead
    // before a half-opens (seen once in CI on a busy machine), and b would then lead, not follow.
    const fa = await attach(a, 'a', 't8:', 60_000)
    const fb = await attach(b, 'b', 't8:', 60_000)
    await fa.sync()
    await fb.sync()
    call(a, true)
    call(b, true)
    await fa.sync()
    await fb.sync()
    await new Promise((r) => setTimeout(r, 120))
    a.request() // the leader half-opens, ramping from 10%
    await fa.sync() // and offers its share
    await fb.sync()
    const admitted = Array.from({ length: 100 }, () => b.request()).filter((d) => d._tag === 'Admitted')
    expect(b.snapshot()).toMatchObject({ state: 'half-open', admitRate: 0.1, recovery: { kind: 'following' } })
    expect(admitted).toHaveLength(10)
  })

  it('ignores a lead held by something that is not a replica, and follows a bad share as 0', async () => {
    const recovering = () => circuit({ trip: { kind: 'consecutive-failures', threshold: 1 }, openFor: { kind: 'constant', ms: 60_000 } })
    const a = createBreaker(recovering(), { name: 'quiet' })
    const fa = await attach(a, 'a', 't9:')
    await fa.sync()
    call(a, true)
    // Another client's key, with no expiry: fleet mode never writes one, and 'ghost' has no status.
    // (Counted before the key is set: a timer's round may read it before the set's reply arrives.)
    const before = fa.health().badData
    await admin.set('t9:{quiet}:lead', 'ghost')
    await fa.sync()
    expect(fa.health().leading).toBe(1)
    expect(fa.health().badData).toBeGreaterThan(before)
    expect(await admin.get('t9:{quiet}:lead')).toBe('a')
    // A real replica holds the lead and offers a share that is not a share: bad data, followed as 0.
    const b = createBreaker(recovering(), { name: 'quiet' })
    // b syncs only when told to: given the lead below, a round of its own would write a real share.
    const fb = await attach(b, 'b', 't9:', 60_000)
    call(b, true)
    await fb.sync() // b is in the fleet (its status written), a still leads
    await admin.set('t9:{quiet}:lead', 'b', 'PX', 900)
    await admin.set('t9:{quiet}:share', 'lots', 'PX', 900)
    await fa.sync()
    expect(fa.health()).toMatchObject({ leading: 0 })
    expect(logged.some((t) => t.includes('a share that is not in [0, 1]'))).toBe(true)
  })

  it('hands the lead over within a lease when its holder stops seeing traffic', async () => {
    const recovering = () =>
      circuit({
        trip: { kind: 'consecutive-failures', threshold: 1 },
        openFor: { kind: 'constant', ms: 100 },
        recovery: { kind: 'classic' },
      })
    const a = createBreaker(recovering(), { name: 'moved' })
    const b = createBreaker(recovering(), { name: 'moved' })
    const fa = await attach(a, 'a', 't11:')
    await attach(b, 'b', 't11:')
    // a's one call fails; it leads the recovery. All later traffic goes to b.
    call(a, true)
    await fa.sync()
    await until('b to open on the trip', () => b.snapshot().state === 'open')
    expect(fa.health().leading).toBe(1)
    let admitted = 0
    const deadline = Date.now() + 5000
    while (b.snapshot().state !== 'closed' && Date.now() < deadline) {
      const d = b.request()
      if (d._tag === 'Admitted') {
        admitted++
        b.succeeded(d as Admitted, 1)
      }
      await new Promise((r) => setTimeout(r, 20))
    }
    // a gave the lead back once it saw no request for a lease (1 s); b took it and recovered.
    expect(b.snapshot()).toMatchObject({ state: 'closed', reason: 'recovered' })
    expect(admitted).toBeGreaterThan(0)
    expect(fa.health().leading).toBe(0)
    await until('a to close on the recovery b published', () => a.snapshot().state === 'closed')
  })

  it('keeps a local fault local: a failing replica trips on its own counts, a healthy one declines its trip', async () => {
    const a = createBreaker(strategy(), { name: 'local' })
    const b = createBreaker(strategy(), { name: 'local' })
    const fa = await attach(a, 'a', 't12:')
    const fb = await attach(b, 'b', 't12:')
    const events: FleetEvent[] = []
    fb.events$.subscribe((e) => events.push(e))
    for (let i = 0; i < 100; i++) call(b, false)
    for (let i = 0; i < 8; i++) call(a, true)
    await fb.sync()
    await fa.sync() // a's 8 failures against b's 100 successes: a does not take b's counts in
    expect(a.snapshot()).toMatchObject({ state: 'closed', calls: 8 })
    call(a, true)
    call(a, true) // 10 of 10 failed: a trips as it would alone
    expect(a.snapshot()).toMatchObject({ state: 'open', reason: 'tripped' })
    await fb.sync() // b reads a's last counts
    await fa.sync() // a publishes its trip
    await until('b to hear the trip', () => events.some((e) => e._tag === 'PeerDeclined'))
    expect(events.find((e) => e._tag === 'PeerDeclined')).toMatchObject({ breaker: 'local', replica: 'a', why: 'healthier' })
    expect(b.snapshot()).toMatchObject({ state: 'closed', calls: 100 })
    expect(fb.health().peerDeclined).toBe(1)
  })

  it('contains a logger that throws, and handles a flood of messages in slices', async () => {
    const a = createBreaker(strategy(), { name: 'flood' })
    const fa = fleetMode(a, {
      redis: server.url,
      replicaId: 'a',
      prefix: 't13:',
      syncMs: 50,
      logger: {
        error: () => {
          throw new Error('the logger is broken')
        },
      },
    })
    attachments.push(fa)
    await until('the replica to sync', () => fa.health().healthy)
    call(a, false)
    await admin.set('t13:{flood}:lead', 'ghost')
    await expect(fa.sync()).resolves.toBeUndefined()
    const junk = admin.pipeline()
    for (let i = 0; i < 20_000; i++) junk.publish('t13:events', `junk ${i}`)
    await junk.exec()
    // Handled a slice per turn of the event loop: a turn in between sees some handled, not all.
    let seen = -1
    await until('the first junk to be handled', () => fa.health().badData > 0)
    await new Promise<void>((r) =>
      setImmediate(() => {
        seen = fa.health().badData
        r()
      }),
    )
    await until('the junk to be handled or dropped', () => fa.health().badData + fa.health().dropped >= 20_000, 10_000)
    expect(seen).toBeLessThan(20_000)
    expect(fa.health().healthy).toBe(true)
    expect(a.snapshot().state).toBe('closed')
  })

  it('runs on an ioredis client of the caller, and leaves it open on detach', async () => {
    const client = new Redis(server.url, { enableOfflineQueue: false })
    await until('the client to connect', () => client.status === 'ready')
    const a = createBreaker(strategy(), { name: 'own' })
    const fa = fleetMode(a, { redis: client, replicaId: 'a', prefix: 't14:', syncMs: 50, logger })
    call(a, false)
    await until('the replica to sync', () => fa.health().healthy)
    await fa.sync()
    expect((await admin.keys('t14:*')).length).toBeGreaterThan(0)
    await fa.detach()
    expect(client.status).toBe('ready')
    expect(await client.ping()).toBe('PONG')
    client.disconnect()
  })

  it('a follower recovers by itself once Redis is gone', async () => {
    const recovering = () => circuit({ trip: { kind: 'consecutive-failures', threshold: 1 }, openFor: { kind: 'constant', ms: 100 } })
    const a = createBreaker(recovering(), { name: 'orphan' })
    const b = createBreaker(recovering(), { name: 'orphan' })
    const fa = await attach(a, 'a', 't10:')
    const fb = await attach(b, 'b', 't10:')
    call(b, true)
    await fb.sync() // b leads the recovery
    await until('a to open on the trip', () => a.snapshot().state === 'open')
    a.request()
    await fa.sync() // a follows b at share 0
    await new Promise((r) => setTimeout(r, 120))
    expect(a.request()._tag).toBe('Rejected')
    await server.stop()
    await fa.sync()
    expect(fa.health().healthy).toBe(false)
    const probe = a.request() // on its own again: classic half-open admits its probe
    expect(probe._tag).toBe('Admitted')
    a.succeeded(probe as Admitted, 1)
    expect(a.snapshot()).toMatchObject({ state: 'closed', reason: 'recovered' })
    await server.start()
    await until('the replicas to reconnect', () => fa.health().healthy && fb.health().healthy, 10_000)
  })

  it('withdraws its evidence on detach', async () => {
    const a = createBreaker(strategy(), { name: 'mail' })
    const fa = fleetMode(a, { redis: server.url, replicaId: 'a', prefix: 't6:', syncMs: 50, logger })
    await until('the replica to sync', () => fa.health().healthy)
    call(a, false)
    await fa.sync()
    const keys = await admin.keys('t6:*')
    expect(keys.length).toBe(2) // the bucket and the replicas' status
    await fa.detach()
    for (const key of keys) expect(await admin.hgetall(key)).toEqual({})
  })

  it('rejects bad options with a clear error', () => {
    const a = createBreaker(strategy(), { name: 'x' })
    expect(() => fleetMode(a, { redis: server.url, syncMs: 5 })).toThrow(/syncMs must be an integer from 10 to 60000, got 5/)
    expect(() => fleetMode(a, { redis: server.url, replicaId: '' })).toThrow(/replicaId/)
    expect(() => fleetMode(a, { redis: server.url, reconnect: { minMs: 10, maxMs: 5 } })).toThrow(/minMs/)
    // A redis that is no URL, options or client would have connected to ioredis's default (127.0.0.1:6379) without a word.
    expect(() => fleetMode(a, { redis: 6379 as never })).toThrow(
      new TypeError('fleetMode: redis must be a redis:// URL, ioredis options or an ioredis client, got number'),
    )
    expect(() => fleetMode(a, null as never)).toThrow(
      new TypeError('fleetMode: expected options with redis (a URL, ioredis options or a client), got null'),
    )
    expect(() => fleetMode(a, { redis: server.url, clock: {} as never })).toThrow(
      'fleetMode: clock must have now() and schedule(work, delayMs)',
    )
    expect(() => fleetMode(a, { redis: server.url, logger: console.log as never })).toThrow(
      'fleetMode: logger must have error(details, message)',
    )
    expect(() => fleetMode(null as never, { redis: server.url })).toThrow(
      new TypeError('fleetMode: expected a breaker (createBreaker) or a breakerGroup, got null'),
    )
  })
})
