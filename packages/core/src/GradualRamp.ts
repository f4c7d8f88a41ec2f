/**
 * Gradual recovery's judgement, as functions of its settings (`Ramp`: the decoded config and what
 * is derived from it) and a state: admission by credit, stages judged on evidence or time against
 * the recovery's baseline, steps up and back, probation, and the memory of a failure.
 */
import * as t from 'io-ts'
import { PPM } from './credit.js'
import { type Rejected, rejected } from './Decision.js'
import {
  atRate,
  copyOf,
  type GradualRecoverySnapshot,
  type GradualRecoveryState,
  GradualRecoveryStateCodec,
  gradualState,
  type RampState,
  rampState,
  toPpm,
} from './GradualState.js'
import type { RecoveryAdmission, RecoveryVerdict } from './Recovery.js'
import { wilsonBound } from './statistics.js'

/** A gradual recovery's settings: its decoded config, and what is derived from it once. */
export interface Ramp {
  readonly stageCalls: number
  readonly stageMs: number
  readonly stageMaxMs: number
  readonly maxSpeed: number
  readonly slowCallMs: number | undefined
  readonly rampMs: number | undefined
  readonly probationMs: number
  readonly probationCalls: number
  readonly holdMs: number
  readonly failureRateThreshold: number
  readonly marginalRate: number
  /** The normal quantile of the configured confidence. */
  readonly z: number
  readonly inverseAggression: number
  readonly initialPpm: number
  readonly incrementPpm: number
  readonly burstMs: number
}

/** The time-driven ramp's rate at `now` (Envoy's slow-start curve, floored at `initialRate`). */
export const rampPpm = (g: Ramp, s: GradualRecoveryState, now: number): number => {
  if (g.rampMs === undefined) return s.ratePpm
  const progress = Math.min(1, Math.max(0, (now - s.startedAt) / g.rampMs))
  return Math.max(s.ratePpm, g.initialPpm, toPpm(progress ** g.inverseAggression))
}

export const withRate = (s: GradualRecoveryState, ratePpm: number): GradualRecoveryState => (ratePpm === s.ratePpm ? s : atRate(s, ratePpm))

export const newStage = (s: GradualRecoveryState, ratePpm: number, speed: number, now: number, ramp: RampState): GradualRecoveryState =>
  gradualState(ratePpm, speed, s.credit, s.inFlight, s.startedAt, s.requests, 0, 0, 0, 0, Math.max(now, s.stageStartedAt), ramp, s.paceAt)

/** The fewest calls a stage must admit (and requests see) for its rate to count (see {@link provenAfter}). */
const RATE_COUNT = 50

/**
 * A count over `ms` as a rate a second, moved by three standard deviations of the count (Poisson)
 * in the direction of `sign`; `null` below {@link RATE_COUNT} or over no time.
 */
const countRate = (n: number, ms: number, sign: 1 | -1): number | null =>
  n < RATE_COUNT || ms <= 0 ? null : ((n + sign * 3 * Math.sqrt(n)) * 1_000) / ms

/**
 * The proven rate after a healthy stage: the most calls a second a healthy stage has carried, each
 * counted low, so noise never proves more.
 */
export const provenAfter = (s: GradualRecoveryState, now: number): number | null => {
  const carried = countRate(s.stageAdmitted, now - s.stageStartedAt, -1)
  const proven = s.ramp.provenRps
  return carried === null ? proven : proven === null ? carried : Math.max(proven, carried)
}

/**
 * Whether all the traffic offered over the stage, counted high, is within a rate the upstream has
 * been seen to carry: then no share of it needs holding back (a surge that broke the upstream is
 * over, whatever share it was).
 */
export const withinProven = (s: GradualRecoveryState, provenRps: number | null, now: number): boolean => {
  const offered = countRate(s.stageRequests, now - s.stageStartedAt, 1)
  return provenRps !== null && offered !== null && offered <= provenRps
}

/** Whether the traffic offered over the stage, counted low, is past the proven rate: surely more than the upstream has been seen to carry. */
export const pastProven = (s: GradualRecoveryState, provenRps: number | null, now: number): boolean => {
  const offered = countRate(s.stageRequests, now - s.stageStartedAt, -1)
  return provenRps === null || (offered !== null && offered > provenRps)
}

