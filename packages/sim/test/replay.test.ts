import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { fromConfig } from '@datapunk/breaker'
import { createBreaker } from '@datapunk/breaker-runtime'
import { circuitBreaker } from '@datapunk/breaker-rxjs'
import { parseTrace, replay, strategyFromJson } from '@datapunk/breaker-sim'
import { catchError, delay, map, of, VirtualTimeScheduler } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { breakerSim } from './cliRun.js'

const config = {
  name: 'recorded',
  trip: { kind: 'failure-rate', threshold: 0.5, minimumCalls: 5, window: { kind: 'count', size: 10 } },
  recovery: { kind: 'gradual', initialRate: 0.25, stageCalls: 4, stageMs: 0, probationMs: 0 },
  openFor: { kind: 'constant', ms: 200 },
}

/** Records a live breaker's calls$ as JSON lines over a scripted outage and recovery, in virtual time. */
const record = (): string => {
  const scheduler = new VirtualTimeScheduler()
  const strategy = fromConfig(config)
  if (strategy._tag === 'Left') throw strategy.left
  const breaker = createBreaker(strategy.right, { clock: scheduler })
  const lines: string[] = []
  breaker.calls$.subscribe((event) => lines.push(JSON.stringify(event)))
  // A request every 10 ms for 2 s; the upstream fails between 300 and 900 ms; calls take 5-35 ms.
  for (let at = 0; at < 2000; at += 10) {
    scheduler.schedule(() => {
      const latency = 5 + ((at * 7) % 31)
      of(at)
        .pipe(
          delay(latency, scheduler),
          map((t) => {
            if (t >= 300 && t < 900) throw new Error('down')
            return t
          }),
          circuitBreaker(breaker),
          catchError(() => of(-1)),
        )
        .subscribe()
    }, at)
  }
  scheduler.flush()
  return `${lines.join('\n')}\n`
}

describe('replay', () => {
  it('reproduces the live decisions exactly through the config the trace was recorded with', () => {
    const parsed = parseTrace(record())
    if (parsed._tag === 'Left') throw parsed.left
    const events = parsed.right
    expect(events.length).toBeGreaterThan(200) // every request, and the outcomes of those admitted
    const same = fromConfig(config)
    if (same._tag === 'Left') throw same.left
    const result = replay(events, same.right)
    expect(result.calls).toHaveLength(200)
    expect(result.calls.filter((c) => c.live === 'rejected').length).toBeGreaterThan(20) // the trace has an outage in it
    expect(result.calls.filter((c) => c.live !== c.replayed || c.liveReason !== c.replayedReason)).toEqual([])
    expect(result.agreement).toBe(1)
    expect(result.unmatchedOutcomes).toBe(0)
  })

  it('shows where another config would have decided otherwise', () => {
    const parsed = parseTrace(record())
    if (parsed._tag === 'Left') throw parsed.left
    const lenient = strategyFromJson({ ...config, name: 'lenient', trip: { kind: 'consecutive-failures', threshold: 50 } }, 'lenient.json')
    if (lenient._tag === 'Left') throw new Error(lenient.left)
    const result = replay(parsed.right, lenient.right)
    expect(result.agreement).toBeLessThan(1)
    expect(result.rejected).toBeLessThan(result.calls.filter((c) => c.live === 'rejected').length)
  })

  it('reports every malformed trace line with its number, not just the first', () => {
    const text = [
      '{"_tag":"CallAdmitted","breaker":"b","at":0,"call":1,"probe":false}',
      '{"_tag":"CallSucceeded","breaker":"b","at":5,"call":1}',
      '',
      '{"_tag":"StateChanged","breaker":"b","at":5,"from":"closed","to":"open","mode":"normal","reason":"tripped"}',
      'garbage',
      '{"breaker":"b"}',
    ].join('\n')
    const result = parseTrace(text)
    expect(result._tag).toBe('Left')
    if (result._tag === 'Left') {
      expect(result.left.problems.map((p) => p.line)).toEqual([2, 5, 6])
      expect(result.left.message.split('\n')[0]).toBe('3 of 5 trace lines are malformed:')
      expect(result.left.message).toContain('line 2: a malformed CallSucceeded event')
      expect(result.left.message).toContain('line 6: expected a call event with a _tag')
    }
  })

  it('names the config file in a config error', () => {
    expect(strategyFromJson({ trip: { kind: 'consecutive-failures', threshold: 0 } }, 'a.json')).toEqual({
      _tag: 'Left',
      left: 'a.json: trip.threshold: expected an integer >= 1, got 0',
    })
  })
})

