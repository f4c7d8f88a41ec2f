/** A seeded pseudo-random generator (mulberry32): same seed, same sequence, on every machine. */
export type Random = () => number

/**
 * @example
 * import { seeded } from '@datapunk/breaker-sim'
 * const a = seeded(42)
 * const b = seeded(42)
 * a() === b() // true
 */
export const seeded = (seed: number): Random => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A standard normal draw (Box-Muller) from two uniform draws. */
export const normal = (random: Random): number => {
  const u = Math.max(random(), 1e-12)
  const v = random()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}