/** Whether a ceiling remembered from a failed recovery still holds the ramp at `now`. */
export const holding = (r: RampState, now: number): boolean => r.brokeAt !== null && (r.holdUntil === null || now < r.holdUntil)

/** The next stage after a healthy one at `s.ratePpm`; `clean`: its errors did not rise over the baseline. */
export const stepUp = (g: Ramp, s: GradualRecoveryState, clean: boolean, now: number): RecoveryVerdict<GradualRecoveryState> => {
  const r = s.ramp
  // The baseline is the upstream's own errors: every healthy stage's but those whose errors rose
  // half the margin, confidently (a straining upstream would otherwise raise its own bar stage by
  // stage, each rise too small to be a strain, until it broke). A stage's noise still counts: leaving
  // out every stage a little over the baseline would bias it low, and noise would pass for strain.
  const counted = !rose(g, s, g.marginalRate / 2)
  const baseCalls = counted ? r.baseCalls + s.stageCalls : r.baseCalls
  const baseFailures = counted ? r.baseFailures + s.stageFailures : r.baseFailures
  const proven = provenAfter(s, now)
  if (s.ratePpm >= PPM) {
    // At the full share under a ceiling the traffic fitted: back to it once the traffic does not
    // fit any more, and no close while a remembered failure still holds it.
    if (r.ceilingPpm < PPM && pastProven(s, proven, now))
      return newStage(
        s,
        r.ceilingPpm,
        1,
        now,
        rampState(r.ceilingPpm, r.ceilingPpm, 0, r.brokeAt, r.holdUntil, baseCalls, baseFailures, proven),
      )
    return now >= r.probationEnds && !(r.ceilingPpm < PPM && holding(r, now))
      ? 'close'
      : newStage(
          s,
          PPM,
          s.speed,
          now,
          rampState(PPM, r.ceilingPpm, r.probationEnds, r.brokeAt, r.holdUntil, baseCalls, baseFailures, proven),
        )
  }
  // Traffic the upstream has been seen to carry whole is not held back, whatever share a ceiling
  // says; the ceiling stays, for when the traffic grows past that rate again.
  const held = r.ceilingPpm < PPM && withinProven(s, proven, now) ? PPM : r.ceilingPpm
  // A healthy stage at the ceiling lifts it, unless a remembered failure still holds the ramp there.
  const lifted = s.ratePpm >= r.ceilingPpm && !holding(r, now)
  const ceilingPpm = lifted ? PPM : held
  // Past a ceiling just lifted the ramp starts over at speed 1: the share that strained or broke
  // the upstream is near, and the speed the clean stages under it built up would leap past it.
  const pace = lifted ? 1 : s.speed
  const step = s.ratePpm + g.incrementPpm * pace
  // Under a ceiling, close in on it by halves (the share the upstream sustains), trying the
  // ceiling itself once within a quarter step of it.
  const gap = ceilingPpm - s.ratePpm
  const next =
    ceilingPpm >= PPM || step < ceilingPpm ? Math.min(PPM, step) : gap > g.incrementPpm / 4 ? s.ratePpm + Math.ceil(gap / 2) : ceilingPpm
  const speed = lifted ? 1 : clean ? Math.min(g.maxSpeed, s.speed * 2) : s.speed
  // Reaching a remembered ceiling starts the hold there.
  const holdUntil = lifted ? null : r.brokeAt !== null && r.holdUntil === null && next >= ceilingPpm ? now + g.holdMs : r.holdUntil
  return newStage(
    s,
    next,
    speed,
    now,
    rampState(
      s.ratePpm,
      lifted ? PPM : r.ceilingPpm,
      next >= PPM ? now + g.probationMs : 0,
      lifted ? null : r.brokeAt,
      holdUntil,
      baseCalls,
      baseFailures,
      proven,
    ),
  )
}

/**
 * Whether a stage's errors rose with the share: `marginalRate` or more over the baseline of
 * this recovery's healthy stages, two failures at least, and the rise confident (the interval of
 * the stage's rate wholly above the baseline's). The first stage sets the baseline: it cannot strain.
 */
export const strained = (g: Ramp, s: GradualRecoveryState): boolean => rose(g, s, g.marginalRate)