describe('breaker-sim replay (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'replay-'))
  const trace = join(dir, 'trace.jsonl')
  writeFileSync(trace, record())
  const same = join(dir, 'same.json')
  writeFileSync(same, JSON.stringify(config))
  const lenient = join(dir, 'lenient.json')
  writeFileSync(lenient, JSON.stringify({ ...config, trip: { kind: 'consecutive-failures', threshold: 50 } }))

  it('compares configs on a recorded trace', async () => {
    const run = await breakerSim('replay', '--trace', trace, '--config', same, '--config', lenient)
    expect(run.status, run.stderr).toBe(0)
    const [header, first, second] = run.stdout.trim().split('\n')
    expect(header).toMatch(/^config\s+calls\s+admitted\s+rejected\s+agrees with live\s+unmatched outcomes$/)
    expect(first).toMatch(/same\.json\s+200\s+\d+\s+\d+\s+100\.0%\s+0$/)
    expect(second).toMatch(/lenient\.json\s+200\s/)
    expect(second).not.toMatch(/100\.0%/)
    // The columns a reader cannot guess are explained under the table.
    expect(run.stdout).toContain('unmatched outcomes: outcomes in the trace not fed to this config, because it rejected the call')
  })

  it('fails with the line numbers of a bad trace and a non-zero exit', async () => {
    const bad = join(dir, 'bad.jsonl')
    writeFileSync(bad, 'nope\n{"_tag":"CallFailed","breaker":"b","at":1,"call":1}\n')
    const run = await breakerSim('replay', '--trace', bad, '--config', same)
    expect(run.status).toBe(2)
    expect(run.stderr).toContain('2 of 2 trace lines are malformed:')
    expect(run.stderr).toContain('line 1: not JSON')
    expect(run.stderr).toContain('line 2: a malformed CallFailed event')
  })

  it('reads configs that name your own part kinds, from a --kinds module', async () => {
    const core = pathToFileURL(fileURLToPath(new URL('../../core/dist/index.js', import.meta.url))).href
    const kindsModule = join(dir, 'kinds.mjs')
    // A detector kind named 'error-ratio': the failure-rate detector under another name.
    writeFileSync(
      kindsModule,
      [
        `import { detectorKind, failureRate, literal, PositiveInt, Ratio, struct, WindowSpec } from '${core}'`,
        `const codec = struct('an error-ratio detector', { kind: literal('error-ratio'), threshold: Ratio, minimumCalls: PositiveInt, window: WindowSpec })`,
        `export const kinds = { detectors: { 'error-ratio': detectorKind({ codec, build: ({ kind, ...c }) => failureRate(c) }) } }`,
      ].join('\n'),
    )
    const custom = join(dir, 'custom.json')
    writeFileSync(custom, JSON.stringify({ ...config, trip: { ...config.trip, kind: 'error-ratio' } }))
    const run = await breakerSim('replay', '--trace', trace, '--config', custom, '--kinds', kindsModule)
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout.trim().split('\n')[1]).toMatch(/custom\.json\s+200\s+\d+\s+\d+\s+100\.0%\s+0$/)
    const without = await breakerSim('replay', '--trace', trace, '--config', custom)
    expect(without.status).toBe(2)
    expect(without.stderr).toContain('custom.json: trip.kind: expected one of')
    const bad = join(dir, 'bad-kinds.mjs')
    writeFileSync(bad, 'export const kinds = { detectors: { broken: { build: 1 } } }')
    const refused = await breakerSim('replay', '--trace', trace, '--config', custom, '--kinds', bad)
    expect(refused.status).toBe(2)
    expect(refused.stderr).toContain('kinds.detectors.broken: expected { codec, build } (an io-ts decoder and a function)')
  })
})

describe('replay: bad input', () => {
  it('parseTrace refuses what is not text, replay what is not events or a strategy', () => {
    expect(() => parseTrace(null as never)).toThrow(new TypeError("parseTrace: expected the trace's text (a string), got null"))
    const strategy = fromConfig({ trip: { kind: 'consecutive-failures', threshold: 1 } })
    if (strategy._tag === 'Left') throw strategy.left
    expect(() => replay(null as never, strategy.right)).toThrow(
      new TypeError('replay: expected the events parseTrace read (an array), got null'),
    )
    expect(() => replay([], null as never)).toThrow(new TypeError('replay: expected a strategy (circuit(...), or your own), got null'))
  })
})
