/** The messages of the process warnings emitted while `act` runs and on the next turn of the event loop (Node emits them then). */
export const warningsDuring = async (act: () => void): Promise<string[]> => {
  const warnings: string[] = []
  const onWarning = (w: Error) => warnings.push(w.message)
  process.on('warning', onWarning)
  try {
    act()
    await new Promise((r) => setImmediate(r))
  } finally {
    process.off('warning', onWarning)
  }
  return warnings
}