/** Whether a stage's error rate rose `margin` or more over the baseline, confidently, with two failures at least (never the first stage's). */
export const rose = (g: Ramp, s: GradualRecoveryState, margin: number): boolean => {
  const r = s.ramp
  const failures = s.stageFailures
  if (r.baseCalls === 0 || failures < 2) return false
  return (
    failures / s.stageCalls >= r.baseFailures / r.baseCalls + margin &&
    wilsonBound(failures, s.stageCalls, g.z, -1) > wilsonBound(r.baseFailures, r.baseCalls, g.z, 1)
  )
}

/**
 * Whether a stage's outcomes so far make it confident that the error rate is at the threshold or
 * over: three failures of three in the first stage at the defaults (an upstream still down costs
 * three probes). Later stages weigh their few outcomes against `stageCalls` outcomes at the
 * baseline rate, so a short run of the upstream's usual errors (which, at thousands of requests
 * a second, some stage always shows) does not pass for a relapse; a real one still reopens within
 * about two stages' worth of calls.
 */
export const relapsed = (g: Ramp, r: RampState, failures: number, calls: number): boolean =>
  wilsonBound(failures + priorFailures(g, r), calls + priorCalls(g, r), g.z, -1) >= g.failureRateThreshold

/** The outcomes a stage is weighed with: `stageCalls` at the baseline rate once there is a baseline. */
export const priorCalls = (g: Ramp, r: RampState): number => (r.baseCalls === 0 ? 0 : g.stageCalls)
export const priorFailures = (g: Ramp, r: RampState): number => (r.baseCalls === 0 ? 0 : (g.stageCalls * r.baseFailures) / r.baseCalls)

/** A stage's error rate weighed as in {@link relapsed}. */
export const weighedRate = (g: Ramp, r: RampState, failures: number, calls: number): number =>
  (failures + priorFailures(g, r)) / (calls + priorCalls(g, r))

/** Whether a state is at full share under probation (its stages are judged on `probationCalls`). */
export const inProbation = (g: Ramp, s: GradualRecoveryState): boolean => s.ratePpm >= PPM && g.rampMs === undefined && g.probationMs > 0

/** When a stage ends on time: `stageMaxMs`, or a whole probation. */
export const stageLimitMs = (g: Ramp, s: GradualRecoveryState): number =>
  inProbation(g, s) ? Math.max(g.stageMaxMs, g.probationMs) : g.stageMaxMs

/**
 * Whether the first stage (no baseline yet) is over before `stageMs`: `stageCalls` outcomes at
 * least, their error rate confidently under half of `marginalRate` (the interval's upper bound).
 * The time a stage waits is for the load it sends to show; the first sends the least, and where
 * traffic is high an upstream that came back clean shows it within milliseconds.
 */
const cleanFirst = (g: Ramp, s: GradualRecoveryState): boolean =>
  s.ramp.baseCalls === 0 && s.stageCalls >= g.stageCalls && wilsonBound(s.stageFailures, s.stageCalls, g.z, 1) < g.marginalRate / 2

