import { randomUUID } from "node:crypto";
import type { Queryable } from "./queryable.ts";

export interface IdempotencyRow {
  fingerprint: string;
  state: "in_flight" | "done";
  status_code: number | null;
  location: string | null;
  body: unknown;
}

/** How long a key and its answer are kept. */
const KEEP = "24 hours";
/** How long a first request may take before its claim counts as abandoned (its process died): longer than any request runs. */
const LEASE = "10 minutes";

/** The answers to requests sent with an Idempotency-Key (see api/middleware/idempotency.ts). */
export class IdempotencyRepository {
  private readonly q: Queryable;
  constructor(q: Queryable) {
    this.q = q;
  }

  /**
   * Claims the key for a first request: its claim token when this request is to be answered (the
   * key is new, expired, or an abandoned claim for the same body); undefined when another answer
   * or claim holds it. Only the token's holder may keep an answer or let the key go.
   */
  async claim(tenantId: string, key: string, fingerprint: string): Promise<string | undefined> {
    const token = randomUUID();
    const { rowCount } = await this.q.query(
      `INSERT INTO idempotency_keys (tenant_id, key, fingerprint, state, claim_token, locked_until, expires_at)
       VALUES ($1, $2, $3, 'in_flight', $4, now() + interval '${LEASE}', now() + interval '${KEEP}')
       ON CONFLICT (tenant_id, key) DO UPDATE
         SET fingerprint = EXCLUDED.fingerprint, state = 'in_flight', claim_token = EXCLUDED.claim_token, status_code = NULL, location = NULL, body = NULL,
             locked_until = EXCLUDED.locked_until, created_at = now(), expires_at = EXCLUDED.expires_at
       WHERE idempotency_keys.expires_at < now()
          OR (idempotency_keys.state = 'in_flight' AND idempotency_keys.locked_until < now() AND idempotency_keys.fingerprint = EXCLUDED.fingerprint)`,
      [tenantId, key, fingerprint, token],
    );
    return rowCount === 1 ? token : undefined;
  }

  async find(tenantId: string, key: string): Promise<IdempotencyRow | undefined> {
    const { rows } = await this.q.query<IdempotencyRow>(
      `SELECT fingerprint, state, status_code, location, body FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND expires_at >= now()`,
      [tenantId, key],
    );
    return rows[0];
  }

  /** Keeps the first answer. */
  async complete(tenantId: string, key: string, token: string, answer: { status: number; location: string | null; body: unknown }): Promise<void> {
    await this.q.query(
      `UPDATE idempotency_keys SET state = 'done', status_code = $4, location = $5, body = $6, locked_until = NULL
        WHERE tenant_id = $1 AND key = $2 AND claim_token = $3 AND state = 'in_flight'`,
      [tenantId, key, token, answer.status, answer.location, JSON.stringify(answer.body ?? null)],
    );
  }

  /** Lets the key go (the first answer was one worth trying again: a 5xx, a 429). */
  async release(tenantId: string, key: string, token: string): Promise<void> {
    await this.q.query(`DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND claim_token = $3 AND state = 'in_flight'`, [tenantId, key, token]);
  }

  /** Deletes expired keys, a batch at a time. */
  async prune(limit = 5_000): Promise<number> {
    const { rowCount } = await this.q.query(
      `DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE expires_at < now() LIMIT $1)`,
      [limit],
    );
    return rowCount ?? 0;
  }
}
