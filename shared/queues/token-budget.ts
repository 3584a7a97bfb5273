import type { Redis } from "ioredis";

// Reserve `tokens` in the current minute's window unless that would exceed `limit`
// (a first reservation in an empty window always passes, however large).
const RESERVE = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local tokens = tonumber(ARGV[1])
if used > 0 and used + tokens > tonumber(ARGV[2]) then
  return redis.call('PTTL', KEYS[1])
end
redis.call('INCRBY', KEYS[1], tokens)
redis.call('PEXPIRE', KEYS[1], 60000, 'NX')
return 0`;

/**
 * A tokens-per-minute budget shared by every worker through Redis: the embedding provider's TPM
 * limit, not Redis or the vector store, is what caps ingestion in production. Returns 0 when the
 * tokens were reserved, else the milliseconds until the window resets.
 */
export async function reserveTokens(redis: Redis, prefix: string, tokens: number, limitPerMinute: number): Promise<number> {
  if (limitPerMinute <= 0) return 0;
  const key = `${prefix}:embed-tpm`;
  const wait = Number(await redis.eval(RESERVE, 1, key, tokens, limitPerMinute));
  return wait > 0 ? wait : wait === -1 ? 1000 : 0;
}