/** Ends the stage if its verdict is in; otherwise returns it unchanged. */
export const settle = (g: Ramp, s: GradualRecoveryState, now: number): RecoveryVerdict<GradualRecoveryState> => {
  const calls = s.stageCalls
  const failures = s.stageFailures
  if (failures >= 2 && relapsed(g, s.ramp, failures, calls)) return 'reopen'
  const elapsed = now - s.stageStartedAt
  if (!(elapsed >= g.stageMs) && !cleanFirst(g, s)) return s
  const minimum = inProbation(g, s) ? Math.max(g.stageCalls, g.probationCalls) : g.stageCalls
  // Enough evidence, or (where traffic is too slow for it) enough time.
  const timeUp = elapsed >= stageLimitMs(g, s)
  if (calls < minimum && !timeUp) return s
  const errorRate = calls === 0 ? 0 : failures / calls
  // A judged stage at the threshold or over reopens (as a classic probe would), its rate weighed
  // against the baseline as in `relapsed`; it is never merely a strain, and a stage that never
  // ended would judge a healed upstream on its sick past.
  if (calls >= minimum && failures >= 2 && weighedRate(g, s.ramp, failures, calls) >= g.failureRateThreshold) return 'reopen'
  if (g.rampMs !== undefined) {
    if (errorRate >= g.failureRateThreshold) return s
    const next = rampPpm(g, s, now)
    return next >= PPM
      ? 'close'
      : newStage(s, next, 1, now, rampState(s.ratePpm, PPM, 0, null, null, s.ramp.baseCalls + calls, s.ramp.baseFailures + failures, null))
  }
  const r = s.ramp
  if (strained(g, s)) {
    // Judged on time with fewer outcomes than a stage's evidence, and confidently at the threshold
    // or over on its own outcomes: a relapse, not a strain. Weighed with `stageCalls` outcomes at
    // the baseline, a few failures would not reopen it, and a strain's step back starts the count
    // again: at a few requests a second the ramp would sit at a share of a collapsed upstream,
    // stepping back stage after stage, for as long as the collapse lasts.
    if (calls < minimum && wilsonBound(failures, calls, g.z, -1) >= g.failureRateThreshold) return 'reopen'
    // Strain: back to the last healthy share, and no higher than this one until it is healthy.
    const back = Math.min(r.goodPpm, s.ratePpm)
    const ramp = rampState(
      back,
      Math.min(r.ceilingPpm, s.ratePpm),
      back >= PPM ? r.probationEnds : 0,
      r.brokeAt,
      r.holdUntil,
      r.baseCalls,
      r.baseFailures,
      r.provenRps,
    )
    return newStage(s, back, 1, now, ramp)
  }
  // A confident "healthy" (the interval's upper bound under the threshold), or at the time
  // limit no worse than the threshold, or past it with the evidence judged (weighed as above, it
  // did not reopen: a stage whose errors hover at the threshold must not hold the share for good);
  // otherwise the stage goes on collecting outcomes.
  const confident = calls >= minimum && wilsonBound(failures, calls, g.z, 1) < g.failureRateThreshold
  if (!confident && !(timeUp && (calls >= minimum || errorRate < g.failureRateThreshold))) return s
  const base = r.baseCalls === 0 ? 0 : r.baseFailures / r.baseCalls
  return stepUp(g, s, failures === 0 || errorRate <= base + g.marginalRate / 2, now)
}

export const start = (g: Ramp, now: number): GradualRecoveryState =>
  gradualState(
    g.initialPpm,
    1,
    PPM - g.initialPpm,
    0,
    now,
    0,
    0,
    0,
    0,
    0,
    now,
    rampState(g.initialPpm, PPM, g.initialPpm >= PPM ? now + g.probationMs : 0, null, null, 0, 0, null),
    now,
  )

/**
 * How soon after the ramp reached the full share a relapse in probation is remembered as a break
 * at the full share (see {@link restart}). An upstream whose capacity lies between the last share
 * under the full one and the full one breaks within a second or two of the full share (the load
 * over the last second passes the capacity: 1 to 2.6 s on a cliff at 97% of 200 requests/s); an
 * upstream that flaps relapses whenever its next fault comes, which in the quality matrix's
 * flapping cells is 9.5 s or more after the full share.
 */
export const PROBATION_BREAK_MS = 5_000

/**
 * The next recovery after `m` failed (the circuit reopened at `failedAt`). A failure above the
 * first share is remembered for `holdMs`: below the full share, or at it within
 * {@link PROBATION_BREAK_MS} of reaching it (a relapse later in probation is taken for a new
 * fault, not the share's doing). The new ramp climbs no higher than the share that was last
 * healthy before it, and holds there for `holdMs` before trying higher. Recoveries that fail at
 * their first share (the upstream still down) pass the memory on.
 */
