import { AppError } from "../errors/app-error.ts";
import type { Queryable } from "./queryable.ts";

/** OpenAI's list parameters: `after` and `before` are object ids, `order` is by creation time. */
export interface ListParams {
  limit: number;
  order: "asc" | "desc";
  after?: string;
  before?: string;
}

export interface ListPage<T> {
  rows: T[];
  hasMore: boolean;
}

/**
 * One page of an OpenAI-style list over `from` restricted by `where` (`$1…$n` are `params`),
 * ordered by (`createdAt`, `id`) in `order`. `after` continues the list past that object;
 * `before` gives the page that precedes it, in list order. A cursor that names no object of the
 * list is a 400 (it was deleted, or it belongs to another list). `narrow` (no parameters of its
 * own) filters the page but not the cursor: an object that left a status filter since it was
 * listed still marks where the next page starts.
 */
export async function openAiPage<T>(
  q: Queryable,
  query: { columns: string; from: string; where: string; params: unknown[]; createdAt: string; id: string; narrow?: string },
  /**
   * Where a cursor's object is looked up: the list's scope without what hides an object (status,
   * expiry), and the tombstone scope of objects deleted since (see `tombstone`).
   */
  cursorScope: { from: string; where: string; params: unknown[]; tombstones: string },
  list: ListParams,
): Promise<ListPage<T>> {
  const cursorId = list.after ?? list.before;
  const n = query.params.length;
  let cursor: string | undefined;
  if (cursorId !== undefined) {
    const k = cursorScope.params.length;
    const { rows } = await q.query<{ ts: string }>(
      `SELECT ${query.createdAt}::text AS ts FROM ${cursorScope.from} WHERE ${cursorScope.where} AND ${query.id} = $${k + 1}
       UNION ALL SELECT created_at::text FROM list_tombstones WHERE scope = $${k + 2} AND id = $${k + 1}
       LIMIT 1`,
      [...cursorScope.params, cursorId, cursorScope.tombstones],
    );
    if (!rows[0]) {
      const param = list.after !== undefined ? "after" : "before";
      throw new AppError("INVALID_CURSOR", `${param}: no object with id '${cursorId}' in this list`, { httpStatus: 400, details: [{ field: param, message: "unknown id" }] });
    }
    cursor = rows[0].ts;
  }
  // `before` walks the other way from the cursor; the rows are put back in list order below.
  const ascending = (list.order === "asc") !== (list.before !== undefined && list.after === undefined);
  const direction = ascending ? "ASC" : "DESC";
  const comparison = ascending ? ">" : "<";
  const keyset = cursor === undefined ? "" : ` AND (${query.createdAt}, ${query.id}) ${comparison} ($${n + 1}::timestamptz, $${n + 2})`;
  const { rows } = await q.query<Record<string, unknown>>(
    `SELECT ${query.columns} FROM ${query.from} WHERE ${query.where}${query.narrow ? ` AND ${query.narrow}` : ""}${keyset}
     ORDER BY ${query.createdAt} ${direction}, ${query.id} ${direction} LIMIT ${list.limit + 1}`,
    cursor === undefined ? query.params : [...query.params, cursor, cursorId],
  );
  const hasMore = rows.length > list.limit;
  const page = rows.slice(0, list.limit) as T[];
  if (list.before !== undefined && list.after === undefined) page.reverse();
  return { rows: page, hasMore };
}

/** Remembers where a deleted object stood in the list `scope`, so a cursor naming it still pages on. */
export async function tombstone(q: Queryable, scope: string, objects: ReadonlyArray<{ id: string; created_at: Date }>): Promise<void> {
  if (objects.length === 0) return;
  await q.query(
    `INSERT INTO list_tombstones (scope, id, created_at) SELECT $1, unnest($2::text[]), unnest($3::timestamptz[])
     ON CONFLICT (scope, id) DO UPDATE SET created_at = EXCLUDED.created_at, deleted_at = now()`,
    [scope, objects.map((o) => o.id), objects.map((o) => o.created_at)],
  );
}

/** Forgets tombstones older than a day. */
export async function pruneTombstones(q: Queryable): Promise<void> {
  await q.query(`DELETE FROM list_tombstones WHERE deleted_at < now() - interval '1 day'`);
}

/** The tombstone scopes of the three lists. */
export const listScope = {
  files: (tenantId: string) => `files:${tenantId}`,
  vectorStores: (tenantId: string) => `vector_stores:${tenantId}`,
  vectorStoreFiles: (collectionId: string) => `vector_store_files:${collectionId}`,
};
