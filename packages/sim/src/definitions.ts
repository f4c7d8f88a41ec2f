/**
 * What each metric of a run report means: one text for the terminal report and the HTML reports
 * (the quality matrix has its own, in quality/render.ts).
 */
export const RUN_DEFINITIONS: ReadonlyArray<readonly [term: string, definition: string]> = [
  ['success', 'share of all requests answered successfully'],
  ['wasted', 'calls let into a failing upstream'],
  ['needless', 'rejected requests that would have succeeded (the upstream as it was then)'],
  ['detect', 'incident to first trip'],
  ['lead', "how long before the upstream's failure rate first reached 50% load was first shed (negative: after)"],
  ['back to full', 'recovery to admitting every request again'],
  ['opens', 'times the circuit opened (trips)'],
  ['oscillations', 'closes followed by another trip'],
  ['collapses', 'a fragile upstream brought down again by the traffic let through'],
  ['peak rps after recovery', 'the most calls the upstream got in any one second after its recovery began'],
]

/** The columns of a run's summary table (terminal and HTML), each a term defined above. */
export const RUN_COLUMNS = [
  'success',
  'wasted',
  'needless',
  'detect',
  'back to full',
  'opens',
  'oscillations',
  'collapses',
  'peak rps after recovery',
] as const

/** The definitions of `terms`, as `term: definition` joined by `; ` in lines of at most `width` characters. */
export const definitionLines = (terms: ReadonlyArray<string>, width = 110): string[] => {
  const lines: string[] = []
  let line = ''
  const chosen = RUN_DEFINITIONS.filter(([term]) => terms.includes(term))
  chosen.forEach(([term, text], i) => {
    const piece = `${term}: ${text}${i === chosen.length - 1 ? '.' : ';'}`
    if (line !== '' && line.length + 1 + piece.length > width) {
      lines.push(line)
      line = piece
    } else line = line === '' ? piece : `${line} ${piece}`
  })
  if (line !== '') lines.push(line)
  return lines
}