export const restart = (g: Ramp, m: GradualRecoveryState, now: number, failedAt: number): GradualRecoveryState => {
  const fresh = start(g, now)
  if (g.rampMs !== undefined || g.holdMs === 0) return fresh
  // A break above the first share is the upstream's fragility only if it was healthy below it
  // (its baseline under `marginalRate`): errors that were there all along are not load's doing.
  const healthyBelow = m.ramp.baseCalls > 0 && m.ramp.baseFailures / m.ramp.baseCalls < g.marginalRate
  // At the full share, probation began `probationMs` before it ends.
  const full = m.ratePpm >= PPM
  const brokeAbove =
    m.ratePpm > g.initialPpm && healthyBelow && (!full || failedAt - (m.ramp.probationEnds - g.probationMs) < PROBATION_BREAK_MS)
  const remembered = m.ramp.brokeAt !== null && now - m.ramp.brokeAt < g.holdMs
  if (!brokeAbove && !remembered) return fresh
  // The last healthy share, lowered by half the step that broke the upstream: a short stage can
  // pass before the load it sends has shown (the upstream strains on its recent load, not on
  // this instant's), so the share just under the break is not trusted whole. A healthy stage in
  // probation makes the full share the last healthy one: then the break is taken as a step's.
  const good = full && m.ramp.goodPpm >= PPM ? Math.max(g.initialPpm, PPM - g.incrementPpm) : m.ramp.goodPpm
  const below = good < m.ratePpm ? good - Math.floor((m.ratePpm - good) / 2) : Math.floor(m.ratePpm / 2)
  const ceilingPpm = Math.max(g.initialPpm, brokeAbove ? Math.min(below, m.ramp.ceilingPpm) : m.ramp.ceilingPpm)
  const brokeAt = brokeAbove ? now : (m.ramp.brokeAt ?? now)
  return newStage(
    fresh,
    g.initialPpm,
    1,
    now,
    rampState(g.initialPpm, ceilingPpm, 0, brokeAt, ceilingPpm <= g.initialPpm ? now + g.holdMs : null, 0, 0, m.ramp.provenRps),
  )
}

/**
 * Rejection after a throttled request `s` (credit and request count already updated); `pacedFor`:
 * how long the pacing holds admissions back from `now` (0 if it does not).
 */
export const throttled = (s: GradualRecoveryState, now: number, pacedFor: number): Rejected => {
  const requestsUntilAdmit = Math.ceil((PPM - s.credit) / s.ratePpm)
  const elapsed = now - s.startedAt
  // The mean request interval since recovery began (its first request came at `startedAt`).
  const interval = elapsed > 0 && s.requests > 1 ? elapsed / (s.requests - 1) : null
  return rejected('throttled', interval === null ? null : Math.ceil(Math.max(requestsUntilAdmit * interval, pacedFor)))
}

/**
 * The interval (ms) between admissions that paces a share of `ratePpm` of the mean request rate
 * since recovery began (`s.requests` requests over `now - s.startedAt`), or 0 where nothing is
 * paced: pacing off (`burstMs: 0`), the full share (probation admits every request), or no
 * interval seen yet.
 */
const paceInterval = (g: Ramp, s: GradualRecoveryState, ratePpm: number, now: number): number =>
  g.burstMs === 0 || ratePpm >= PPM || s.requests === 0 || now <= s.startedAt ? 0 : (PPM * (now - s.startedAt)) / (ratePpm * s.requests)

export const request = (g: Ramp, current: GradualRecoveryState, now: number): RecoveryAdmission<GradualRecoveryState> => {
  // A stage whose time is up moves on here too, where outcomes come too slowly to move it (a
  // verdict to close or reopen waits for the next outcome or tick).
  const judged = g.rampMs === undefined && now - current.stageStartedAt >= stageLimitMs(g, current) ? settle(g, current, now) : current
  const before = typeof judged === 'string' ? current : judged
  const ratePpm = rampPpm(g, before, now)
  const credit = before.credit + ratePpm
  // Pacing (GCRA): admissions keep to a schedule at the share of the mean request rate, ahead of
  // it by a `burstMs` window's worth at most, so that a burst of requests is not a burst of load.
  // Where the share brings less than a call per `burstMs` the schedule only spaces admissions
  // `burstMs` apart (the count keeps the share). Its slack: the window less an interval, plus the
  // mean request interval (the count's own unevenness: it admits on whole requests, and evenly
  // spaced requests are never held back).
  const exact = paceInterval(g, before, ratePpm, now)
  const interval = Math.min(g.burstMs, exact)
  const slack = Math.max(0, g.burstMs - exact + (exact * ratePpm) / PPM)
  const pacedFor = interval === 0 ? 0 : before.paceAt - slack - now
  const admit = credit >= PPM && !(pacedFor > 0)
  const s = gradualState(
    ratePpm,
    before.speed,
    // Held back by the pacing, the credit keeps one admission for the next request, no more.
    admit ? credit - PPM : Math.min(credit, PPM - 1),
    admit ? before.inFlight + 1 : before.inFlight,
    before.startedAt,
    before.requests + 1,
    before.stageRequests + 1,
    admit ? before.stageAdmitted + 1 : before.stageAdmitted,
    before.stageCalls,
    before.stageFailures,
    before.stageStartedAt,
    before.ramp,
    admit && interval > 0 ? Math.max(before.paceAt, now) + interval : before.paceAt,
  )
  return admit ? { state: s, admitted: true } : { state: s, admitted: false, rejection: throttled(s, now, Math.max(0, pacedFor)) }
}

