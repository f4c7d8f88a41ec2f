/**
 * A progress line for the CLI's long commands (`quality`, `tune`, `train`, `evaluate`, `fleet`):
 * how far, for how long, and about how long is left, on stderr, rewritten in place. Shown only on
 * a terminal, never under CI, and only once the work has run 2 s (quick work stays silent);
 * stdout, where the results go, is never touched.
 */
import { currentIo } from './common.js'

/** Where the line goes: stderr, or a fake in tests. */
export interface ProgressOut {
  readonly isTTY?: boolean
  write(text: string): unknown
}

/** Reports `done` of `total` units; `end` closes the line (if one was written). */
export interface Progress {
  update(done: number, total: number): void
  end(): void
}

const SHOW_AFTER_MS = 2_000
const EVERY_MS = 200

const seconds = (ms: number): string => (Number.isFinite(ms) ? `${Math.round(ms / 1000)} s` : '?')

/**
 * A progress line labelled `label`. `out`, `env` and `now` are the run's stderr and environment
 * (see `main`) and the monotonic clock unless a test gives its own.

 */
export const progressLine = (
  label: string,
  out: ProgressOut = currentIo().stderr,
  env: Readonly<Record<string, string | undefined>> = currentIo().env,
  now: () => number = () => performance.now(),
): Progress => {
  const ci = env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0'
  const shown = out.isTTY === true && !ci
  const started = now()
  let last = Number.NEGATIVE_INFINITY
  let wrote = false
  return {
    update: (done, total) => {
      if (!shown) return
      const at = now()
      const elapsed = at - started
      if (elapsed < SHOW_AFTER_MS || (at - last < EVERY_MS && done < total)) return
      last = at
      wrote = true
      const left = done > 0 ? (elapsed / done) * (total - done) : Number.NaN
      out.write(`\r${label}: ${done}/${total}, ${seconds(elapsed)} so far, about ${seconds(left)} left   `)
    },
    end: () => {
      if (wrote) out.write('\n')
    },
  }
}
