/**
 * The messages of the process warnings emitted while `act` runs and on the next turn of the event
 * loop (Node emits them then). They are the test's to read: Node's own printer (and any other
 * listener) is set aside meanwhile, so an expected warning does not clutter the test output.
 */
export const warningsDuring = async (act: () => void): Promise<string[]> => {
  const warnings: string[] = []
  const onWarning = (w: Error) => warnings.push(w.message)
  const others = process.listeners('warning')
  process.removeAllListeners('warning')
  process.on('warning', onWarning)
  try {
    act()
    await new Promise((r) => setImmediate(r))
  } finally {
    process.off('warning', onWarning)
    for (const listener of others) process.on('warning', listener)
  }
  return warnings
}