/** The state moved by `deltaMs` (the caller's clock jumped back). */
export const rebase = (s: GradualRecoveryState, deltaMs: number): GradualRecoveryState =>
  gradualState(
    s.ratePpm,
    s.speed,
    s.credit,
    s.inFlight,
    s.startedAt + deltaMs,
    s.requests,
    s.stageRequests,
    s.stageAdmitted,
    s.stageCalls,
    s.stageFailures,
    s.stageStartedAt + deltaMs,
    rampState(
      s.ramp.goodPpm,
      s.ramp.ceilingPpm,
      s.ratePpm >= PPM ? s.ramp.probationEnds + deltaMs : s.ramp.probationEnds,
      s.ramp.brokeAt === null ? null : s.ramp.brokeAt + deltaMs,
      s.ramp.holdUntil === null ? null : s.ramp.holdUntil + deltaMs,
      s.ramp.baseCalls,
      s.ramp.baseFailures,
      s.ramp.provenRps,
    ),
    s.paceAt + deltaMs,
  )

/** What the recovery reports. */
export const measure = (g: Ramp, s: GradualRecoveryState, inFlight: number): GradualRecoverySnapshot => ({
  kind: 'gradual',
  admitRate: s.ratePpm / PPM,
  fleetRate: s.ratePpm / PPM,
  speed: s.speed,
  lastGoodRate: s.ramp.goodPpm / PPM,
  ceiling: s.ramp.ceilingPpm >= PPM ? null : s.ramp.ceilingPpm / PPM,
  holdUntil: s.ramp.brokeAt === null ? null : s.ramp.holdUntil,
  probationEnds: s.ratePpm >= PPM && g.rampMs === undefined ? s.ramp.probationEnds : null,
  inFlight,
  stage: {
    requests: s.stageRequests,
    admitted: s.stageAdmitted,
    calls: s.stageCalls,
    failures: s.stageFailures,
    startedAt: s.stageStartedAt,
  },
})

/** Decodes a state and checks it against the settings (a decoded state goes straight into the reducer). */
export const validate = (g: Ramp, u: unknown, c: t.Context): t.Validation<GradualRecoveryState> => {
  const r = GradualRecoveryStateCodec.validate(u, c)
  if (r._tag === 'Left') return r
  const s = r.right
  if (s.ratePpm > PPM || s.ramp.goodPpm > PPM || s.ramp.ceilingPpm > PPM) {
    return t.failure(u, c, `expected ratePpm, goodPpm and ceilingPpm at most ${PPM}`)
  }
  if (s.credit >= PPM) return t.failure(u, c, `expected credit below ${PPM}`)
  if (s.ramp.provenRps !== undefined && s.ramp.provenRps !== null && s.ramp.provenRps < 0)
    return t.failure(u, c, 'expected provenRps (calls a second carried healthy) not negative')
  if (s.speed > g.maxSpeed) return t.failure(u, c, `expected speed at most ${g.maxSpeed}`)
  if (
    s.stageAdmitted > s.stageRequests ||
    s.stageFailures > s.stageCalls ||
    s.stageRequests > s.requests ||
    s.startedAt > s.stageStartedAt
  ) {
    return t.failure(
      u,
      c,
      'expected consistent counts (stage admitted <= stage requests <= requests, failures <= calls, started before the stage)',
    )
  }
  if (s.ratePpm >= PPM && g.rampMs === undefined && s.ramp.probationEnds > s.stageStartedAt + g.probationMs) {
    return t.failure(u, c, `expected probationEnds at most probationMs (${g.probationMs}) after the stage began`)
  }
  if (s.ramp.holdUntil !== null && (s.ramp.brokeAt === null || s.ramp.holdUntil > s.stageStartedAt + g.holdMs)) {
    return t.failure(u, c, `expected holdUntil only under a remembered ceiling, at most holdMs (${g.holdMs}) after the stage began`)
  }
  // A state written before pacing has no schedule: it starts where recovery began.
  return t.success(copyOf((s.paceAt === undefined ? { ...s, paceAt: s.startedAt } : s) as GradualRecoveryState))
}
