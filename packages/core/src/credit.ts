/**
 * Shares of traffic are kept in millionths, so admission by credit is exact integer arithmetic:
 * each request adds the share (`ratePpm`) to a credit, and a request is admitted when the credit
 * reaches `PPM`, which the admission spends. Gradual recovery, a circuit following its fleet's
 * recovery and the adaptive throttle admit this way.
 */
export const PPM = 1_000_000
