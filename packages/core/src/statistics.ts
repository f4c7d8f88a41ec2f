/** The statistics the recoveries judge stages by: a normal quantile and the Wilson score interval. */

/**
 * The standard normal quantile: `z` with `P(Z <= z) = p` (Acklam's rational approximation,
 * relative error below 1.2e-9), for `p` in (0, 1).
 */
export const normalQuantile = (p: number): number => {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239]
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572]
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783]
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416]
  const [a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0] = a
  const [b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0] = b
  const [c0 = 0, c1 = 0, c2 = 0, c3 = 0, c4 = 0, c5 = 0] = c
  const [d0 = 0, d1 = 0, d2 = 0, d3 = 0] = d
  const tail = (q: number): number =>
    (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1)
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)))
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)))
  const q = p - 0.5
  const r = q * q
  return ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) / (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1)
}

/**
 * The Wilson score interval's bound for `failures` of `calls` at normal quantile `z`: the lower
 * bound with `sign` -1, the upper with +1 (0 and 1 with no calls). It stays inside [0, 1] and is
 * sound for small counts, where the normal approximation is not.
 */
export const wilsonBound = (failures: number, calls: number, z: number, sign: 1 | -1): number => {
  if (calls === 0) return sign < 0 ? 0 : 1
  const p = failures / calls
  const z2 = z * z
  const centre = p + z2 / (2 * calls)
  const spread = z * Math.sqrt((p * (1 - p)) / calls + z2 / (4 * calls * calls))
  return Math.min(1, Math.max(0, (centre + sign * spread) / (1 + z2 / calls)))
}
