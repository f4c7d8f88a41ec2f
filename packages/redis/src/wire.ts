/**
 * What fleet mode writes to Redis and reads back: the key layout, the lease scripts, and parsers
 * that turn anything else (foreign, corrupt, of another type) into `undefined`.
 */
import type { PeerStatus, Tally } from '@datapunk/breaker'

/**
 * Take or renew the lease of a recovery. KEYS: lead, share, replicas. ARGV: replica, lease ms,
 * share. Replies `{1, share, foreign}` when this replica holds it, else `{0, the holder's share, 0}`.
 * A holder with no expiry, a longer one than a lease, or no status in the fleet is foreign (not
 * written by fleet mode): taken over, and `foreign` says so.
 */
export const TAKE = `local holder = redis.call('GET', KEYS[1])
local foreign = 0
if holder ~= false and holder ~= ARGV[1] then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 or ttl > tonumber(ARGV[2]) or redis.call('HEXISTS', KEYS[3], holder) == 0 then
    foreign = 1
    holder = false
  end
end
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
  return {1, ARGV[3], foreign}
end
return {0, redis.call('GET', KEYS[2]) or '0', 0}`

/**
 * Learn who holds the lease, without taking it (a replica with no recent traffic). KEYS and ARGV
 * as {@link TAKE}. Replies `{1, share, 0}` (this replica), `{0, share, 0}` (another), `{2, '0', foreign}`
 * (nobody, or a foreign holder, left alone).
 */
export const WATCH = `local holder = redis.call('GET', KEYS[1])
if holder == false then return {2, '0', 0} end
if holder == ARGV[1] then return {1, redis.call('GET', KEYS[2]) or '0', 0} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 or ttl > tonumber(ARGV[2]) or redis.call('HEXISTS', KEYS[3], holder) == 0 then return {2, '0', 1} end
return {0, redis.call('GET', KEYS[2]) or '0', 0}`

/** Give the lease back, if it is still ours. */
export const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1], KEYS[2]) end
return 0`

/** A short stable name for a detector key (FNV-1a, 32 bits, hex). */
export const shortHash = (text: string): string => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0).toString(16).padStart(8, '0')
}

const COUNTS = /^(\d{1,15}),(\d{1,15}),(\d{1,15})$/

/** Parses `"calls,failures,slow"`; `undefined` for anything else. */
export const parseCounts = (value: unknown): readonly [number, number, number] | undefined => {
  if (typeof value !== 'string') return undefined
  const m = COUNTS.exec(value)
  if (m === null) return undefined
  const calls = Number(m[1])
  const failures = Number(m[2])
  const slow = Number(m[3])
  return failures <= calls && slow <= calls ? [calls, failures, slow] : undefined
}

/** A share as Redis holds it: a number in [0, 1], or `undefined`. */
export const parseShare = (value: unknown): number | undefined => {
  const n = typeof value === 'string' && /^(0|1|0?\.\d{1,9}|1\.0+)$/.test(value) ? Number(value) : Number.NaN
  return n >= 0 && n <= 1 ? n : undefined
}

/** A replica's status as written: `"active,fleetOpened,at"` (flags 0 or 1, `at` in whole ms). */
export const formatStatus = (s: PeerStatus): string => `${s.active ? 1 : 0},${s.fleetOpened ? 1 : 0},${Math.round(s.at)}`

const STATUS = /^([01]),([01]),(\d{1,16})$/

/** Parses a status; `undefined` for anything else. */
export const parseStatus = (value: unknown): PeerStatus | undefined => {
  if (typeof value !== 'string') return undefined
  const m = STATUS.exec(value)
  return m === null ? undefined : { active: m[1] === '1', fleetOpened: m[2] === '1', at: Number(m[3]) }
}

/** True for a trip's counts as a message carries them: safe-integer counts, no more failed or slow calls than calls. */
export const isTally = (value: unknown): value is Tally => {
  if (typeof value !== 'object' || value === null) return false
  const { calls, failures, slow } = value as Record<string, unknown>
  const count = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
  return count(calls) && count(failures) && count(slow) && failures <= calls && slow <= calls
}

/** A lease script's reply, or `undefined` if it is not one. */
export const parseLease = (
  reply: unknown,
): { readonly code: 0 | 1 | 2; readonly share: unknown; readonly foreign: boolean } | undefined => {
  if (!Array.isArray(reply) || reply.length !== 3) return undefined
  const [code, share, foreign] = reply as ReadonlyArray<unknown>
  return code === 0 || code === 1 || code === 2 ? { code, share, foreign: foreign === 1 } : undefined
}
