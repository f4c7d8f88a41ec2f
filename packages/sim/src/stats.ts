/** Small statistics the reports share. */

/** The median of `xs` (the mean of the middle two for an even count); 0 for none. */
export const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return 0
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}
