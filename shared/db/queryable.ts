import type pg from "pg";

/** What a repository needs of a connection: the pool, or one transaction's client. */
export type Queryable = Pick<pg.Pool, "query">;
