import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { circuit, type Strategy } from '@datapunk/breaker'
import { renderFleetHtml, renderFleetText, simulateFleet, sweepFleet } from '@datapunk/breaker-sim'
import { describe, expect, it } from 'vitest'
import { breakerSim } from './cliRun.js'

describe('the fleet model', () => {
  it('is deterministic, and one replica is the same alone or in fleet mode', () => {
    expect(simulateFleet({ replicas: 10, shared: true, seed: 3 })).toEqual(simulateFleet({ replicas: 10, shared: true, seed: 3 }))
    const alone = simulateFleet({ replicas: 1, shared: false, seed: 2 })
    const fleet = simulateFleet({ replicas: 1, shared: true, seed: 2 })
    expect(fleet).toEqual({ ...alone, shared: true })
  })

  it('from a quiet start, opens a large fleet after about minimumCalls failed calls instead of minimumCalls per replica', () => {
    const alone = simulateFleet({ replicas: 50, shared: false, outageAtMs: 0, seed: 1 })
    const fleet = simulateFleet({ replicas: 50, shared: true, outageAtMs: 0, seed: 1 })
    expect(alone.wasted).toBeGreaterThanOrEqual(50 * 20) // every replica needs its own 20 calls
    // 20 calls, plus what one sync interval lets through, plus the failures each replica needs of
    // its own before it follows a peer's trip (two, or its only call).
    expect(fleet.wasted).toBeLessThan(100)
    expect(fleet.allOpenMs).not.toBeNull()
    expect(fleet.allOpenMs ?? Number.POSITIVE_INFINITY).toBeLessThan(alone.allOpenMs ?? Number.POSITIVE_INFINITY)
    // One trip opens everyone whose own calls back it at once; a replica with no call yet opens
    // on its first failed one (4 requests/s each): all within a second of the first.
    expect((fleet.allOpenMs ?? 0) - (fleet.firstOpenMs ?? 0)).toBeLessThanOrEqual(1000)
  })

  it('after healthy traffic, opens a fleet too thin to reach minimumCalls per replica in one window', () => {
    // 200 requests/s over 100 replicas: 20 calls per replica per 10 s window, right at minimumCalls.
    const alone = simulateFleet({ replicas: 100, shared: false, seed: 1 })
    const fleet = simulateFleet({ replicas: 100, shared: true, seed: 1 })
    expect(fleet.allOpenMs).not.toBeNull()
    expect(fleet.firstOpenMs ?? 0).toBeLessThan(6000)
    // The last ones are replicas whose few recent calls had not failed twice when the first trips
    // were heard (declined: a local fault looks the same): they trip on their own windows.
    expect(fleet.allOpenMs ?? Number.POSITIVE_INFINITY).toBeLessThan(alone.allOpenMs ?? Number.POSITIVE_INFINITY)
    expect(alone.allOpenMs ?? Number.POSITIVE_INFINITY).toBeGreaterThan(10_000)
    expect(fleet.wasted).toBeLessThan(alone.wasted)
  })

  it('keeps a local fault local: the faulty replica opens as fast as alone, the healthy ones reject nothing', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      for (const outageAtMs of [0, 20_000]) {
        const one = { replicas: 4, faulty: 1, outageAtMs, seed }
        const alone = simulateFleet({ ...one, shared: false })
        const fleet = simulateFleet({ ...one, shared: true })
        expect(fleet.wasted).toBeLessThanOrEqual(alone.wasted)
        expect(fleet.allOpenMs).not.toBeNull()
        expect(fleet.healthyRejected).toBe(0)
        expect(fleet.healthyOpened).toBe(0)
        const two = simulateFleet({ replicas: 4, faulty: 2, outageAtMs, seed, shared: true })
        expect(two.allOpenMs).not.toBeNull()
        expect(two.healthyRejected).toBe(0)
      }
    }
  })

  it('sends one set of probes for the fleet into a recovering upstream, led by one replica', () => {
    const strategy = circuit({
      trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 20, window: { kind: 'time', durationMs: 10_000, buckets: 10 } },
      openFor: { kind: 'constant', ms: 5000 },
      recovery: { kind: 'classic', probes: 2 },
    }) as Strategy<unknown>
    const options = { replicas: 4, outageAtMs: 0, recoverAtMs: 3000, seed: 1, strategy }
    const alone = simulateFleet({ ...options, shared: false })
    const fleet = simulateFleet({ ...options, shared: true })
    expect(alone.probes).toBe(8)
    expect(fleet.probes).toBe(2)
    expect(fleet.allClosedMs).not.toBeNull()
  })

  it('shares trips even for a strategy that shares no counts', () => {
    const consecutive = circuit({ trip: { kind: 'consecutive-failures', threshold: 5 }, openFor: { kind: 'constant', ms: 600_000 } })
    const options = { replicas: 20, outageAtMs: 0, seed: 1, strategy: consecutive as Strategy<unknown> }
    const alone = simulateFleet({ ...options, shared: false })
    const fleet = simulateFleet({ ...options, shared: true })
    expect(alone.wasted).toBeGreaterThanOrEqual(20 * 5)
    // The first replica to see 5 failures in a row opens everyone (by its next sync).
    expect(fleet.wasted).toBeLessThan(alone.wasted * 0.75)
  })

  it('rejects a fleet size out of range', () => {
    expect(() => simulateFleet({ replicas: 0, shared: true })).toThrow(/replicas must be 1 to 1000, got 0/)
    expect(() => simulateFleet({ replicas: 2, shared: true, rps: 0 })).toThrow(RangeError)
    expect(() => simulateFleet({ replicas: 2, shared: true, faulty: 3 })).toThrow(
      /faulty must be an integer from 1 to replicas \(2\), got 3/,
    )
    expect(() => simulateFleet({ replicas: 2, shared: true, outageAtMs: 5000, recoverAtMs: 10 })).toThrow(/recoverAtMs after outageAtMs/)
  })

  it('renders the sweep as a table and as a page with both charts', () => {
    const rows = sweepFleet([1, 10], { seeds: [1], outageAtMs: 0 })
    const text = renderFleetText(rows)
    expect(text.split('\n')).toHaveLength(3)
    expect(text).toMatch(/^\s+10\s+\d+\.\d\d s\s+\d+\s+\d+\.\d\d s\s+\d+$/m)
    const html = renderFleetHtml(rows)
    expect(html.match(/<svg /g)).toHaveLength(2)
    expect(html.match(/class="series series-(local|fleet)"/g)).toHaveLength(4)
    expect(html).toContain('<tr><th>10</th>')
    // Each y axis: round ticks from 0, and its unit above it (a label like "1809 calls" no longer runs off the left edge).
    expect([...html.matchAll(/class="unit"[^>]*>([^<]*)</g)].map(([, unit]) => unit)).toEqual(['seconds', 'calls'])
    const labels = [...html.matchAll(/class="tick-label"[^>]*>([^<]*)</g)].map(([, l]) => l ?? '')
    expect(labels.filter((l) => l === '0')).toHaveLength(2)
    expect(labels.every((l) => /^\d+(\.\d+)?$/.test(l) && l.length <= 6)).toBe(true)
  })

  it('breaker-sim fleet prints the table and writes the chart; a bad option names itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleet-'))
    const html = join(dir, 'fleet.html')
    const run = await breakerSim('fleet', '--sizes', '1,20', '--seeds', '1', '--quiet-start', '--html', html)
    expect(run.status).toBe(0)
    expect(run.stdout).toContain('the upstream dies at the first call')
    expect(run.stdout).toMatch(/^\s+20\s/m)
    expect(readFileSync(html, 'utf8')).toContain('Fleet mode against fleet size')
    const config = join(dir, 'config.json')
    writeFileSync(config, JSON.stringify({ trip: { kind: 'consecutive-failures', threshold: 3 } }))
    expect((await breakerSim('fleet', '--sizes', '2', '--seeds', '1', '--config', config)).status).toBe(0)
    const local = await breakerSim('fleet', '--sizes', '4', '--seeds', '1', '--faulty', '1', '--html', html)
    expect(local.status).toBe(0)
    expect(local.stdout).toContain('the upstream dies for 1 replica only (a local fault)')
    expect(local.stdout).toMatch(/healthy rejected/)
    expect(readFileSync(html, 'utf8')).toContain('Good calls the healthy replicas rejected')
    const bad = await breakerSim('fleet', '--sizes', '1,x')
    expect(bad.status).not.toBe(0)
    expect(bad.stderr).toContain('--sizes: expected replica counts from 1 to 1000')
  })
})
