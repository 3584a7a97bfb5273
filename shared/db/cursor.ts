import { validationError } from "../errors/app-error.ts";
import type { Queryable } from "./queryable.ts";

/** Keyset pagination over (created_at DESC, id DESC): the cursor is opaque to clients. */
export interface Cursor {
  createdAt: string;
  id: string;
}

export function encodeCursor(row: { created_at: Date; id: string }): string {
  return Buffer.from(`${row.created_at.toISOString()}|${row.id}`).toString("base64url");
}

/** Exactly what `encodeCursor` writes: an ISO timestamp of a four-digit year, and a UUID. */
const CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export function decodeCursor(cursor: string | undefined): Cursor | undefined {
  if (!cursor) return undefined;
  const match = CURSOR.exec(Buffer.from(cursor, "base64url").toString());
  const createdAt = match?.[1];
  const id = match?.[2];
  // Year 0 parses but Postgres has no year 0; anything else is not a cursor this API wrote.
  if (!createdAt || !id || Number.isNaN(Date.parse(createdAt)) || createdAt.startsWith("0000")) {
    throw validationError("cursor is not one this API returned");
  }
  return { createdAt, id };
}

/**
 * One page of `select … WHERE where`, newest first by (created_at, id), after `cursor`. `params`
 * are the where clause's `$1…$n`; `alias` prefixes the key columns when the select joins tables.
 */
export async function keysetPage<T extends { created_at: Date; id: string }>(
  q: Queryable,
  query: { select: string; where: string; params: unknown[]; alias?: string },
  limit: number,
  cursor: string | undefined,
): Promise<{ rows: T[]; nextCursor: string | null }> {
  const after = decodeCursor(cursor);
  const n = query.params.length;
  const [createdAt, id] = ["created_at", "id"].map((c) => (query.alias ? `${query.alias}.${c}` : c));
  const { rows } = await q.query<T>(
    `${query.select} WHERE ${query.where}
       AND ($${n + 1}::timestamptz IS NULL OR (${createdAt}, ${id}) < ($${n + 1}::timestamptz, $${n + 2}::uuid))
     ORDER BY ${createdAt} DESC, ${id} DESC LIMIT $${n + 3}`,
    [...query.params, after?.createdAt ?? null, after?.id ?? null, limit + 1],
  );
  return page(rows, limit);
}

/** Given `limit + 1` rows, returns the page and the cursor of the next one. */
export function page<T extends { created_at: Date; id: string }>(rows: T[], limit: number): { rows: T[]; nextCursor: string | null } {
  if (rows.length <= limit) return { rows, nextCursor: null };
  const pageRows = rows.slice(0, limit);
  return { rows: pageRows, nextCursor: encodeCursor(pageRows[pageRows.length - 1]!) };
}
