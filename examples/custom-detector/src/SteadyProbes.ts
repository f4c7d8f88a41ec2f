/**
 * A recovery the library does not ship: one probe every `intervalMs`; close after `successes`
 * good probes in a row; reopen on the first bad one. Written against the public `Recovery`
 * interface; the circuit keeps track of which probes are in flight, so this state stays small.
 */
import { canonical, decodeOrThrow, intIn, literal, type Recovery, type RecoverySnapshot, struct } from '@datapunk/breaker'
import * as t from 'io-ts'

/** `{ kind: 'steady-probes', intervalMs = 1000, successes = 3 }` */
export const SteadyProbesConfig = struct(
  'a steady-probes recovery',
  { kind: literal('steady-probes') },
  { intervalMs: intIn(1, 600_000), successes: intIn(1, 100) },
  { intervalMs: 1000, successes: 3 },
)
export type SteadyProbesConfig = t.TypeOf<typeof SteadyProbesConfig>

export interface SteadyState {
  /** When the last probe was admitted (`null`: none yet). */
  readonly lastProbeAt: number | null
  readonly streak: number
}

const SteadyState = t.readonly(t.strict({ lastProbeAt: t.union([t.number, t.null]), streak: t.number }))

export const steadyProbes = (input: Partial<Omit<SteadyProbesConfig, 'kind'>> = {}): Recovery<SteadyState> => {
  const config = decodeOrThrow(SteadyProbesConfig, { ...input, kind: 'steady-probes' })
  const { intervalMs, successes } = config
  const due = (s: SteadyState, now: number) => s.lastProbeAt === null || now - s.lastProbeAt >= intervalMs
  return {
    kind: 'steady-probes',
    config,
    key: canonical(config),
    start: () => ({ lastProbeAt: null, streak: 0 }),
    request: (s, now) =>
      due(s, now)
        ? { state: { lastProbeAt: now, streak: s.streak }, admitted: true }
        : {
            state: s,
            admitted: false,
            rejection: { _tag: 'Rejected', reason: 'throttled', retryAfterMs: (s.lastProbeAt ?? now) + intervalMs - now },
          },
    outcome: (s, failed) =>
      failed ? 'reopen' : s.streak + 1 >= successes ? 'close' : { lastProbeAt: s.lastProbeAt, streak: s.streak + 1 },
    cancel: (s) => ({ lastProbeAt: null, streak: s.streak }), // the permit comes back: probe again at once
    tick: (s) => s,
    rebase: (s, deltaMs) => ({ lastProbeAt: s.lastProbeAt === null ? null : s.lastProbeAt + deltaMs, streak: s.streak }),
    admitRate: () => 0, // a probe now and then: next to no share of the traffic
    measure: (s, inFlight): RecoverySnapshot => ({ kind: 'steady-probes', admitRate: 0, inFlight, figures: { streak: s.streak } }),
    codec: {
      validate: (u, c) => {
        const r = SteadyState.validate(u, c)
        if (r._tag === 'Left') return r
        const { lastProbeAt, streak } = r.right
        const ok =
          (lastProbeAt === null || Number.isFinite(lastProbeAt)) && Number.isSafeInteger(streak) && streak >= 0 && streak < successes
        return ok ? t.success({ lastProbeAt, streak }) : t.failure(u, c, `expected a finite lastProbeAt and 0 <= streak < ${successes}`)
      },
      encode: (s) => ({ lastProbeAt: s.lastProbeAt, streak: s.streak }),
    },
  }
}
