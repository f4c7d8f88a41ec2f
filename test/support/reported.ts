import { vi } from 'vitest'

/**
 * The errors the runtime reports while `act` runs: it throws a subscriber's or a counter's error
 * from a fresh timer (`setTimeout`), which would fail the test run; here each timer runs at once
 * and what it throws is collected instead. `act` may be async.
 */
export const reportedDuring = async (act: () => unknown): Promise<unknown[]> => {
  const reported: unknown[] = []
  const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void) => {
    try {
      fn()
    } catch (error) {
      reported.push(error)
    }
    return 0 as never
  }) as never)
  try {
    await act()
  } finally {
    spy.mockRestore()
  }
  return reported
}
