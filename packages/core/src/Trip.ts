/** The config format of failure detection, and the detector it builds. */
import * as t from 'io-ts'
import { anyOf } from './AnyOf.js'
import { ConsecutiveFailuresConfig, consecutiveFailures } from './ConsecutiveFailures.js'
import { arrayOf, literal, struct, tagged } from './codecs.js'
import type { Detector, TripConfig as TripConfigType } from './Detector.js'
import { FailureCountConfig, failureCount } from './FailureCount.js'
import { FailureRateConfig, failureRate } from './FailureRate.js'
import { SlowCallRateConfig, slowCallRate } from './SlowCallRate.js'

/** Config codec of any detector, `any-of` included (recursively). */
export const TripConfig: t.Type<TripConfigType, TripConfigType, unknown> = t.recursion('a detector', () =>
  tagged('a detector', {
    'consecutive-failures': ConsecutiveFailuresConfig,
    'failure-count': FailureCountConfig,
    'failure-rate': FailureRateConfig,
    'slow-call-rate': SlowCallRateConfig,
    'any-of': struct('an any-of detector', {
      kind: literal('any-of'),
      detectors: nonEmpty(arrayOf(TripConfig, 'a non-empty array of detectors')),
    }),
  }),
)

function nonEmpty<A, O>(codec: t.Type<ReadonlyArray<A>, ReadonlyArray<O>, unknown>): t.Type<ReadonlyArray<A>, ReadonlyArray<O>, unknown> {
  return new t.Type(
    codec.name,
    (u): u is ReadonlyArray<A> => codec.is(u) && u.length > 0,
    (u, c) => (Array.isArray(u) && u.length === 0 ? t.failure(u, c) : codec.validate(u, c)),
    codec.encode,
  )
}

/** Builds the detector a (decoded) config describes. */
export const detectorFromConfig = (config: TripConfigType): Detector => {
  switch (config.kind) {
    case 'consecutive-failures':
      return consecutiveFailures(config) as Detector
    case 'failure-count':
      return failureCount(config) as Detector
    case 'failure-rate':
      return failureRate(config) as Detector
    case 'slow-call-rate':
      return slowCallRate(config) as Detector
    case 'any-of':
      return anyOf(config.detectors.map(detectorFromConfig)) as Detector
  }
}
