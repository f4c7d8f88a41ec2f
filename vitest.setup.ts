import fc from 'fast-check'

// A failing property is shrunk to a small counterexample; bound that search so a failure is
// reported in minutes, never left running (PROPERTY_NO_SHRINK=1 reports the first failure as is).
fc.configureGlobal({
  endOnFailure: process.env.PROPERTY_NO_SHRINK === '1',
  interruptAfterTimeLimit: 240_000,
  markInterruptAsFailure: true,
})
